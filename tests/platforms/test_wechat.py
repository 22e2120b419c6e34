"""The WeChat client against the sandbox over loopback HTTP, on a real Redis."""

from __future__ import annotations

import io
import socket
import threading
import time
from collections.abc import Callable

import httpx
import pytest
import redis

from worker.config import QuotaConfig, WechatTarget
from worker.errors import (
    ActionDisabledError,
    AuthError,
    BatchTooLargeError,
    MalformedAnswerError,
    PermanentError,
    PlatformError,
    QuotaError,
    RateLimitedError,
    TargetGoneError,
    TransientError,
)
from worker.platforms import ActionResult, WechatClient, make_client
from worker.platforms.http import next_minute
from worker.platforms.quota import next_local_midnight
from worker.platforms.wechat import MAX_PAGE_SIZE
from worker.sandbox import Sandbox

from .conftest import (
    APP_ID,
    APP_SECRET,
    FOLLOWERS,
    FOREIGN,
    MSG,
    TARGET,
    UNKNOWN,
    add_comments,
    events,
    wechat_account,
)

# --- listing ----------------------------------------------------------------------------


def test_list_parses_and_pages(sb: Sandbox, wechat: WechatClient) -> None:
    first = sb.add_wechat_comment(APP_ID, MSG, 1, content="有回复", openid=FOLLOWERS[0],
                                  create_time=1_700_000_000, reply="谢谢")
    second = sb.add_wechat_comment(APP_ID, MSG, 1, content="没有 openid",
                                   create_time=1_700_000_001)
    third = sb.add_wechat_comment(APP_ID, MSG, 1, content="精选", openid=FOLLOWERS[1],
                                  create_time=1_700_000_002, elected=True)
    page = wechat.list_comments(TARGET, count=2)
    assert (page.total, page.begin, page.next_begin, page.has_more) == (3, 0, 2, True)
    comments = [c for p in wechat.iter_comment_pages(TARGET, count=2) for c in p.comments]
    by_id = {c.id: c for c in comments}
    assert set(by_id) == {str(first), str(second), str(third)}
    one, two, three = by_id[str(first)], by_id[str(second)], by_id[str(third)]
    assert (one.author, one.replied, one.elected, one.created_at) == (
        FOLLOWERS[0], True, False, 1_700_000_000.0,
    )
    assert (two.author, two.replied) == (None, False)
    assert three.elected is True
    assert {c.target for c in comments} == {TARGET}
    assert {c.platform for c in comments} == {"wechat"}
    assert {c.account for c in comments} == {"main-oa"}
    body = sb.calls("comment/list")[0].body
    assert body == {"msg_data_id": MSG, "index": 1, "begin": 0, "count": 2, "type": 0}


def test_list_defaults_to_49_and_always_sends_index(sb: Sandbox, wechat: WechatClient) -> None:
    sb.add_article(APP_ID, msg_data_id=MSG, index=0)
    wechat.list_comments(WechatTarget(msg_data_id=MSG, index=0))
    assert sb.calls("comment/list")[-1].body == {
        "msg_data_id": MSG, "index": 0, "begin": 0, "count": 49, "type": 0,
    }


def test_list_count_is_clamped_to_the_documented_maximum(
    sb: Sandbox, wechat: WechatClient, redis_client: redis.Redis
) -> None:
    # ">= 50 is refused" (the Chinese doc; the sandbox's default): config allows 50.
    add_comments(sb, 2)
    assert MAX_PAGE_SIZE == 49
    assert wechat.list_comments(TARGET, count=50).total == 2
    with WechatClient(account=wechat_account(sb), redis=redis_client, quota=QuotaConfig(),
                      key_prefix="t", page_size=50) as configured_50:
        assert configured_50.page_size == 49
        assert [c for p in configured_50.iter_comment_pages(TARGET) for c in p.comments]
    assert [r.body["count"] for r in sb.calls("comment/list")] == [49, 49]
    assert {r.errcode for r in sb.calls("comment/list")} == {0}
    with pytest.raises(ValueError):
        wechat.list_comments(TARGET, count=0)
    assert len(sb.calls("comment/list")) == 2


