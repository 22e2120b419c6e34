"""The sandbox over real loopback HTTP: every endpoint, every documented code, faults, admin
calls and process mode. No timed assertions: token expiry uses the sandbox clock."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from worker.sandbox import Sandbox
from worker.sandbox.wechat_endpoints import WechatApi
from worker.sandbox.weibo_endpoints import WeiboApi
from worker.subprocesses import start_sandbox

APP = "wx0123456789abcdef"
SECRET = "sandbox-secret"
MSG = 2247483650
BIG_MSG = 2**63 + 12345  # larger than int64: must still work
WB_TOKEN = "2.00sandboxtoken"
WB_UID = 1404376560
POST = 4890123456789012


def raw(body: Any) -> bytes:
    """JSON as WeChat wants it: raw UTF-8, no \\uXXXX escapes."""
    return json.dumps(body, ensure_ascii=False).encode("utf-8")


@pytest.fixture
def sb() -> Iterator[Sandbox]:
    sandbox = Sandbox(seed=7)
    sandbox.add_wechat_app(app_id=APP, app_secret=SECRET)
    sandbox.add_article(APP, msg_data_id=MSG, index=0)
    with sandbox:
        yield sandbox


@pytest.fixture
def http(sb: Sandbox) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=sb.url, timeout=10) as client:
        yield client


class Wx:
    """A minimal WeChat caller: raw UTF-8 JSON bodies, the token in the query."""

    def __init__(self, http: httpx.Client, app_id: str = APP, secret: str = SECRET) -> None:
        self.http = http
        self.app_id = app_id
        self.secret = secret
        self._token: str | None = None

    def fetch_token(self) -> dict[str, Any]:
        params = {"grant_type": "client_credential", "appid": self.app_id, "secret": self.secret}
        result: dict[str, Any] = self.http.get("/cgi-bin/token", params=params).json()
        return result

    def stable(self, force: bool = False, **overrides: Any) -> dict[str, Any]:
        body = {
            "grant_type": "client_credential",
            "appid": self.app_id,
            "secret": self.secret,
            "force_refresh": force,
            **overrides,
        }
        result: dict[str, Any] = self.http.post("/cgi-bin/stable_token", content=raw(body)).json()
        return result

    @property
    def token(self) -> str:
        if self._token is None:
            self._token = self.fetch_token()["access_token"]
        return self._token

    def call(
        self, op: str, body: Any = None, *, token: str | None = None, content: bytes | None = None
    ) -> dict[str, Any]:
        response = self.http.post(
            f"/cgi-bin/{op}",
            params={"access_token": token or self.token},
            content=raw(body) if content is None else content,
        )
        assert response.status_code == 200
        result: dict[str, Any] = response.json()
        return result

    def code(self, op: str, body: Any = None, **kw: Any) -> int:
        return int(self.call(op, body, **kw)["errcode"])

    def listing(self, **kw: Any) -> dict[str, Any]:
        body = {"msg_data_id": MSG, "index": 0, "begin": 0, "count": 49, "type": 0, **kw}
        return self.call("comment/list", body)


@pytest.fixture
def wx(http: httpx.Client) -> Wx:
    return Wx(http)


def cbody(cid: int, **kw: Any) -> dict[str, Any]:
    return {"msg_data_id": MSG, "index": 0, "user_comment_id": cid, **kw}


# --- tokens --------------------------------------------------------------------------------


def test_classic_token_and_redacted_call_log(sb: Sandbox, wx: Wx) -> None:
    answer = wx.fetch_token()
    assert answer["expires_in"] == 7200
    assert "errcode" not in answer
    assert len(answer["access_token"]) >= 100
    body = {"msg_data_id": MSG, "begin": 0, "count": 10}
    assert wx.code("comment/list", body, token=answer["access_token"]) == 0
    calls = sb.calls()
    assert [c.endpoint for c in calls] == ["token", "comment/list"]
    assert calls[0].query["secret"] == "***"
    assert calls[1].query["access_token"] == "***"
    assert calls[1].scope == APP
    assert answer["access_token"] not in json.dumps([c.to_dict() for c in calls])
    assert sb.token_fetches(APP) == 1


@pytest.mark.parametrize(
    ("params", "code"),
    [
        ({"grant_type": "client_credential", "secret": SECRET}, 41002),
        ({"grant_type": "client_credential", "appid": APP}, 41004),
        ({"grant_type": "password", "appid": APP, "secret": SECRET}, 40002),
        ({"grant_type": "client_credential", "appid": "wxnope", "secret": SECRET}, 40013),
        ({"grant_type": "client_credential", "appid": APP, "secret": "wrong"}, 40001),
    ],
)
def test_classic_token_errors(http: httpx.Client, params: dict[str, str], code: int) -> None:
    assert http.get("/cgi-bin/token", params=params).json()["errcode"] == code


def test_stable_token_same_until_forced(wx: Wx) -> None:
    first = wx.stable()
    assert wx.stable()["access_token"] == first["access_token"]
    forced = wx.stable(force=True)
    assert forced["access_token"] != first["access_token"]
    assert (
        wx.code("comment/list", {"msg_data_id": MSG, "count": 1}, token=first["access_token"])
        == 40001
    )
    assert (
        wx.code("comment/list", {"msg_data_id": MSG, "count": 1}, token=forced["access_token"]) == 0
    )
    assert wx.stable(secret="wrong")["errcode"] == 40125


def test_stable_force_refresh_interval_and_daily_limit(http: httpx.Client) -> None:
    sandbox = Sandbox(stable_force_per_day=2)
    sandbox.add_wechat_app(app_id=APP, app_secret=SECRET)
    with sandbox, httpx.Client(base_url=sandbox.url) as client:
        w = Wx(client)
        one = w.stable(force=True)["access_token"]
        assert w.stable(force=True)["access_token"] == one  # < 30 s apart: no refresh
        sandbox.advance_time(31)
        two = w.stable(force=True)["access_token"]
        assert two != one
        sandbox.advance_time(31)
        assert w.stable(force=True)["errcode"] == 45009  # 3rd force of the day
        sandbox.advance_time(86_400)
        assert "access_token" in w.stable(force=True)


def test_stable_token_renews_near_expiry(sb: Sandbox, wx: Wx) -> None:
    first = wx.stable()
    sb.advance_time(7200 - 200)  # inside the 5-minute renewal window
    renewed = wx.stable()
    assert renewed["access_token"] != first["access_token"]
    assert renewed["expires_in"] == 7200
    # the old one lives until its own expiry
    assert (
        wx.code("comment/list", {"msg_data_id": MSG, "count": 1}, token=first["access_token"]) == 0
    )
    sb.advance_time(201)
    assert (
        wx.code("comment/list", {"msg_data_id": MSG, "count": 1}, token=first["access_token"])
        == 42001
    )


def test_classic_refetch_overlap(sb: Sandbox, wx: Wx) -> None:
    body = {"msg_data_id": MSG, "count": 1}
    t1 = wx.fetch_token()["access_token"]
    t2 = wx.fetch_token()["access_token"]
    assert wx.code("comment/list", body, token=t1) == 0  # both work for 5 minutes
    assert wx.code("comment/list", body, token=t2) == 0
    sb.advance_time(301)
    assert wx.code("comment/list", body, token=t1) == 40001
    assert wx.code("comment/list", body, token=t2) == 0
    t3 = wx.fetch_token()["access_token"]
    t4 = wx.fetch_token()["access_token"]
    assert wx.code("comment/list", body, token=t2) == 40001  # only the newest old one overlaps
    assert wx.code("comment/list", body, token=t3) == 0
    assert wx.code("comment/list", body, token=t4) == 0
    assert sb.token_fetches(APP) == 4
    assert sb.state()["wechat"][APP]["tokens_issued"] == 4


def test_token_expiry_with_short_ttl() -> None:
    sandbox = Sandbox(token_ttl=60)
    sandbox.add_wechat_app(app_id=APP, app_secret=SECRET)
    sandbox.add_article(APP, msg_data_id=MSG)
    with sandbox, httpx.Client(base_url=sandbox.url) as client:
        w = Wx(client)
        stable = w.stable()
        assert stable["expires_in"] == 60
        sandbox.advance_time(61)
        assert (
            w.code("comment/list", {"msg_data_id": MSG, "count": 1}, token=stable["access_token"])
            == 42001
        )
        fresh = w.stable()["access_token"]
        assert fresh != stable["access_token"]
        assert w.code("comment/list", {"msg_data_id": MSG, "count": 1}, token=fresh) == 0


def test_missing_malformed_unknown_tokens(http: httpx.Client) -> None:
    body = raw({"msg_data_id": MSG, "count": 1})
    assert http.post("/cgi-bin/comment/list", content=body).json()["errcode"] == 41001
    bad = http.post("/cgi-bin/comment/list", params={"access_token": "abc"}, content=body)
    assert bad.json()["errcode"] == 40014
    forged = "9_" + "A" * 120
    unknown = http.post("/cgi-bin/comment/list", params={"access_token": forged}, content=body)
    assert unknown.json()["errcode"] == 40001


def test_invalidate_tokens_per_app(sb: Sandbox, http: httpx.Client) -> None:
    sb.add_wechat_app(app_id="wxother", app_secret="s2")
    sb.add_article("wxother", msg_data_id=MSG)
    mine, other = Wx(http), Wx(http, "wxother", "s2")
    body = {"msg_data_id": MSG, "count": 1}
    assert mine.code("comment/list", body) == 0
    assert other.code("comment/list", body) == 0
    assert sb.invalidate_tokens(APP) == 1
    assert mine.code("comment/list", body) == 40001
    assert other.code("comment/list", body) == 0
    # a normal stable_token call after invalidation issues a working token
    assert mine.code("comment/list", body, token=mine.stable()["access_token"]) == 0
    sb.invalidate_tokens()
    assert other.code("comment/list", body) == 40001


def test_token_fetch_count_under_concurrency(sb: Sandbox, http: httpx.Client) -> None:
    tokens: list[str] = []

    def fetch() -> None:
        tokens.append(Wx(http).stable()["access_token"])

    threads = [threading.Thread(target=fetch) for _ in range(50)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sb.token_fetches(APP) == 50
    assert len(sb.calls("stable_token")) == 50
    assert len(set(tokens)) == 1
    assert sb.state()["wechat"][APP]["tokens_issued"] == 1


def test_get_on_post_endpoint_is_43002(wx: Wx, http: httpx.Client) -> None:
    answer = http.get("/cgi-bin/comment/list", params={"access_token": wx.token})
    assert answer.json()["errcode"] == 43002


# --- WeChat request bodies -----------------------------------------------------------------


def test_unicode_escapes_refused_raw_utf8_accepted(sb: Sandbox, wx: Wx) -> None:
    cid = sb.add_wechat_comment(APP, MSG, 0, content="hi")
    escaped = json.dumps(cbody(cid, content="谢谢")).encode()  # ensure_ascii: \u8c22
    assert b"\\u" in escaped
    assert wx.code("comment/reply/add", content=escaped) == 40033
    assert sb.wechat_comment(APP, MSG, 0, cid)["reply"] is None
    # an escaped backslash followed by "u0041" is text, not an escape
    assert wx.code("comment/reply/add", cbody(cid, content="\\u0041 谢谢")) == 0
    assert sb.wechat_comment(APP, MSG, 0, cid)["reply"]["content"] == "\\u0041 谢谢"


@pytest.mark.parametrize(
    ("content", "code"),
    [
        (b"", 44002),
        (b"   ", 44002),
        (b"{not json", 47001),
        (b"[1, 2]", 47001),
        (b'{"count": 1}', 47001),
    ],
)
def test_bad_bodies(wx: Wx, content: bytes, code: int) -> None:
    assert wx.code("comment/list", content=content) == code


def test_big_and_string_msg_data_id_and_index(sb: Sandbox, wx: Wx) -> None:
    sb.add_article(APP, msg_data_id=BIG_MSG, index=0)
    sb.add_article(APP, msg_data_id=BIG_MSG, index=1)
    sb.add_wechat_comment(APP, BIG_MSG, 0, content="first article")
    sb.add_wechat_comment(APP, BIG_MSG, 1, content="second article")
    no_index = wx.call("comment/list", {"msg_data_id": BIG_MSG, "begin": 0, "count": 5})
    assert [c["content"] for c in no_index["comment"]] == ["first article"]
    as_string = wx.call("comment/list", {"msg_data_id": str(BIG_MSG), "index": 1, "count": 5})
    assert [c["content"] for c in as_string["comment"]] == ["second article"]
    assert wx.code("comment/list", {"msg_data_id": BIG_MSG, "index": 2, "count": 5}) == 88001
    assert wx.code("comment/list", {"msg_data_id": 1, "count": 5}) == 88001


# --- comment/list --------------------------------------------------------------------------


def test_list_newest_first_paging_and_shape(sb: Sandbox, wx: Wx) -> None:
    ids = [
        sb.add_wechat_comment(
            APP,
            MSG,
            0,
            content=f"c{i}",
            openid=f"o{i}" if i % 2 else None,
            create_time=1_700_000_000 + i,
        )
        for i in range(7)
    ]
    assert ids == list(range(1, 8))
    old = sb.add_wechat_comment(APP, MSG, 0, content="late but old", create_time=1_600_000_000)
    page1 = wx.listing(begin=0, count=3)
    assert page1["errcode"] == 0
    assert page1["total"] == 8
    assert [c["user_comment_id"] for c in page1["comment"]] == [7, 6, 5]
    first = page1["comment"][0]
    assert first == {
        "user_comment_id": 7,
        "create_time": 1_700_000_006,
        "content": "c6",
        "comment_type": 0,
    }  # no openid key, no reply key
    assert page1["comment"][1]["openid"] == "o5"
    page3 = wx.listing(begin=6, count=3)
    assert [c["user_comment_id"] for c in page3["comment"]] == [1, old]
    assert wx.listing(begin=8, count=3)["comment"] == []


def test_list_types_and_hidden_comments(sb: Sandbox, wx: Wx) -> None:
    for i in range(5):
        sb.add_wechat_comment(
            APP, MSG, 0, content=f"c{i}", elected=i in (1, 3), reply="r" if i == 3 else None
        )
    sb.user_delete_comment(APP, MSG, 0, 5)
    assert wx.code("comment/delete", cbody(1)) == 0
    every = wx.listing(type=0)
    assert [c["user_comment_id"] for c in every["comment"]] == [4, 3, 2]
    assert every["total"] == 3
    assert every["comment"][0]["reply"]["content"] == "r"
    assert "reply" not in every["comment"][1]
    elected = wx.listing(type=2)
    assert [(c["user_comment_id"], c["comment_type"]) for c in elected["comment"]] == [
        (4, 1),
        (2, 1),
    ]
    normal = wx.listing(type=1)
    assert [c["user_comment_id"] for c in normal["comment"]] == [3]
    assert wx.code("comment/list", {"msg_data_id": MSG, "count": 5, "type": 3}) == 47001


@pytest.mark.parametrize(("count", "code"), [(0, 88010), (-1, 88010), (1, 0), (49, 0), (50, 88010)])
def test_list_count_limit(wx: Wx, count: int, code: int) -> None:
    assert wx.code("comment/list", {"msg_data_id": MSG, "begin": 0, "count": count}) == code


def test_list_count_limit_configurable() -> None:
    sandbox = Sandbox(list_count_max=50)
    sandbox.add_wechat_app(app_id=APP, app_secret=SECRET)
    sandbox.add_article(APP, msg_data_id=MSG)
    with sandbox, httpx.Client(base_url=sandbox.url) as client:
        w = Wx(client)
        assert w.code("comment/list", {"msg_data_id": MSG, "count": 50}) == 0
        assert w.code("comment/list", {"msg_data_id": MSG, "count": 51}) == 88010


def test_88000_without_privilege(sb: Sandbox, wx: Wx) -> None:
    sb.add_article(APP, msg_data_id=MSG + 1, privilege=False)
    for op in ("comment/list", "comment/open", "comment/delete"):
        body = {"msg_data_id": MSG + 1, "count": 5, "user_comment_id": 1}
        assert wx.code(op, body) == 88000


def test_88002_limited_article(sb: Sandbox, wx: Wx) -> None:
    sb.add_article(APP, msg_data_id=MSG, limited=True)
    cid = sb.add_wechat_comment(APP, MSG, 0, content="x")
    assert wx.code("comment/open", {"msg_data_id": MSG}) == 88002
    assert wx.code("comment/markelect", cbody(cid)) == 88002
    assert wx.code("comment/reply/add", cbody(cid, content="hi")) == 88002
    assert wx.listing()["total"] == 1
    assert wx.code("comment/delete", cbody(cid)) == 0


# --- comment actions -----------------------------------------------------------------------


def test_open_close(sb: Sandbox, wx: Wx) -> None:
    assert wx.code("comment/close", {"msg_data_id": MSG}) == 0
    assert sb.article_state(APP, MSG)["comments_open"] is False
    assert wx.code("comment/open", {"msg_data_id": MSG, "index": 0}) == 0
    assert sb.state()["wechat"][APP]["articles"][0]["comments_open"] is True
    assert wx.code("comment/close", {"index": 0}) == 47001


def test_markelect_unmarkelect(sb: Sandbox, wx: Wx) -> None:
    sb.add_article(APP, msg_data_id=MSG, max_elected=1)
    a = sb.add_wechat_comment(APP, MSG, 0, content="a")
    b = sb.add_wechat_comment(APP, MSG, 0, content="b")
    c = sb.add_wechat_comment(APP, MSG, 0, content="c")
    assert wx.code("comment/markelect", cbody(a)) == 0
    assert wx.code("comment/markelect", cbody(a)) == 0  # already elected: fine
    assert sb.wechat_comment(APP, MSG, 0, a)["elected"] is True
    assert wx.code("comment/markelect", cbody(b)) == 88003
    assert wx.code("comment/unmarkelect", cbody(a)) == 0
    assert wx.code("comment/unmarkelect", cbody(a)) == 0
    assert wx.code("comment/markelect", cbody(b)) == 0
    sb.user_delete_comment(APP, MSG, 0, c)
    assert wx.code("comment/markelect", cbody(c)) == 88004
    assert wx.code("comment/unmarkelect", cbody(c)) == 88008
    assert wx.code("comment/markelect", cbody(99)) == 88008
    assert wx.code("comment/unmarkelect", cbody(99)) == 88008
    assert wx.code("comment/markelect", {"msg_data_id": MSG}) == 47001


def test_delete(sb: Sandbox, wx: Wx) -> None:
    cid = sb.add_wechat_comment(APP, MSG, 0, content="spam", openid="oSpam")
    assert wx.code("comment/delete", cbody(cid)) == 0
    assert sb.wechat_comment(APP, MSG, 0, cid)["deleted"] is True
    assert wx.code("comment/delete", cbody(cid)) == 88008
    assert wx.code("comment/delete", cbody(12345)) == 88008
    assert wx.listing()["total"] == 0
    comments = sb.state()["wechat"][APP]["articles"][0]["comments"]
    assert comments[0]["deleted"] is True and comments[0]["openid"] == "oSpam"


def test_reply_add_and_delete(sb: Sandbox, wx: Wx) -> None:
    cid = sb.add_wechat_comment(APP, MSG, 0, content="question")
    assert wx.code("comment/reply/add", cbody(cid, content="")) == 88007
    assert wx.code("comment/reply/add", cbody(cid)) == 88007
    assert wx.code("comment/reply/add", cbody(cid, content="长" * 301)) == 88007
    assert wx.code("comment/reply/add", cbody(cid, content="长" * 300)) == 0
    assert wx.code("comment/reply/add", cbody(cid, content="again")) == 88005
    listed = wx.listing()["comment"][0]
    assert listed["reply"]["content"] == "长" * 300
    assert isinstance(listed["reply"]["create_time"], int)
    assert wx.code("comment/reply/delete", cbody(cid)) == 0
    assert wx.code("comment/reply/delete", cbody(cid)) == 87009
    assert "reply" not in wx.listing()["comment"][0]
    assert wx.code("comment/reply/add", cbody(77, content="x")) == 88008
    assert wx.code("comment/reply/delete", cbody(77)) == 88008


def test_reply_limit_configurable() -> None:
    sandbox = Sandbox(reply_max_len=5)
    sandbox.add_wechat_app(app_id=APP, app_secret=SECRET)
    sandbox.add_article(APP, msg_data_id=MSG)
    cid = sandbox.add_wechat_comment(APP, MSG, 0, content="q")
    with sandbox, httpx.Client(base_url=sandbox.url) as client:
        assert Wx(client).code("comment/reply/add", cbody(cid, content="123456")) == 88007


def test_48001_revoked_api(sb: Sandbox, wx: Wx) -> None:
    cid = sb.add_wechat_comment(APP, MSG, 0, content="x")
    sb.revoke_api(APP, "comment/reply/add")
    assert wx.code("comment/reply/add", cbody(cid, content="hi")) == 48001
    assert wx.code("comment/delete", cbody(cid)) == 0
    sb.restore_api(APP, "comment/reply/add")
    assert wx.code("comment/reply/add", cbody(cid, content="hi")) == 88008  # deleted above
    with pytest.raises(ValueError):
        sb.revoke_api(APP, "comment/nope")


# --- blacklist -----------------------------------------------------------------------------


def test_blacklist_batch_rules(sb: Sandbox, wx: Wx) -> None:
    sb.add_follower(APP, *[f"o{i}" for i in range(25)])
    sb.add_foreign_openid(APP, "oForeign")
    assert (
        wx.code("tags/members/batchblacklist", {"openid_list": [f"o{i}" for i in range(21)]})
        == 40032
    )
    assert wx.code("tags/members/batchblacklist", {"openid_list": []}) == 40032
    assert wx.code("tags/members/batchblacklist", {"openid_list": ["o1", "oUnknown"]}) == 40003
    assert wx.code("tags/members/batchblacklist", {"openid_list": ["o1", "oForeign"]}) == 49003
    assert wx.code("tags/members/batchblacklist", {"openid_list": "o1"}) == 47001
    assert sb.blacklist(APP) == []  # refused batches blacklist nobody
    batch = [f"o{i}" for i in range(20)]
    assert wx.code("tags/members/batchblacklist", {"openid_list": batch}) == 0
    assert wx.code("tags/members/batchblacklist", {"openid_list": ["o0"]}) == 0  # again: fine
    assert sb.blacklist(APP) == batch
    assert sb.calls("tags/members/batchblacklist")[-2].body == {"openid_list": batch}
    assert wx.code("tags/members/batchunblacklist", {"openid_list": ["o0", "o1", "o24"]}) == 0
    assert wx.code("tags/members/batchunblacklist", {"openid_list": ["oUnknown"]}) == 40003
    assert sb.state()["wechat"][APP]["blacklist"] == batch[2:]


def test_commenters_are_blacklistable(sb: Sandbox, wx: Wx) -> None:
    sb.add_wechat_comment(APP, MSG, 0, content="x", openid="oCommenter")
    sb.add_wechat_comment(APP, MSG, 0, content="y", openid="oStranger", follower=False)
    assert wx.code("tags/members/batchblacklist", {"openid_list": ["oCommenter"]}) == 0
    assert wx.code("tags/members/batchblacklist", {"openid_list": ["oStranger"]}) == 40003


def test_getblacklist_pages() -> None:
    sandbox = Sandbox(blacklist_page_size=2)
    sandbox.add_wechat_app(app_id=APP, app_secret=SECRET)
    sandbox.blacklist_openids(APP, "oa", "ob", "oc", "od", "oe")
    with sandbox, httpx.Client(base_url=sandbox.url) as client:
        w = Wx(client)
        seen: list[str] = []
        begin = ""
        pages = []
        while True:
            page = w.call("tags/members/getblacklist", {"begin_openid": begin})
            pages.append(page)
            assert page["total"] == 5
            if page["count"] == 0:
                break
            seen += page["data"]["openid"]
            begin = page["next_openid"]
        assert seen == ["oa", "ob", "oc", "od", "oe"]
        assert [p["count"] for p in pages] == [2, 2, 1, 0]
        assert pages[0]["next_openid"] == "ob"
        assert pages[-1]["next_openid"] == ""
        assert w.call("tags/members/getblacklist", {})["data"]["openid"] == ["oa", "ob"]
        assert w.code("tags/members/getblacklist", {"begin_openid": "oNot"}) == 40003


# --- faults --------------------------------------------------------------------------------


def test_busy_everywhere(sb: Sandbox, http: httpx.Client) -> None:
    cid = sb.add_wechat_comment(APP, MSG, 0, content="x")
    w = Wx(http)
    token = w.token
    sb.faults.busy_probability = 1.0
    assert w.fetch_token()["errcode"] == -1
    assert w.code("comment/delete", cbody(cid), token=token) == -1
    assert sb.wechat_comment(APP, MSG, 0, cid)["deleted"] is False
    sb.faults.busy_probability = 0.0
    assert w.code("comment/delete", cbody(cid), token=token) == 0


def test_html_502(sb: Sandbox, http: httpx.Client, wx: Wx) -> None:
    token = wx.token
    sb.faults.html_5xx_probability = 1.0
    answer = http.post("/cgi-bin/comment/list", params={"access_token": token}, content=b"{}")
    assert answer.status_code == 502
    assert answer.headers["content-type"].startswith("text/html")
    assert b"502 Bad Gateway" in answer.content
    record = sb.calls("comment/list")[-1]
    assert (record.fault, record.errcode, record.http_status) == ("html_5xx", None, 502)


def test_malformed_answer_but_effect_happens(sb: Sandbox, http: httpx.Client, wx: Wx) -> None:
    token = wx.token
    cids = [sb.add_wechat_comment(APP, MSG, 0, content=f"c{i}") for i in range(6)]
    sb.faults.malformed_probability = 1.0
    for cid in cids:
        answer = http.post(
            "/cgi-bin/comment/delete", params={"access_token": token}, content=raw(cbody(cid))
        )
        assert answer.status_code == 200
        with pytest.raises(json.JSONDecodeError):
            json.loads(answer.content)
        assert sb.wechat_comment(APP, MSG, 0, cid)["deleted"] is True
    assert {c.fault for c in sb.calls("comment/delete")} == {"malformed"}


def test_quota_per_app_and_endpoint_resets_daily(sb: Sandbox, http: httpx.Client) -> None:
    sb.add_wechat_app(app_id="wxother", app_secret="s2")
    sb.add_article("wxother", msg_data_id=MSG)
    mine, other = Wx(http), Wx(http, "wxother", "s2")
    cids = [sb.add_wechat_comment(APP, MSG, 0, content=f"c{i}") for i in range(4)]
    mine.token, other.token  # noqa: B018 - fetch before the quota applies
    sb.faults.quota = {"comment/reply/add": 2}
    codes = [mine.code("comment/reply/add", cbody(cid, content="r")) for cid in cids[:3]]
    assert codes == [0, 0, 45009]
    assert sb.wechat_comment(APP, MSG, 0, cids[2])["reply"] is None
    assert mine.code("comment/delete", cbody(cids[3])) == 0  # other endpoint unaffected
    other_cid = sb.add_wechat_comment("wxother", MSG, 0, content="x")
    assert other.code("comment/reply/add", cbody(other_cid, content="r")) == 0
    sb.advance_time(86_400)
    mine._token = None
    assert mine.code("comment/reply/add", cbody(cids[2], content="r")) == 0


def test_minute_limit(sb: Sandbox, wx: Wx) -> None:
    wx.token  # noqa: B018
    sb.faults.minute_limit = {"comment/list": 2}
    codes = [wx.code("comment/list", {"msg_data_id": MSG, "count": 1}) for _ in range(3)]
    assert codes == [0, 0, 45011]
    sb.advance_time(60)
    assert wx.code("comment/list", {"msg_data_id": MSG, "count": 1}) == 0


def test_fail_next_is_targeted_and_counted(sb: Sandbox, wx: Wx) -> None:
    wx.token  # noqa: B018
    sb.faults.fail_next(45011, endpoint="comment/open", times=2)
    sb.faults.fail_next("busy")
    assert wx.code("comment/close", {"msg_data_id": MSG}) == -1  # the any-endpoint one
    assert wx.code("comment/open", {"msg_data_id": MSG}) == 45011
    assert wx.code("comment/open", {"msg_data_id": MSG}) == 45011
    assert wx.code("comment/open", {"msg_data_id": MSG}) == 0
    assert sb.faults.to_dict()["fail_next"] == []
    with pytest.raises(ValueError):
        sb.faults.fail_next("explode")  # type: ignore[arg-type]


def test_faults_deterministic_under_seed() -> None:
    def run() -> list[int]:
        sandbox = Sandbox(seed=42)
        sandbox.add_wechat_app(app_id=APP, app_secret=SECRET)
        sandbox.add_article(APP, msg_data_id=MSG)
        with sandbox, httpx.Client(base_url=sandbox.url) as client:
            w = Wx(client)
            w.token  # noqa: B018
            sandbox.faults.busy_probability = 0.5
            return [w.code("comment/list", {"msg_data_id": MSG, "count": 1}) for _ in range(30)]

    first, second = run(), run()
    assert first == second
    assert set(first) == {0, -1}


def test_latency_and_validation(sb: Sandbox, wx: Wx) -> None:
    sb.faults.latency = 0.01
    assert wx.code("comment/list", {"msg_data_id": MSG, "count": 1}) == 0
    with pytest.raises(ValueError):
        sb.faults.busy_probability = 1.5
    with pytest.raises(ValueError):
        sb.faults.latency = -1
    with pytest.raises(ValueError):
        sb.faults.destroy_shape = "tree"
    with pytest.raises(ValueError):
        sb.faults.wechat_list_order = "random"
    with pytest.raises(ValueError):
        sb.faults.quota = {"comment/list": -1}
    with pytest.raises(ValueError):
        sb.faults.update({"nonsense": 1})


# --- Weibo ---------------------------------------------------------------------------------


@pytest.fixture
def wb(sb: Sandbox) -> Sandbox:
    sb.add_weibo_token(access_token=WB_TOKEN, uid=WB_UID, screen_name="brand")
    sb.add_weibo_post(WB_TOKEN, status_id=POST, text="our post")
    return sb


def show(http: httpx.Client, **params: Any) -> httpx.Response:
    return http.get(
        "/2/comments/show.json", params={"access_token": WB_TOKEN, "id": POST, **params}
    )


def destroy(http: httpx.Client, cids: list[int], token: str = WB_TOKEN) -> httpx.Response:
    return http.post(
        "/2/comments/destroy_batch/own/biz.json",
        data={"access_token": token, "cids": ",".join(map(str, cids))},
    )


def test_weibo_show_paging(wb: Sandbox, http: httpx.Client) -> None:
    ids = [
        wb.add_weibo_comment(POST, text=f"c{i}", uid=700 + i, created_at=1_700_000_000 + i)
        for i in range(7)
    ]
    assert ids == sorted(ids) and len(set(ids)) == 7
    assert all(10**15 < i < 2**63 for i in ids)
    first = show(http, count=3).json()
    assert [c["id"] for c in first["comments"]] == ids[::-1][:3]
    assert first["total_number"] == 7
    assert first["next_cursor"] == ids[3]
    item = first["comments"][0]
    assert item["idstr"] == str(ids[6]) and item["text"] == "c6"
    assert item["user"]["id"] == 706
    assert item["status"]["id"] == POST and item["status"]["user"]["screen_name"] == "brand"
    assert item["created_at"].endswith("+0800 2023")
    page2 = show(http, count=3, page=2).json()
    assert [c["id"] for c in page2["comments"]] == ids[::-1][3:6]
    by_max = show(http, count=3, max_id=first["next_cursor"]).json()
    assert [c["id"] for c in by_max["comments"]] == [ids[3], ids[2], ids[1]]
    newer = show(http, since_id=ids[4]).json()
    assert [c["id"] for c in newer["comments"]] == [ids[6], ids[5]]
    assert newer["next_cursor"] == 0
    assert show(http, since_id=ids[6]).json()["comments"] == []


def test_weibo_ids_grow_with_time(wb: Sandbox) -> None:
    a = wb.add_weibo_comment(POST, text="a", uid=1)
    b = wb.add_weibo_comment(POST, text="b", uid=1)
    wb.advance_time(5)
    c = wb.add_weibo_comment(POST, text="c", uid=1)
    assert a < b < c


def test_weibo_show_errors(wb: Sandbox, http: httpx.Client) -> None:
    def code(response: httpx.Response) -> int:
        assert response.status_code == 400
        body = response.json()
        assert isinstance(body["error_code"], int)  # the seed document's number
        assert body["request"] == "/comments/show.json"
        return int(body["error_code"])

    assert code(http.get("/2/comments/show.json", params={"id": POST})) == 10006
    assert (
        code(http.get("/2/comments/show.json", params={"id": POST, "access_token": "x"})) == 21332
    )
    assert code(http.get("/2/comments/show.json", params={"access_token": WB_TOKEN})) == 10016
    assert code(show(http, count="many")) == 10017
    assert (
        code(http.post("/2/comments/show.json", data={"access_token": WB_TOKEN, "id": POST}))
        == 10021
    )
    assert code(show(http, id=POST + 1)) == 20101
    wb.delete_weibo_post(POST)
    assert code(show(http)) == 20101


def test_weibo_token_expiry(wb: Sandbox, http: httpx.Client) -> None:
    wb.add_weibo_token(access_token="2.00short", uid=WB_UID, expires_in=100)
    ok = http.get("/2/comments/show.json", params={"access_token": "2.00short", "id": POST})
    assert ok.status_code == 200
    wb.advance_time(100)
    gone = http.get("/2/comments/show.json", params={"access_token": "2.00short", "id": POST})
    assert gone.json()["error_code"] == 21327
    assert show(http).status_code == 200
    wb.expire_weibo_token(WB_TOKEN)
    assert show(http).json()["error_code"] == 21327


def test_weibo_error_code_types(wb: Sandbox, http: httpx.Client) -> None:
    assert show(http, id=1).json()["error_code"] == 20101  # a number by default (seed 004)
    wb.faults.weibo_error_code_type = "string"
    assert show(http, id=1).json()["error_code"] == "20101"
    wb.faults.weibo_error_code_type = "alternate"
    kinds = [type(show(http, id=1).json()["error_code"]) for _ in range(4)]
    assert kinds == [str, int, str, int]


def test_weibo_destroy_partial_array(wb: Sandbox, http: httpx.Client) -> None:
    wb.faults.destroy_shape = "array"
    wb.add_weibo_post(999, status_id=POST + 1, text="someone else's")
    mine = [wb.add_weibo_comment(POST, text=f"m{i}", uid=5) for i in range(3)]
    theirs = wb.add_weibo_comment(POST + 1, text="t", uid=5)
    answer = destroy(http, [mine[0], 123, mine[1], theirs, mine[0]])
    assert answer.status_code == 200
    assert [c["id"] for c in answer.json()] == [mine[0], mine[1]]
    assert wb.weibo_comment(mine[0])["deleted"] is True
    assert wb.weibo_comment(theirs)["deleted"] is False
    assert [c["id"] for c in show(http).json()["comments"]] == [mine[2]]
    record = wb.calls("comments/destroy_batch/own/biz")[-1]
    assert record.body["access_token"] == "***" and record.scope == f"weibo:{WB_UID}"
    again = destroy(http, [mine[0], mine[1]])
    assert (again.status_code, again.json()["error_code"]) == (400, 20201)
    foreign = destroy(http, [theirs, 42])
    assert foreign.json()["error_code"] == 20203
    assert foreign.json()["request"] == "/comments/destroy_batch/own/biz.json"


def test_weibo_destroy_limits_and_shapes(wb: Sandbox, http: httpx.Client) -> None:
    cids = [wb.add_weibo_comment(POST, text=f"m{i}", uid=5) for i in range(23)]
    too_many = destroy(http, cids[:21])
    assert too_many.json()["error_code"] == 10017
    assert wb.weibo_comment(cids[0])["deleted"] is False
    first = destroy(http, cids[:20])  # the seed document's answer: one comment object
    assert first.status_code == 200 and first.json()["id"] == cids[0]
    assert all(wb.weibo_comment(c)["deleted"] for c in cids[:20])
    wb.faults.destroy_shape = "result"
    assert destroy(http, [cids[20]]).json() == {"result": True}
    wb.faults.destroy_shape = "single"
    single = destroy(http, [cids[21]]).json()
    assert single["id"] == cids[21] and single["status"]["id"] == POST
    missing = http.post("/2/comments/destroy_batch/own/biz.json", data={"access_token": WB_TOKEN})
    assert missing.json()["error_code"] == 10016
    junk = http.post(
        "/2/comments/destroy_batch/own/biz.json", data={"access_token": WB_TOKEN, "cids": "12,abc"}
    )
    assert junk.json()["error_code"] == 10017
    header_auth = http.post(
        "/2/comments/destroy_batch/own/biz.json",
        data={"cids": str(cids[22])},
        headers={"Authorization": f"OAuth2 {WB_TOKEN}"},
    )
    assert header_auth.status_code == 200
    assert (
        http.get(
            "/2/comments/destroy_batch/own/biz.json", params={"access_token": WB_TOKEN}
        ).json()["error_code"]
        == 10021
    )


def show_batch(http: httpx.Client, cids: list[int], token: str = WB_TOKEN) -> httpx.Response:
    return http.get(
        "/2/comments/show_batch/biz.json",
        params={"access_token": token, "cids": ",".join(map(str, cids))},
    )


def test_weibo_show_batch_returns_the_comments_that_exist(
    wb: Sandbox, http: httpx.Client
) -> None:
    wb.add_weibo_post(999, status_id=POST + 1, text="someone else's")
    mine = [wb.add_weibo_comment(POST, text=f"m{i}", uid=5) for i in range(3)]
    theirs = wb.add_weibo_comment(POST + 1, text="t", uid=6)
    destroy(http, [mine[1]])
    answer = show_batch(http, [mine[2], mine[1], 123, theirs, mine[0], mine[2]])
    assert answer.status_code == 200
    found = answer.json()
    assert [c["id"] for c in found] == [mine[2], theirs, mine[0]]  # order asked, no dupes
    assert found[1]["status"]["id"] == POST + 1 and found[1]["idstr"] == str(theirs)
    assert show_batch(http, [mine[1], 42]).json() == []  # nothing found: empty, not an error
    wb.delete_weibo_post(POST + 1)
    assert show_batch(http, [theirs]).json() == []
    record = wb.calls("comments/show_batch/biz")[-1]
    assert record.method == "GET" and record.query["access_token"] == "***"
    assert record.scope == f"weibo:{WB_UID}"


def test_weibo_show_batch_errors(wb: Sandbox, http: httpx.Client) -> None:
    cids = [wb.add_weibo_comment(POST, text=f"m{i}", uid=5) for i in range(51)]
    assert len(show_batch(http, cids[:50]).json()) == 50
    too_many = show_batch(http, cids)
    assert (too_many.status_code, too_many.json()["error_code"]) == (400, 10017)
    assert too_many.json()["request"] == "/comments/show_batch/biz.json"
    missing = http.get("/2/comments/show_batch/biz.json", params={"access_token": WB_TOKEN})
    assert missing.json()["error_code"] == 10016
    junk = http.get(
        "/2/comments/show_batch/biz.json", params={"access_token": WB_TOKEN, "cids": "1,x"}
    )
    assert junk.json()["error_code"] == 10017
    assert show_batch(http, [cids[0]], token="nope").json()["error_code"] == 21332
    posted = http.post(
        "/2/comments/show_batch/biz.json", data={"access_token": WB_TOKEN, "cids": "1"}
    )
    assert posted.json()["error_code"] == 10021
    wb.faults.fail_next(20502, endpoint="comments/show_batch/biz")
    assert show_batch(http, [cids[0]]).json()["error"] == "Auth failed!"


def test_weibo_faults(wb: Sandbox, http: httpx.Client) -> None:
    wb.faults.fail_next("busy", endpoint="comments/show")
    busy = show(http)
    assert (busy.status_code, busy.json()["error_code"]) == (500, 10001)
    wb.faults.quota = {"comments/show": 1}
    assert show(http).status_code == 200
    limited = show(http)
    assert (limited.status_code, limited.json()["error_code"]) == (403, 10023)
    wb.faults.weibo_quota_code = 10024
    assert show(http).json()["error_code"] == 10024
    wb.advance_time(3600)
    assert show(http).status_code == 200
    wb.faults.minute_limit = {"comments/destroy_batch/own/biz": 0}
    assert destroy(http, [1]).json()["error_code"] == 10022


def test_weibo_destroy_modes(wb: Sandbox, http: httpx.Client) -> None:
    wb.add_weibo_post(999, status_id=POST + 1, text="someone else's")
    mine = [wb.add_weibo_comment(POST, text=f"m{i}", uid=5) for i in range(3)]
    theirs = wb.add_weibo_comment(POST + 1, text="t", uid=5)
    wb.faults.destroy_mode = "atomic"
    assert destroy(http, [mine[0], theirs, 123]).json()["error_code"] == 20203
    assert destroy(http, [mine[0], 123]).json()["error_code"] == 20201
    assert not any(wb.weibo_comment(c)["deleted"] for c in mine)
    wb.faults.destroy_mode = "keep"
    kept = destroy(http, [mine[0]])
    assert (kept.status_code, kept.json()) == (200, [])
    assert not wb.weibo_comment(mine[0])["deleted"]
    wb.faults.destroy_mode = "partial"
    assert destroy(http, [mine[0], theirs]).json()["id"] == mine[0]
    with pytest.raises(ValueError, match="destroy_mode"):
        wb.faults.destroy_mode = "some"


@pytest.mark.parametrize("kind", ["bad_utf8", "not_object", "deep_json", "oversized"])
def test_answer_damages(wb: Sandbox, http: httpx.Client, kind: str) -> None:
    wb.faults.fail_next(kind, endpoint="comments/show")  # type: ignore[arg-type]
    body = show(http).content
    if kind == "bad_utf8":
        with pytest.raises(UnicodeDecodeError):
            body.decode("utf-8")
    elif kind == "not_object":
        assert body == b'"ok"'
    elif kind == "deep_json":
        assert body.startswith(b"[" * 1000)
    else:
        assert len(body) > 8 * 1024 * 1024
    assert wb.calls("comments/show")[-1].fault == kind
    assert show(http).json()["total_number"] == 0


# --- admin endpoints, seeding, server --------------------------------------------------------


SEED: dict[str, Any] = {
    "wechat": {
        "apps": [
            {
                "app_id": "wxseed",
                "app_secret": "seed-secret",
                "followers": ["oF1"],
                "foreign_openids": ["oX"],
                "blacklist": ["oB"],
                "revoked_apis": ["comment/reply/delete"],
                "articles": [
                    {
                        "msg_data_id": BIG_MSG,
                        "index": 1,
                        "max_elected": 5,
                        "comments": [
                            {"content": "好评", "openid": "oC1", "create_time": 1_700_000_000},
                            {"content": "差评", "elected": True, "reply": "谢谢"},
                            {"content": "gone", "user_deleted": True},
                        ],
                    }
                ],
            }
        ]
    },
    "weibo": {
        "tokens": [{"access_token": "2.00seed", "uid": 11, "screen_name": "seeder"}],
        "users": [{"uid": 22, "screen_name": "fan"}],
        "posts": [
            {
                "status_id": 77,
                "access_token": "2.00seed",
                "text": "p",
                "comments": [{"text": "w1", "uid": 22, "created_at": 1_700_000_000.5}],
            }
        ],
    },
    "faults": {"weibo_error_code_type": "number"},
}


def test_seed_file_and_state(tmp_path: Path) -> None:
    path = tmp_path / "seed.json"
    path.write_text(json.dumps(SEED, ensure_ascii=False), encoding="utf-8")
    sandbox = Sandbox()
    report = sandbox.load_seed_file(path)
    assert report["wechat_comments"] == [
        ["wxseed", BIG_MSG, 1, 1],
        ["wxseed", BIG_MSG, 1, 2],
        ["wxseed", BIG_MSG, 1, 3],
    ]
    assert len(report["weibo_comments"]) == 1
    state = sandbox.state()
    json.dumps(state)  # JSON-able
    app = state["wechat"]["wxseed"]
    assert app["blacklist"] == ["oB"] and app["revoked_apis"] == ["comment/reply/delete"]
    comments = app["articles"][0]["comments"]
    assert comments[1]["reply"]["content"] == "谢谢" and comments[1]["elected"] is True
    assert comments[2]["user_deleted"] is True
    assert app["articles"][0]["visible"] == 2
    assert state["weibo"]["posts"]["77"]["comments"][0]["text"] == "w1"
    assert "2.00seed" not in json.dumps(state)
    assert sandbox.faults.weibo_error_code_type == "number"
    with sandbox, httpx.Client(base_url=sandbox.url) as client:
        w = Wx(client, "wxseed", "seed-secret")
        listed = w.call("comment/list", {"msg_data_id": BIG_MSG, "index": 1, "count": 10})
        assert [c["content"] for c in listed["comment"]] == ["差评", "好评"]
        assert w.code("tags/members/batchblacklist", {"openid_list": ["oC1", "oF1"]}) == 0
        assert (
            w.code(
                "comment/reply/delete", {"msg_data_id": BIG_MSG, "index": 1, "user_comment_id": 2}
            )
            == 48001
        )
        shown = client.get("/2/comments/show.json", params={"access_token": "2.00seed", "id": 77})
        assert shown.json()["comments"][0]["user"]["screen_name"] == "fan"


def test_admin_endpoints(sb: Sandbox, http: httpx.Client, wx: Wx) -> None:
    assert http.get("/_sandbox/health").json() == {"ok": True}
    seeded = http.post("/_sandbox/seed", json={"wechat": SEED["wechat"]}).json()
    assert seeded["ok"] is True and len(seeded["wechat_comments"]) == 3
    added = http.post(
        "/_sandbox/wechat/comment",
        json={"app_id": APP, "msg_data_id": MSG, "content": "via admin", "openid": "oAdm"},
    ).json()
    assert added == {"ok": True, "user_comment_id": 1}
    assert wx.listing()["comment"][0]["content"] == "via admin"
    assert http.post(
        "/_sandbox/wechat/user_delete",
        json={"app_id": APP, "msg_data_id": MSG, "user_comment_id": 1},
    ).json()["ok"]
    assert wx.listing()["total"] == 0
    assert http.post(
        "/_sandbox/wechat/followers", json={"app_id": APP, "openids": ["oZ"], "foreign": True}
    ).json()["ok"]
    assert wx.code("tags/members/batchblacklist", {"openid_list": ["oZ"]}) == 49003
    assert http.post(
        "/_sandbox/wechat/revoke_api", json={"app_id": APP, "endpoint": "comment/list"}
    ).json()["ok"]
    assert wx.listing()["errcode"] == 48001
    http.post(
        "/_sandbox/wechat/revoke_api",
        json={"app_id": APP, "endpoint": "comment/list", "restore": True},
    )
    assert http.post(
        "/_sandbox/wechat/article", json={"app_id": APP, "msg_data_id": 5, "privilege": False}
    ).json()["ok"]
    assert wx.code("comment/list", {"msg_data_id": 5, "count": 1}) == 88000

    http.post("/_sandbox/weibo/token", json={"access_token": WB_TOKEN, "uid": WB_UID})
    http.post("/_sandbox/weibo/post", json={"access_token": WB_TOKEN, "status_id": POST})
    wid = http.post(
        "/_sandbox/weibo/comment", json={"status_id": POST, "text": "hi", "uid": 3}
    ).json()["id"]
    assert show(http).json()["comments"][0]["id"] == wid

    faults = http.post("/_sandbox/faults", json={"busy_probability": 1.0}).json()
    assert faults["busy_probability"] == 1.0 and sb.faults.busy_probability == 1.0
    assert wx.listing()["errcode"] == -1
    http.post(
        "/_sandbox/faults",
        json={"reset": True, "fail_next": [{"kind": 45009, "endpoint": "comment/list"}]},
    )
    assert wx.listing()["errcode"] == 45009
    assert http.get("/_sandbox/faults").json()["busy_probability"] == 0.0

    assert http.post("/_sandbox/invalidate_tokens", json={"app_id": APP}).json()["invalidated"] >= 1
    assert wx.listing()["errcode"] == 40001
    before = sb.now()
    assert http.post("/_sandbox/advance_time", json={"seconds": 100}).json()["time"] >= before + 100

    calls = http.get("/_sandbox/calls", params={"endpoint": "comment/list"}).json()["calls"]
    assert calls and all(c["endpoint"] == "comment/list" for c in calls)
    assert all(c["query"]["access_token"] == "***" for c in calls)
    state = http.get("/_sandbox/state").json()
    assert state["wechat"]["wxseed"]["articles"][0]["msg_data_id"] == BIG_MSG
    http.post("/_sandbox/reset_calls")
    assert sb.calls() == []

    assert http.get("/_sandbox/nope").status_code == 404
    assert http.get("/_sandbox/seed").status_code == 405
    bad = http.post("/_sandbox/wechat/comment", content=b"{oops")
    assert bad.status_code == 400 and bad.json()["ok"] is False
    missing = http.post(
        "/_sandbox/wechat/comment", json={"app_id": "wxnone", "msg_data_id": 1, "content": "x"}
    )
    assert missing.status_code == 400 and "KeyError" in missing.json()["error"]


def test_unknown_path_and_chunked_body(sb: Sandbox, http: httpx.Client, wx: Wx) -> None:
    assert http.get("/cgi-bin/nothing").status_code == 404
    assert sb.calls()[-1].endpoint == "unknown"

    def chunks() -> Iterator[bytes]:
        yield b'{"msg_data_id": '
        yield str(MSG).encode() + b', "count": 3}'

    answer = http.post("/cgi-bin/comment/list", params={"access_token": wx.token}, content=chunks())
    assert answer.json()["errcode"] == 0


def test_loopback_only_and_stop_closes_connections() -> None:
    with pytest.raises(ValueError):
        Sandbox(host="0.0.0.0")
    sandbox = Sandbox()
    sandbox.start()
    client = httpx.Client(base_url=sandbox.url)
    assert client.get("/_sandbox/health").status_code == 200  # keep-alive connection open
    sandbox.stop()
    sandbox.stop()  # idempotent
    with pytest.raises(httpx.TransportError):
        client.get("/_sandbox/health")
    client.close()


def test_concurrent_actions_are_consistent(sb: Sandbox) -> None:
    cids = [sb.add_wechat_comment(APP, MSG, 0, content=f"c{i}") for i in range(200)]
    with httpx.Client(base_url=sb.url) as client:
        token = Wx(client).token
    errors: list[int] = []

    def worker(part: list[int]) -> None:
        with httpx.Client(base_url=sb.url) as client:
            w = Wx(client)
            for cid in part:
                errors.append(w.code("comment/delete", cbody(cid), token=token))
                sb.add_wechat_comment(APP, MSG, 0, content="new")

    threads = [threading.Thread(target=worker, args=(cids[i::8],)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == [0] * 200
    state = sb.article_state(APP, MSG)
    assert state["visible"] == 200
    assert len(state["comments"]) == 400
    assert sorted({c["user_comment_id"] for c in state["comments"]}) == list(range(1, 401))


# --- process mode --------------------------------------------------------------------------


def _run_sandbox(*args: str) -> subprocess.CompletedProcess[str]:
    """``python -m worker.sandbox`` that is expected to refuse and exit at once."""
    return subprocess.run([sys.executable, "-m", "worker.sandbox", *args], capture_output=True,
                          text=True, timeout=20, check=False)


@pytest.mark.parametrize("stop_signal", [signal.SIGTERM, signal.SIGINT])
def test_process_mode(tmp_path: Path, stop_signal: signal.Signals) -> None:
    seed = tmp_path / "seed.json"
    seed.write_text(json.dumps(SEED), encoding="utf-8")
    proc, url = start_sandbox(tmp_path / "sandbox.log", "--seed-file", str(seed), "--seed", "3")
    try:
        with httpx.Client(base_url=url, timeout=10) as client:
            w = Wx(client, "wxseed", "seed-secret")
            listed = w.call("comment/list", {"msg_data_id": BIG_MSG, "index": 1, "count": 10})
            assert listed["total"] == 2
            added = client.post(
                "/_sandbox/wechat/comment",
                json={"app_id": "wxseed", "msg_data_id": BIG_MSG, "index": 1, "content": "new"},
            )
            assert added.json()["user_comment_id"] == 4
            calls = client.get("/_sandbox/calls").json()["calls"]
            assert [c["endpoint"] for c in calls] == ["token", "comment/list"]
        assert proc.stop(10, stop_signal) == 0
        assert proc.log() == f"sandbox listening on {url}\n"  # that line, and nothing else
    finally:
        if proc.alive():
            proc.kill()


def test_process_mode_refuses_other_hosts_and_bad_seed(tmp_path: Path) -> None:
    refused = _run_sandbox("--port", "0", "--host", "0.0.0.0")
    assert refused.returncode == 2 and refused.stdout == "" and "127.0.0.1" in refused.stderr
    bad = tmp_path / "bad.json"
    bad.write_text("[]", encoding="utf-8")
    refused = _run_sandbox("--port", "0", "--seed-file", str(bad))
    assert refused.returncode == 2 and "seed file" in refused.stderr


def test_a_setting_no_platform_takes_is_named() -> None:
    with pytest.raises(TypeError, match="unknown settings: list_count_maxx"):
        Sandbox(list_count_maxx=3)


def test_each_platform_takes_its_own_settings() -> None:
    sb = Sandbox(list_count_max=7, weibo_destroy_max=3, token_ttl=60)
    wechat, weibo = sb.platform("wechat"), sb.platform("weibo")
    assert isinstance(wechat, WechatApi) and isinstance(weibo, WeiboApi)
    assert wechat.limits.list_count_max == 7 and wechat.limits.token_ttl == 60
    assert weibo.limits.weibo_destroy_max == 3
