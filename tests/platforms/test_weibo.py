"""The Weibo client against the sandbox over loopback HTTP, on a real Redis."""

from __future__ import annotations

import io
import time
from collections.abc import Callable

import pytest
import redis

from worker.config import QuotaConfig, Secret, WeiboTarget
from worker.errors import (
    ActionDisabledError,
    AuthError,
    BatchTooLargeError,
    MalformedAnswerError,
    PermanentError,
    QuotaError,
    RateLimitedError,
    TargetGoneError,
    TransientError,
)
from worker.platforms import WeiboClient
from worker.platforms.parsing import parse_weibo_time
from worker.platforms.quota import next_local_hour
from worker.platforms.ratelimit import Rate
from worker.sandbox import Sandbox

from .conftest import FAN, STATUS, WEIBO_UID, events, weibo_account

DESTROY = "comments/destroy_batch/own/biz"
SHOW_BATCH = "comments/show_batch/biz"


def add(sb: Sandbox, n: int, status: int = STATUS) -> list[int]:
    return [
        sb.add_weibo_comment(status, text=f"评论 {i}", uid=FAN, created_at=1_700_000_000 + i)
        for i in range(n)
    ]


def test_list_newest_first_with_since_id_and_max_id_paging(
    sb: Sandbox, weibo: WeiboClient
) -> None:
    ids = add(sb, 7)
    page = weibo.list_comments(STATUS, count=3)
    assert [c.id for c in page.comments] == [str(i) for i in ids[:-4:-1]]
    assert page.total == 7
    assert page.next_max_id == ids[-3] - 1
    c = page.comments[0]
    assert (c.platform, c.account, c.target, c.author, c.content) == (
        "weibo", "brand-weibo", str(STATUS), str(FAN), "评论 6",
    )
    assert c.created_at == pytest.approx(1_700_000_006, abs=1)
    everything = [c.id for p in weibo.iter_comment_pages(WeiboTarget(status_id=STATUS), count=3)
                  for c in p.comments]
    assert everything == [str(i) for i in reversed(ids)]
    newer = [c.id for p in weibo.iter_comment_pages(STATUS, since_id=ids[2], count=2)
             for c in p.comments]
    assert newer == [str(i) for i in reversed(ids[3:])]
    sent = sb.calls("comments/show")[-1].query
    assert sent["since_id"] == str(ids[2]) and sent["access_token"] == "***"


def test_created_at_format() -> None:
    assert parse_weibo_time("Wed Jun 01 00:50:25 +0800 2011") == 1306860625.0


def test_post_gone_and_auth_errors(sb: Sandbox, make_weibo: Callable[..., WeiboClient]) -> None:
    client = make_weibo()
    with pytest.raises(TargetGoneError) as gone:
        client.list_comments(123)
    assert (gone.value.code, gone.value.http_status, gone.value.endpoint) == (
        20101, 400, "comments/show",
    )
    stranger = make_weibo(access_token=Secret("2.00NotAToken_zzzzzzzz"))
    with pytest.raises(AuthError) as unknown:
        stranger.list_comments(STATUS)
    assert unknown.value.code == 21332
    sb.add_weibo_token(access_token="2.00Expiring_abcdefgh", uid=WEIBO_UID)
    expiring = make_weibo(access_token=Secret("2.00Expiring_abcdefgh"))
    sb.expire_weibo_token("2.00Expiring_abcdefgh")
    with pytest.raises(AuthError) as expired:
        expiring.list_comments(STATUS)
    assert expired.value.code == 21327