def test_count_refused_within_the_maximum_is_a_client_bug_naming_the_count(
    redis_client: redis.Redis,
) -> None:
    with Sandbox(seed=3, list_count_max=20) as strict:
        strict.add_wechat_app(app_id=APP_ID, app_secret=APP_SECRET)
        strict.add_article(APP_ID, msg_data_id=MSG, index=1)
        client = WechatClient(account=wechat_account(strict), redis=redis_client,
                              quota=QuotaConfig(), key_prefix="t")
        with client, pytest.raises(PermanentError) as info:
            client.list_comments(TARGET, count=30)
    err = info.value
    assert (err.code, err.endpoint, err.account) == (88010, "comment/list", "main-oa")
    assert "client bug" in str(err) and "count=30" in str(err)
    assert "MAX_PAGE_SIZE=49" in str(err)


# --- actions ----------------------------------------------------------------------------


def test_every_action_reaches_the_platform(sb: Sandbox, wechat: WechatClient) -> None:
    a, b = add_comments(sb, 2, openid=FOLLOWERS[0])
    ok = ActionResult()
    assert wechat.close_comments(TARGET) == ok
    assert sb.article_state(APP_ID, MSG, 1)["comments_open"] is False
    assert wechat.open_comments(WechatTarget(msg_data_id=MSG, index=1)) == ok
    assert sb.article_state(APP_ID, MSG, 1)["comments_open"] is True
    assert wechat.elect(TARGET, a) == ok
    assert sb.wechat_comment(APP_ID, MSG, 1, a)["elected"] is True
    assert wechat.unelect(TARGET, str(a)) == ok
    assert sb.wechat_comment(APP_ID, MSG, 1, a)["elected"] is False
    text = "谢谢你的留言 🙏 \"quoted\""
    assert wechat.reply(TARGET, a, text) == ok  # raw UTF-8 (escapes would be 40033)
    assert sb.wechat_comment(APP_ID, MSG, 1, a)["reply"]["content"] == text
    assert wechat.delete_reply(TARGET, a) == ok
    assert sb.wechat_comment(APP_ID, MSG, 1, a)["reply"] is None
    assert wechat.delete_comment(TARGET, b) == ok
    assert sb.wechat_comment(APP_ID, MSG, 1, b)["deleted"] is True
    sent = {r.endpoint: r.body for r in sb.calls()}
    assert sent["comment/delete"] == {"msg_data_id": MSG, "index": 1, "user_comment_id": b}
    assert sent["comment/reply/add"]["content"] == text
    assert all(r.errcode == 0 for r in sb.calls())


@pytest.mark.parametrize(
    ("scenario", "code"),
    [
        ("delete twice", 88008),
        ("delete after the author did", 88008),
        ("delete answered 88004", 88004),
        ("reply twice", 88005),
        ("delete a missing reply", 87009),
        ("delete reply answered 88009", 88009),
        ("unelect a deleted comment", 88008),
        ("delete the reply of a deleted comment", 88008),
    ],
)
def test_already_done_is_a_result(
    sb: Sandbox, wechat: WechatClient, scenario: str, code: int
) -> None:
    [cid] = add_comments(sb, 1, openid=FOLLOWERS[0])
    if scenario == "delete twice":
        wechat.delete_comment(TARGET, cid)
        result = wechat.delete_comment(TARGET, cid)
    elif scenario == "delete after the author did":
        sb.user_delete_comment(APP_ID, MSG, 1, cid)
        result = wechat.delete_comment(TARGET, cid)
    elif scenario == "delete answered 88004":
        sb.faults.fail_next(88004, endpoint="comment/delete")
        result = wechat.delete_comment(TARGET, cid)
    elif scenario == "reply twice":
        wechat.reply(TARGET, cid, "one")
        result = wechat.reply(TARGET, cid, "two")
    elif scenario == "delete a missing reply":
        result = wechat.delete_reply(TARGET, cid)
    elif scenario == "unelect a deleted comment":
        wechat.delete_comment(TARGET, cid)
        result = wechat.unelect(TARGET, cid)
    elif scenario == "delete the reply of a deleted comment":
        wechat.reply(TARGET, cid, "one")
        wechat.delete_comment(TARGET, cid)
        result = wechat.delete_reply(TARGET, cid)
    else:
        sb.faults.fail_next(88009, endpoint="comment/reply/delete")
        result = wechat.delete_reply(TARGET, cid)
    assert result.already_done is True
    assert result.code == code
    assert result.message


