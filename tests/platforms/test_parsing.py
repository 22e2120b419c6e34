"""Parsing of recorded real payloads (api-notes.md §1.2, §6.4): pure unit tests."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest

from worker.platforms.parsing import (
    as_timestamp,
    parse_weibo_time,
    wechat_comment_list,
    weibo_comment,
    weibo_comment_ids,
)
from worker.platforms.wechat import parse_target, wechat_code
from worker.platforms.weibo import weibo_code

# JeffreySu/WeiXinMPSDK issue #1108: a real answer, no "reply" key, numeric create_time.
REAL_LIST = """
{
    "errcode": 0,
    "errmsg": "ok",
    "comment": [
        {
            "user_comment_id": 9,
            "create_time": 1521255525,
            "content": "如果有什么大考验的话可能会发现自己啥都没改都白扯了吧",
            "comment_type": 0,
            "openid": "oufSm0Xw0nhuha_nWD6AfiZ3rgvA"
        }
    ],
    "total": 1
}
"""

# WxJava's test fixture: create_time as a (non-numeric) string, a reply, elected.
WXJAVA_LIST = """
{
    "errcode": 0,
    "errmsg": "ok",
    "total": 1,
    "comment": [
        {
            "user_comment_id": 1,
            "openid": "OPENID",
            "create_time": "CREATE_TIME",
            "content": "CONTENT",
            "comment_type": 1,
            "reply": {
                "content": "CONTENT",
                "create_time": "CREATE_TIME"
            }
        }
    ]
}
"""


def test_real_comment_list_without_reply() -> None:
    comments, total, raw = wechat_comment_list(
        json.loads(REAL_LIST), account="oa", target="2247483650:0"
    )
    assert (total, raw) == (1, 1)
    [c] = comments
    assert c.platform == "wechat"
    assert c.id == "9"
    assert c.target == "2247483650:0"
    assert c.account == "oa"
    assert c.author == "oufSm0Xw0nhuha_nWD6AfiZ3rgvA"
    assert c.created_at == 1521255525.0
    assert c.content.startswith("如果有什么大考验")
    assert c.elected is False
    assert c.replied is False


def test_wxjava_fixture_with_string_create_time() -> None:
    comments, total, _ = wechat_comment_list(json.loads(WXJAVA_LIST), account=None, target="1:0")
    [c] = comments
    assert total == 1
    assert c.id == "1"
    assert c.created_at is None  # "CREATE_TIME" is not a time
    assert c.elected is True
    assert c.replied is True
    assert c.author == "OPENID"


def test_list_tolerates_missing_openid_numeric_string_time_and_missing_comment() -> None:
    body = {
        "errcode": 0,
        "comment": [
            {"user_comment_id": "12", "create_time": "1521255525", "content": "x"},
            {"user_comment_id": None, "content": "no id: skipped"},
            {"user_comment_id": 13, "openid": "", "content": "empty openid"},
        ],
        "total": "3",
    }
    comments, total, raw = wechat_comment_list(body, account="a", target="5:1")
    assert [c.id for c in comments] == ["12", "13"]
    assert comments[0].author is None and comments[1].author is None
    assert comments[0].created_at == 1521255525.0
    assert (total, raw) == (3, 3)
    assert wechat_comment_list({"errcode": 0, "comment": None}, account=None, target="t") == (
        [], 0, 0,
    )


@pytest.mark.parametrize(
    ("value", "expected"),
    [(1521255525, 1521255525.0), ("1521255525", 1521255525.0), ("CREATE_TIME", None),
     (None, None), (True, None), (1.5, 1.5)],
)
def test_as_timestamp(value: object, expected: float | None) -> None:
    assert as_timestamp(value) == expected


def test_weibo_created_at() -> None:
    ts = parse_weibo_time("Wed Jun 01 00:50:25 +0800 2011")
    assert ts == datetime(2011, 5, 31, 16, 50, 25, tzinfo=UTC).timestamp()
    assert parse_weibo_time("Tue May 31 17:46:55 -0130 2011") == datetime(
        2011, 5, 31, 19, 16, 55, tzinfo=UTC
    ).timestamp()
    assert parse_weibo_time("yesterday") is None
    assert parse_weibo_time("Wed Foo 01 00:50:25 +0800 2011") is None
    assert parse_weibo_time(None) is None


def test_weibo_comment_from_documented_example() -> None:
    item = {
        "created_at": "Wed Jun 01 00:50:25 +0800 2011",
        "id": 12438492184,
        "text": "love your work.......",
        "mid": "202110601896455629",
        "user": {"id": 1404376560, "screen_name": "zaku"},
        "status": {"id": 11488058246},
    }
    c = weibo_comment(item, account="wb", target="11488058246")
    assert c is not None
    assert (c.platform, c.id, c.author, c.target) == ("weibo", "12438492184", "1404376560",
                                                      "11488058246")
    assert c.created_at == datetime(2011, 5, 31, 16, 50, 25, tzinfo=UTC).timestamp()
    assert weibo_comment_ids([item, {"idstr": "5"}, "6", {"no": "id"}, None]) == [
        "12438492184", "5", "6",
    ]


def test_error_code_readers() -> None:
    assert wechat_code({"errcode": 0, "errmsg": "ok"}) == (0, "ok")
    assert wechat_code({"errcode": 88008, "errmsg": "comment is not exists"}) == (
        88008, "comment is not exists",
    )
    assert wechat_code({"access_token": "x"}) == (None, "")
    assert wechat_code([1, 2]) == (None, "")
    assert weibo_code({"error_code": "20502", "error": "Auth failed!"}) == (20502, "Auth failed!")
    assert weibo_code({"error_code": 20201, "error": "x"}) == (20201, "x")
    assert weibo_code([{"id": 1}]) == (None, "")


def test_parse_target() -> None:
    assert parse_target("2247483650:0") == (2247483650, 0)
    assert parse_target("99999999999999999999:3") == (99999999999999999999, 3)
    assert parse_target("12") == (12, 0)
    with pytest.raises(ValueError):
        parse_target("abc:0")
    with pytest.raises(ValueError):
        parse_target("1:-1")


def test_lone_surrogates_become_replacement_characters_and_the_rest_is_kept() -> None:
    # As the platform sends it: an emoji cut in half by UTF-16 truncation, a whole one as an
    # escaped pair, and a cut one in the openid.
    body = json.loads(
        '{"comment": [{"user_comment_id": 1,'
        ' "content": "cut \\ud83d, whole \\ud83d\\ude00 \\ud83d",'
        ' "openid": "o\\udc00x", "create_time": 1}], "total": 1}'
    )
    comments, _, _ = wechat_comment_list(body, account="oa", target="1:0")
    assert comments[0].content == "cut \ufffd, whole \U0001f600 \ufffd"
    assert comments[0].author == "o\ufffdx"
    weibo = weibo_comment({"id": 5, "text": "\udc00末尾"}, account="wb", target="9")
    assert weibo is not None and weibo.content == "\ufffd末尾"


@pytest.mark.parametrize("bad_id", ["²", "1" * 5000, "--5", "\ud83d"])
def test_an_unusable_comment_id_skips_that_comment_only(bad_id: str) -> None:
    body = {"comment": [{"user_comment_id": bad_id, "content": "x"},
                        {"user_comment_id": 2, "content": "y"}], "total": 2}
    comments, _, _ = wechat_comment_list(body, account="oa", target="1:0")
    assert [c.id for c in comments] == ["2"]


@pytest.mark.parametrize("value", [10**400, "1e400", float("nan"), "-inf", "9" * 100])
def test_a_time_beyond_any_calendar_counts_as_absent(value: object) -> None:
    assert as_timestamp(value) is None