@pytest.mark.parametrize("shape", ["array", "result", "single"])
def test_destroy_accepts_every_shape(sb: Sandbox, weibo: WeiboClient, shape: str) -> None:
    sb.faults.destroy_shape = shape
    ids = add(sb, 3)
    result = weibo.destroy_comments(ids)
    expected = {"array": "list", "result": "result", "single": "comment"}[shape]
    assert result.shape == expected
    assert all(sb.weibo_comment(i)["deleted"] for i in ids)
    # "single" confirms one id; show_batch finds the others gone: deleted too
    assert result.deleted == [str(i) for i in ids]
    assert result.not_deleted == [] and result.already_gone == []
    assert sb.calls(DESTROY)[0].body["cids"] == ",".join(str(i) for i in ids)
    checks = [r.query["cids"] for r in sb.calls(SHOW_BATCH)]
    assert checks == ([",".join(str(i) for i in ids[1:])] if shape == "single" else [])
    assert result.calls == 1 + len(checks)


def test_destroy_checks_ids_the_answer_left_out_with_show_batch(
    sb: Sandbox, weibo: WeiboClient, log_output: io.StringIO
) -> None:
    sb.faults.destroy_shape = "array"
    ids = add(sb, 4)
    sb.add_weibo_post(999, status_id=555)
    [foreign] = add(sb, 1, status=555)  # under someone else's post: destroy skips it
    weibo.destroy_comments([ids[1]])
    result = weibo.destroy_comments([*ids, foreign])  # the array omits ids[1] and foreign
    assert result.deleted == [str(i) for i in ids]  # ids[1] no longer exists: deleted
    assert result.not_deleted == [str(foreign)]  # still there
    assert result.already_gone == [] and result.shape == "list" and result.calls == 2
    [check] = sb.calls(SHOW_BATCH)
    assert check.query["cids"] == f"{ids[1]},{foreign}" and check.query["access_token"] == "***"
    assert not sb.weibo_comment(foreign)["deleted"]
    verified = [e for e in events(log_output) if e["event"] == "weibo.destroy_verified"]
    assert (verified[0]["gone"], verified[0]["still_there"]) == (1, 1)


def test_destroy_check_failure_leaves_ids_not_deleted(
    sb: Sandbox, weibo: WeiboClient, log_output: io.StringIO
) -> None:
    ids = add(sb, 2)
    weibo.destroy_comments([ids[0]])
    sb.faults.fail_next("busy", endpoint=SHOW_BATCH)
    result = weibo.destroy_comments(ids)
    assert result.deleted == [str(ids[1])]
    assert result.not_deleted == [str(ids[0])]  # unverified: safe to send again
    unverified = [e for e in events(log_output) if e["event"] == "weibo.destroy_unverified"]
    assert unverified[0]["level"] == "warning" and unverified[0]["errcode"] == 10001
    assert weibo.destroy_comments(result.not_deleted).already_gone == [str(ids[0])]


def test_existing_comment_ids(sb: Sandbox, weibo: WeiboClient) -> None:
    ids = add(sb, 3)
    weibo.destroy_comments([ids[1]])
    assert weibo.existing_comment_ids([ids[2], ids[1], str(ids[0]), 12345]) == [
        str(ids[2]), str(ids[0]),
    ]
    assert weibo.existing_comment_ids([]) == []
    with pytest.raises(BatchTooLargeError):
        weibo.existing_comment_ids(range(1, 52))
    assert len(sb.calls(SHOW_BATCH)) == 1


@pytest.mark.parametrize("code_type", ["string", "number"])
def test_destroy_of_missing_comments_is_already_done(
    sb: Sandbox, weibo: WeiboClient, code_type: str
) -> None:
    sb.faults.weibo_error_code_type = code_type
    ids = add(sb, 3)
    weibo.destroy_comments(ids)
    sb.reset_calls()
    result = weibo.destroy_comments(ids)
    assert result.already_gone == [str(i) for i in ids]
    assert result.deleted == [] and result.not_deleted == []
    assert [r.errcode for r in sb.calls(DESTROY)] == [20201]
    assert result.calls == 2 and len(sb.calls(SHOW_BATCH)) == 1  # the gone ones told at once