def _expect(
    call: Callable[[], object], cls: type[PlatformError], endpoint: str, code: int
) -> PlatformError:
    with pytest.raises(cls) as info:
        call()
    err = info.value
    assert (err.platform, err.account, err.endpoint, err.code) == (
        "wechat", "main-oa", endpoint, code,
    )
    assert err.http_status == 200
    assert err.platform_message
    return err


def test_documented_errors(sb: Sandbox, wechat: WechatClient) -> None:
    gone = f"{MSG + 1}:0"
    err = _expect(lambda: wechat.list_comments(gone), TargetGoneError, "comment/list", 88001)
    assert "msg_data is not exists" in err.platform_message
    err = _expect(lambda: wechat.delete_comment(gone, 1), PermanentError, "comment/delete",
                  88001)
    assert not isinstance(err, TargetGoneError)  # only listing says "stop polling"

    sb.add_article(APP_ID, msg_data_id=5, privilege=False)
    _expect(lambda: wechat.list_comments("5:0"), ActionDisabledError, "comment/list", 88000)

    sb.add_article(APP_ID, msg_data_id=6, limited=True)
    _expect(lambda: wechat.open_comments("6:0"), PermanentError, "comment/open", 88002)

    sb.add_article(APP_ID, msg_data_id=7, max_elected=0)
    seven = sb.add_wechat_comment(APP_ID, 7, 0, content="x")
    _expect(lambda: wechat.elect("7:0", seven), PermanentError, "comment/markelect", 88003)

    a, b = add_comments(sb, 2)
    sb.user_delete_comment(APP_ID, MSG, 1, a)
    _expect(lambda: wechat.elect(TARGET, a), PermanentError, "comment/markelect", 88004)
    _expect(lambda: wechat.reply(TARGET, b, ""), PermanentError, "comment/reply/add", 88007)
    _expect(lambda: wechat.elect(TARGET, 999), PermanentError, "comment/markelect", 88008)
    _expect(lambda: wechat.reply(TARGET, 999, "x"), PermanentError, "comment/reply/add", 88008)

    sb.revoke_api(APP_ID, "comment/reply/add")
    _expect(lambda: wechat.reply(TARGET, b, "x"), ActionDisabledError, "comment/reply/add",
            48001)

    sb.faults.fail_next("busy", endpoint="comment/delete")
    _expect(lambda: wechat.delete_comment(TARGET, b), TransientError, "comment/delete", -1)

    sb.faults.fail_next(45011, endpoint="comment/delete")
    before = time.time()
    err = _expect(lambda: wechat.delete_comment(TARGET, b), RateLimitedError, "comment/delete",
                  45011)
    assert isinstance(err, RateLimitedError)
    assert err.retry_at in (next_minute(before), next_minute(time.time()))

    for code in (40164, 50002, 123456):
        sb.faults.fail_next(code, endpoint="comment/close")
        err = _expect(lambda: wechat.close_comments(TARGET), PermanentError, "comment/close",
                      code)
        assert type(err) is PermanentError


# --- access tokens ----------------------------------------------------------------------


def _force_flags(sb: Sandbox) -> list[bool]:
    return [r.body["force_refresh"] for r in sb.calls("stable_token")]


def test_one_token_for_every_client_of_the_app(
    sb: Sandbox, make_wechat: Callable[..., WechatClient]
) -> None:
    add_comments(sb, 1)
    for _ in range(3):
        make_wechat().list_comments(TARGET)
    assert sb.token_fetches(APP_ID) == 1
    query_tokens = {r.query["access_token"] for r in sb.calls("comment/list")}
    assert query_tokens == {"***"}  # the sandbox redacts what it logs


def test_token_expiry_and_invalidation_mid_run(sb: Sandbox, wechat: WechatClient) -> None:
    add_comments(sb, 1)
    wechat.list_comments(TARGET)
    sb.advance_time(7300)  # the token expired (42001) while we held it
    assert wechat.list_comments(TARGET).total == 1
    sb.invalidate_tokens(APP_ID)  # and now it is invalidated (40001)
    assert wechat.list_comments(TARGET).total == 1
    assert [r.errcode for r in sb.calls("comment/list")] == [0, 42001, 0, 40001, 0]
    assert sb.token_fetches(APP_ID) == 3
    assert _force_flags(sb) == [False, False, False]


def test_refresh_storm_fetches_one_token(sb: Sandbox, redis_client: redis.Redis) -> None:
    add_comments(sb, 1)
    # Five clients (as if five processes) over one small connection pool: the sandbox's
    # ThreadingHTTPServer keeps the default listen backlog of 5, and a burst of 50 new
    # connections overflows it (connection resets), which is not what this test is about.
    http = httpx.Client(limits=httpx.Limits(max_connections=5), timeout=10)
    clients = [
        WechatClient(account=wechat_account(sb), redis=redis_client, quota=QuotaConfig(),
                     key_prefix="t", http=http)
        for _ in range(5)
    ]
    clients[0].list_comments(TARGET)
    assert sb.token_fetches(APP_ID) == 1
    sb.invalidate_tokens(APP_ID)
    barrier = threading.Barrier(50)
    results: list[int] = []
    errors: list[BaseException] = []

    def work(client: WechatClient) -> None:
        barrier.wait()
        try:
            results.append(client.list_comments(TARGET).total)
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(clients[i % 5],)) for i in range(50)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    http.close()
    assert errors == []
    assert results == [1] * 50
    assert sb.token_fetches(APP_ID) == 2  # the first one, and exactly one refresh
    assert 40001 in {r.errcode for r in sb.calls("comment/list")}
    assert _force_flags(sb) == [False, False]


def test_force_refresh_only_when_a_fresh_token_fails(
    sb: Sandbox, wechat: WechatClient
) -> None:
    add_comments(sb, 1)
    sb.faults.fail_next(40001, endpoint="comment/list")
    wechat.list_comments(TARGET)  # the cached token failed; a fresh one works
    assert _force_flags(sb) == [False, False]

    sb.faults.fail_next(40001, endpoint="comment/list", times=2)
    wechat.list_comments(TARGET)  # the fresh one fails too: force_refresh, once
    assert _force_flags(sb) == [False, False, False, True]
    assert wechat.tokens.force_refreshes_today() == 1

    sb.faults.fail_next(42001, endpoint="comment/list", times=3)
    with pytest.raises(AuthError) as info:
        wechat.list_comments(TARGET)  # nothing helps: AuthError after one force at most
    assert info.value.code == 42001
    # no second force: the last one was less than 30 s ago (it would not refresh anyway)
    assert _force_flags(sb).count(True) == 1


def test_force_refresh_budget_is_respected(
    sb: Sandbox, wechat: WechatClient, redis_client: redis.Redis
) -> None:
    add_comments(sb, 1)
    wechat.list_comments(TARGET)
    redis_client.set(wechat.tokens._budget_key(), 20)
    sb.faults.fail_next(40014, endpoint="comment/list", times=2)
    with pytest.raises(AuthError):
        wechat.list_comments(TARGET)
    assert True not in _force_flags(sb)