@pytest.mark.parametrize("code_type", ["string", "number"])
def test_error_code_string_or_number(
    sb: Sandbox, weibo: WeiboClient, code_type: str
) -> None:
    sb.faults.weibo_error_code_type = code_type
    sb.add_weibo_post(999, status_id=555)
    foreign = add(sb, 1, status=555)
    with pytest.raises(PermanentError) as info:
        weibo.delete_comment(foreign[0])
    assert info.value.code == 20203
    assert [r.http_status for r in sb.calls(DESTROY)] == [400]
    sb.faults.fail_next(20003, endpoint=DESTROY)
    with pytest.raises(PermanentError) as other:
        weibo.destroy_comments(add(sb, 1))
    assert (other.value.code, other.value.http_status) == (20003, 400)
    sb.faults.fail_next("busy", endpoint="comments/show")
    with pytest.raises(TransientError) as busy:
        weibo.list_comments(STATUS)
    assert (busy.value.code, busy.value.http_status) == (10001, 500)
    sb.faults.fail_next(10014, endpoint="comments/show")
    with pytest.raises(ActionDisabledError):
        weibo.list_comments(STATUS)


def test_more_than_20_cids_refused_before_any_call(sb: Sandbox, weibo: WeiboClient) -> None:
    with pytest.raises(BatchTooLargeError):
        weibo.destroy_comments(range(1, 22))
    assert sb.calls() == []
    assert weibo.destroy_comments([]).calls == 0


@pytest.mark.parametrize("code", [10022, 10023, 10024])
def test_rate_limit_codes_pause_until_the_next_hour(
    sb: Sandbox, make_weibo: Callable[..., WeiboClient], code: int
) -> None:
    client = make_weibo()
    add(sb, 1)
    sb.faults.fail_next(code, endpoint="comments/show")
    before = time.time()
    with pytest.raises(QuotaError) as info:
        client.list_comments(STATUS)
    assert info.value.code == code and info.value.http_status == 403
    assert info.value.resume_at in (next_local_hour(before, "Asia/Shanghai"),
                                    next_local_hour(time.time(), "Asia/Shanghai"))
    calls = len(sb.calls("comments/show"))
    with pytest.raises(QuotaError):
        make_weibo().list_comments(STATUS)  # another instance: paused, no call
    assert len(sb.calls("comments/show")) == calls
    if code == 10023:  # the user's limit on every API: the account's other endpoints too
        with pytest.raises(QuotaError):
            client.destroy_comments(add(sb, 1))
    else:  # one API's limit: the other endpoints go on
        assert client.destroy_comments(add(sb, 1)).deleted


@pytest.mark.parametrize("code", [10022, 10023, 10024])
def test_only_the_ip_limit_pauses_the_other_accounts(
    sb: Sandbox, make_weibo: Callable[..., WeiboClient], code: int
) -> None:
    sb.add_weibo_token(access_token="2.00SecondBrand_zxcvbnm", uid=WEIBO_UID + 1)
    sb.add_weibo_post(WEIBO_UID + 1, status_id=556)
    mine, other = make_weibo(), make_weibo(
        name="second-brand", access_token=Secret("2.00SecondBrand_zxcvbnm")
    )
    sb.faults.fail_next(code, endpoint=DESTROY)
    with pytest.raises(QuotaError):
        mine.destroy_comments(add(sb, 1))
    theirs = add(sb, 1, status=556)
    if code == 10022:  # the IP's limit: every account's commercial calls stop, no call made
        calls = len(sb.calls())
        with pytest.raises(QuotaError) as info:
            other.destroy_comments(theirs)
        assert info.value.account == "second-brand"
        with pytest.raises(QuotaError):
            other.existing_comment_ids(theirs)  # the same limit
        assert len(sb.calls()) == calls
        assert other.list_comments(556).total == 1  # another API: not paused
    else:
        assert other.destroy_comments(theirs).deleted == [str(theirs[0])]


def test_sandbox_quota_with_fixed_pause(
    sb: Sandbox, make_weibo: Callable[..., WeiboClient]
) -> None:
    client = make_weibo(quota=QuotaConfig(pause=45))
    sb.faults.quota = {DESTROY: 1}
    ids = add(sb, 2)
    client.destroy_comments([ids[0]])
    with pytest.raises(QuotaError) as info:
        client.destroy_comments([ids[1]])
    assert info.value.resume_at is not None and info.value.resume_at <= time.time() + 45