def test_force_refresh_quota_stops_only_force_refreshes(redis_client: redis.Redis) -> None:
    # The platform's daily limit of forced refreshes is spent: a forced stable_token call
    # answers 45009. Only forced refreshes may stop; normal token fetches go on.
    with Sandbox(seed=2, stable_force_per_day=0) as spent:
        spent.add_wechat_app(app_id=APP_ID, app_secret=APP_SECRET)
        spent.add_article(APP_ID, msg_data_id=MSG, index=1)
        spent.add_wechat_comment(APP_ID, MSG, 1, content="x")
        with WechatClient(account=wechat_account(spent), redis=redis_client,
                          quota=QuotaConfig(), key_prefix="t") as client:
            client.list_comments(TARGET)
            spent.faults.fail_next(40001, endpoint="comment/list", times=2)
            # forced refresh refused: a normal fetch gives the current token, which works
            assert client.list_comments(TARGET).total == 1
            token_calls = [(r.body["force_refresh"], r.errcode)
                           for r in spent.calls("stable_token")]
            assert token_calls == [(False, 0), (False, 0), (True, 45009), (False, 0)]
            assert client.quotas.resume_at("wechat", "main-oa", "stable_token") is None
            assert client.quotas.resume_at("wechat", "main-oa", "stable_token/force")

            spent.invalidate_tokens(APP_ID)
            assert client.list_comments(TARGET).total == 1  # a normal refresh still works

            # the next forced refresh is not even sent while forced refreshes are paused
            redis_client.delete(f"t:token:wechat:{APP_ID}:stable:force:recent")
            spent.faults.fail_next(40001, endpoint="comment/list", times=2)
            assert client.list_comments(TARGET).total == 1
            flags = [r.body["force_refresh"] for r in spent.calls("stable_token")]
            assert flags.count(True) == 1 and len(flags) == 7


def test_classic_tokens(sb: Sandbox, make_wechat: Callable[..., WechatClient]) -> None:
    add_comments(sb, 1)
    client = make_wechat(token="classic")
    client.list_comments(TARGET)
    sb.invalidate_tokens(APP_ID)
    client.list_comments(TARGET)
    assert len(sb.calls("token")) == 2 and sb.calls("stable_token") == []
    assert sb.calls("token")[0].query["secret"] == "***"
    sb.faults.fail_next(40001, endpoint="comment/list", times=2)
    with pytest.raises(AuthError):
        client.list_comments(TARGET)  # no force_refresh for classic tokens
    assert len(sb.calls("token")) == 3


@pytest.mark.parametrize(("mode", "code"), [("stable", 40125), ("classic", 40001)])
def test_wrong_secret_is_permanent_and_not_retried(
    sb: Sandbox, make_wechat: Callable[..., WechatClient], mode: str, code: int
) -> None:
    from worker.config import Secret

    client = make_wechat(token=mode, app_secret=Secret("wrong-secret-value"))
    for _ in range(3):
        with pytest.raises(PermanentError) as info:
            client.list_comments(TARGET)
        assert info.value.code == code
        assert not isinstance(info.value, AuthError)
    assert sb.token_fetches(APP_ID) == 1  # the failure is shared for a few seconds
    assert sb.calls("comment/list") == []


# --- quota and rate limits --------------------------------------------------------------


def test_quota_pause_is_shared_and_costs_no_call(
    sb: Sandbox, make_wechat: Callable[..., WechatClient], log_output: io.StringIO
) -> None:
    a, b, c = add_comments(sb, 3)
    client = make_wechat()
    sb.faults.quota = {"comment/delete": 1}
    client.delete_comment(TARGET, a)
    with pytest.raises(QuotaError) as info:
        client.delete_comment(TARGET, b)
    assert info.value.code == 45009
    resume_at = info.value.resume_at
    assert resume_at is not None
    assert abs(resume_at - next_local_midnight(time.time(), "Asia/Shanghai")) < 2
    deletes = len(sb.calls("comment/delete"))
    with pytest.raises(QuotaError) as again:
        client.delete_comment(TARGET, c)  # no network
    other = make_wechat()
    with pytest.raises(QuotaError) as seen_elsewhere:
        other.delete_comment(TARGET, c)
    assert len(sb.calls("comment/delete")) == deletes == 2
    assert again.value.resume_at == seen_elsewhere.value.resume_at == resume_at
    assert seen_elsewhere.value.endpoint == "comment/delete"
    paused = [e for e in events(log_output) if e["event"] == "platform.quota_paused"]
    assert len(paused) == 1
    assert (paused[0]["level"], paused[0]["account"], paused[0]["errcode"]) == (
        "warning", "main-oa", 45009,
    )
    assert other.list_comments(TARGET).total == 2  # other endpoints still work (a is gone)


def test_quota_pause_length_can_be_fixed(
    sb: Sandbox, make_wechat: Callable[..., WechatClient]
) -> None:
    [a] = add_comments(sb, 1)
    client = make_wechat(quota=QuotaConfig(pause=90))
    sb.faults.fail_next(45009, endpoint="comment/markelect")
    before = time.time()
    with pytest.raises(QuotaError) as info:
        client.elect(TARGET, a)
    assert info.value.resume_at is not None
    assert before + 90 <= info.value.resume_at <= time.time() + 90


def test_configured_rate_limit_is_shared_in_redis(
    sb: Sandbox, make_wechat: Callable[..., WechatClient], redis_client: redis.Redis
) -> None:
    add_comments(sb, 1)
    client = make_wechat(calls_per_minute=6000)
    for _ in range(3):
        client.list_comments(TARGET)
    assert redis_client.exists("t:rate:wechat:main-oa:comment/list")


# --- transport failures -----------------------------------------------------------------


@pytest.mark.parametrize(("fault", "status"), [("malformed", 200), ("html_5xx", 502)])
def test_bad_answers_are_transient_with_status(
    sb: Sandbox, wechat: WechatClient, fault: str, status: int
) -> None:
    add_comments(sb, 1)
    wechat.list_comments(TARGET)
    for _ in range(4):  # malformed is truncated or non-JSON at random: meet both
        sb.faults.fail_next(fault, endpoint="comment/list")  # type: ignore[arg-type]
        with pytest.raises(TransientError) as info:
            wechat.list_comments(TARGET)
        assert info.value.http_status == status
        assert info.value.code is None
        assert "access_token" not in str(info.value)


@pytest.mark.parametrize("kind", ["bad_utf8", "not_object", "deep_json", "oversized"])
def test_an_undecodable_action_answer_is_transient_not_success(
    sb: Sandbox, wechat: WechatClient, kind: str
) -> None:
    [cid] = add_comments(sb, 1)
    sb.faults.fail_next(kind, endpoint="comment/markelect")  # type: ignore[arg-type]
    with pytest.raises(MalformedAnswerError) as info:
        wechat.elect(TARGET, cid)  # the elect happened; only the answer is damaged
    assert info.value.http_status == 200 and "malformed answer" in str(info.value)
    assert wechat.elect(TARGET, cid).already_done is False  # retried: a plain success


def test_timeouts_and_refused_connections_are_transient(
    sb: Sandbox, redis_client: redis.Redis
) -> None:
    add_comments(sb, 1)
    with httpx.Client(timeout=0.2) as http:
        client = WechatClient(account=wechat_account(sb), redis=redis_client,
                              quota=QuotaConfig(), key_prefix="t", http=http)
        client.list_comments(TARGET)
        sb.faults.latency = 0.6
        with pytest.raises(TransientError) as info:
            client.list_comments(TARGET)
        assert "timeout" in info.value.platform_message
        assert info.value.http_status is None
        sb.faults.latency = 0
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    closed = make_client(
        wechat_account(sb, api_base=f"http://127.0.0.1:{port}"), redis=redis_client,
        quota=QuotaConfig(), key_prefix="t2",
    )
    assert isinstance(closed, WechatClient)
    with pytest.raises(TransientError) as refused:
        closed.list_comments(TARGET)
    assert refused.value.endpoint == "stable_token" and refused.value.http_status is None
    closed.close()