def test_commercial_endpoints_are_rate_limited_in_redis_by_default(
    sb: Sandbox, weibo: WeiboClient, redis_client: redis.Redis
) -> None:
    weibo.destroy_comments(add(sb, 1))
    weibo.list_comments(STATUS)
    assert redis_client.keys("t:rate:*") == [b"t:rate:weibo:shared:commercial-ip"]


def test_commercial_limit_is_per_ip_shared_by_every_account(
    sb: Sandbox, redis_client: redis.Redis
) -> None:
    # "50000次/小时/IP" for all commercial APIs: every account of the daemon (one IP) and
    # every commercial endpoint take their slots from one bucket.
    sb.add_weibo_token(access_token="2.00SecondBrand_zxcvbnm", uid=WEIBO_UID + 1)
    tiny = Rate(1, 3600)  # one call an hour
    clients = [
        WeiboClient(account=weibo_account(sb, **fields), redis=redis_client,
                    quota=QuotaConfig(), key_prefix="t", max_wait=0, commercial_rate=tiny)
        for fields in ({}, {"name": "second-brand",
                            "access_token": Secret("2.00SecondBrand_zxcvbnm")})
    ]
    ids = add(sb, 2)
    assert clients[0].destroy_comments([ids[0]]).deleted == [str(ids[0])]
    with pytest.raises(RateLimitedError) as info:
        clients[1].destroy_comments([ids[1]])  # another account, same IP: no slot left
    assert (info.value.account, info.value.endpoint) == ("second-brand", DESTROY)
    with pytest.raises(RateLimitedError):
        clients[1].existing_comment_ids([ids[1]])  # another commercial endpoint too
    assert clients[1].list_comments(STATUS).total == 1  # the public API is not limited
    assert len(sb.calls(DESTROY)) == 1 and sb.calls(SHOW_BATCH) == []
    for client in clients:
        client.close()


def test_auth_failed_20502_is_an_auth_error(sb: Sandbox, weibo: WeiboClient) -> None:
    sb.faults.fail_next(20502, endpoint="comments/show")
    with pytest.raises(AuthError) as info:
        weibo.list_comments(STATUS)
    assert (info.value.code, info.value.platform_message) == (20502, "Auth failed!")


def test_malformed_and_html_answers(sb: Sandbox, weibo: WeiboClient) -> None:
    for fault, status in (("malformed", 200), ("html_5xx", 502), ("malformed", 200)):
        sb.faults.fail_next(fault, endpoint="comments/show")  # type: ignore[arg-type]
        with pytest.raises(TransientError) as info:
            weibo.list_comments(STATUS)
        assert info.value.http_status == status and info.value.code is None


def test_a_batch_with_a_comment_not_ours_is_split_and_the_rest_deleted(
    sb: Sandbox, weibo: WeiboClient, log_output: io.StringIO
) -> None:
    sb.faults.destroy_mode = "atomic"  # one foreign id fails the whole batch with 20203
    sb.add_weibo_post(999, status_id=555)
    ids = add(sb, 7)
    [foreign] = add(sb, 1, status=555)
    batch = [*ids[:3], foreign, *ids[3:]]
    result = weibo.destroy_comments(batch)
    assert result.deleted == [str(i) for i in ids]
    assert result.not_own == [str(foreign)]
    assert result.not_deleted == [] and result.already_gone == []
    assert all(sb.weibo_comment(i)["deleted"] for i in ids)
    assert not sb.weibo_comment(foreign)["deleted"]
    destroys = sb.calls(DESTROY)
    assert [r.errcode for r in destroys].count(20203) == 4  # 8 ids: 8, 4, 2, 1
    assert result.calls == len(destroys) + len(sb.calls(SHOW_BATCH))
    refused = [e for e in events(log_output) if e["event"] == "weibo.destroy_refused"]
    assert [(e["comment_id"], e["errcode"]) for e in refused] == [(str(foreign), 20203)]