# --- blacklist --------------------------------------------------------------------------


def test_more_than_20_openids_refused_before_any_call(sb: Sandbox, wechat: WechatClient) -> None:
    with pytest.raises(BatchTooLargeError):
        wechat.blacklist(FOLLOWERS[:21])
    with pytest.raises(BatchTooLargeError):
        wechat.unblacklist(FOLLOWERS[:21])
    assert sb.calls() == []


def test_bisection_isolates_two_bad_openids(sb: Sandbox, wechat: WechatClient) -> None:
    batch = FOLLOWERS[:18]
    batch.insert(5, UNKNOWN)
    batch.insert(13, FOREIGN)
    result = wechat.blacklist(batch)
    assert result.blacklisted == [o for o in batch if o not in (UNKNOWN, FOREIGN)]
    assert len(result.blacklisted) == 18
    assert result.invalid == [UNKNOWN, FOREIGN]
    assert set(sb.blacklist(APP_ID)) == set(FOLLOWERS[:18])
    sent = [r.body["openid_list"] for r in sb.calls("tags/members/batchblacklist")]
    assert result.calls == len(sent) and len(sent[0]) == 20
    assert {r.errcode for r in sb.calls("tags/members/batchblacklist")} == {0, 40003, 49003}

    undone = wechat.unblacklist([FOLLOWERS[0], UNKNOWN])
    assert (undone.unblacklisted, undone.invalid) == ([FOLLOWERS[0]], [UNKNOWN])
    assert FOLLOWERS[0] not in sb.blacklist(APP_ID)


def test_empty_openids_are_never_sent(sb: Sandbox, wechat: WechatClient) -> None:
    result = wechat.blacklist(["", None, FOLLOWERS[0], FOLLOWERS[0], "   "])
    assert (result.blacklisted, result.invalid, result.skipped) == ([FOLLOWERS[0]], [], 4)
    assert [r.body["openid_list"] for r in sb.calls("tags/members/batchblacklist")] == [
        [FOLLOWERS[0]]
    ]
    assert wechat.blacklist([None, ""]).calls == 0
    assert len(sb.calls("tags/members/batchblacklist")) == 1


def test_get_blacklist_pages_with_next_openid(redis_client: redis.Redis) -> None:
    with Sandbox(seed=1, blacklist_page_size=3) as small:
        small.add_wechat_app(app_id=APP_ID, app_secret="another-secret-value")
        small.add_follower(APP_ID, *FOLLOWERS[:8])
        small.blacklist_openids(APP_ID, *FOLLOWERS[:8])
        from worker.config import Secret

        client = WechatClient(
            account=wechat_account(small, app_secret=Secret("another-secret-value")),
            redis=redis_client, quota=QuotaConfig(), key_prefix="t",
        )
        first = client.get_blacklist()
        assert (first.openids, first.total, first.next_openid) == (
            FOLLOWERS[:3], 8, FOLLOWERS[2],
        )
        assert list(client.iter_blacklist()) == FOLLOWERS[:8]
        begins = [r.body["begin_openid"] for r in small.calls("tags/members/getblacklist")]
        assert begins == ["", "", FOLLOWERS[2], FOLLOWERS[5]]
        client.close()


def test_one_debug_line_per_call(
    sb: Sandbox, wechat: WechatClient, log_output: io.StringIO
) -> None:
    [a] = add_comments(sb, 1)
    wechat.delete_comment(TARGET, a)
    wechat.delete_comment(TARGET, a)
    calls = [e for e in events(log_output) if e["event"] == "platform.call"]
    assert [(e["endpoint"], e["errcode"]) for e in calls] == [
        ("stable_token", 0), ("comment/delete", 0), ("comment/delete", 88008),
    ]
    assert all(e["level"] == "debug" and e["account"] == "main-oa" for e in calls)
    assert all(isinstance(e["duration_ms"], float) for e in calls)