@pytest.mark.parametrize("mode", ["partial", "atomic"])
def test_20201_on_a_batch_is_resolved_with_show_batch(
    sb: Sandbox, weibo: WeiboClient, mode: str
) -> None:
    sb.faults.destroy_mode = mode
    ids = add(sb, 20)
    weibo.destroy_comments(ids[:10])
    weibo.destroy_comments(ids[10:])
    sb.reset_calls()
    result = weibo.destroy_comments(ids)  # all 20 gone: one destroy, one show_batch
    assert result.already_gone == [str(i) for i in ids]
    assert result.deleted == [] and result.not_deleted == []
    assert (result.calls, len(sb.calls(DESTROY)), len(sb.calls(SHOW_BATCH))) == (2, 1, 1)


def test_20201_with_some_comments_left_resends_them_in_one_call(
    sb: Sandbox, weibo: WeiboClient
) -> None:
    sb.faults.destroy_mode = "atomic"  # one gone id fails the whole batch with 20201
    ids = add(sb, 20)
    weibo.destroy_comments(ids[:2])
    sb.reset_calls()
    result = weibo.destroy_comments(ids)
    assert result.already_gone == [str(i) for i in ids[:2]]
    assert result.deleted == [str(i) for i in ids[2:]]
    assert all(sb.weibo_comment(i)["deleted"] for i in ids)
    # destroy(20) -> 20201, show_batch(20), destroy(18) -> one comment, show_batch(17)
    assert [len(r.body["cids"].split(",")) for r in sb.calls(DESTROY)] == [20, 18]
    assert result.calls == 4


def test_20201_when_show_batch_fails_falls_back_to_halves(
    sb: Sandbox, weibo: WeiboClient, log_output: io.StringIO
) -> None:
    sb.faults.destroy_mode = "atomic"
    ids = add(sb, 4)
    weibo.destroy_comments([ids[0]])
    sb.faults.fail_next("busy", endpoint=SHOW_BATCH)
    result = weibo.destroy_comments(ids)
    assert result.already_gone == [str(ids[0])]
    assert result.deleted == [str(i) for i in ids[1:]]
    failed = [e for e in events(log_output) if e["event"] == "weibo.gone_check_failed"]
    assert failed[0]["level"] == "warning" and failed[0]["errcode"] == 10001


def test_single_delete_honours_what_the_answer_says(
    sb: Sandbox, weibo: WeiboClient
) -> None:
    a, b, kept = add(sb, 3)
    assert weibo.delete_comment(a).already_done is False
    weibo.destroy_comments([b])
    gone = weibo.delete_comment(b)
    assert (gone.already_done, gone.code) == (True, 20201)
    sb.faults.destroy_mode = "keep"  # answers [] and deletes nothing
    with pytest.raises(TransientError) as info:
        weibo.delete_comment(kept)
    assert str(kept) in str(info.value) and info.value.endpoint == DESTROY
    assert not sb.weibo_comment(kept)["deleted"]


@pytest.mark.parametrize("kind", ["bad_utf8", "not_object", "deep_json", "oversized"])
def test_undecodable_answers_are_transient_and_logged(
    sb: Sandbox, weibo: WeiboClient, log_output: io.StringIO, kind: str
) -> None:
    add(sb, 1)
    sb.faults.fail_next(kind, endpoint="comments/show")  # type: ignore[arg-type]
    with pytest.raises(MalformedAnswerError) as info:
        weibo.list_comments(STATUS)
    assert isinstance(info.value, TransientError)
    assert info.value.code is None and "malformed answer" in str(info.value)
    [logged] = [e for e in events(log_output) if e["event"] == "platform.malformed_answer"]
    assert logged["level"] == "warning" and logged["endpoint"] == "comments/show"
    assert weibo.list_comments(STATUS).total == 1  # the next answer is used again
