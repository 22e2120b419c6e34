"""Targets as operators write them: ids, links, and a located error for each bad one."""

from __future__ import annotations

import pytest

from worker.config import WechatTarget, WeiboTarget
from worker.errors import InputError
from worker.targets.parse import parse_target

LINK = (
    "https://mp.weixin.qq.com/s?__biz=MzA3MDM3NjE5NQ==&mid=2650000123&idx=3"
    "&sn=0123456789abcdef&chksm=84d6#rd"
)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2247483650", WechatTarget(msg_data_id=2247483650, index=0)),
        ("2247483650:2", WechatTarget(msg_data_id=2247483650, index=2)),
        (LINK, WechatTarget(msg_data_id=2650000123, index=2)),  # idx 3 is the third: index 2
        ("mp.weixin.qq.com/s?mid=77&idx=1", WechatTarget(msg_data_id=77, index=0)),
        (" 12:0 ", WechatTarget(msg_data_id=12, index=0)),
    ],
)
def test_wechat_targets(text: str, expected: WechatTarget) -> None:
    assert parse_target(text, platform="wechat", account="oa") == expected


def test_weibo_status_id_and_post_links() -> None:
    expected = WeiboTarget(status_id=4890123456789012)
    for text in ("4890123456789012", "https://m.weibo.cn/status/4890123456789012",
                 "m.weibo.cn/detail/4890123456789012"):
        assert parse_target(text, platform="weibo", account="wb") == expected


def test_a_sixteen_digit_wechat_id_is_taken_with_an_index() -> None:
    assert parse_target("4890123456789012:0", platform="wechat", account="oa") == WechatTarget(
        msg_data_id=4890123456789012, index=0
    )


@pytest.mark.parametrize(
    ("text", "platform", "needle"),
    [
        ("https://mp.weixin.qq.com/s/AbCdEf", "wechat", "short links"),
        ("https://mp.weixin.qq.com/s?__biz=x&idx=1", "wechat", "no numeric mid"),
        ("https://mp.weixin.qq.com/s?mid=5&idx=0", "wechat", "idx from 1"),
        ("https://example.com/s?mid=5&idx=1", "wechat", "not a WeChat article link"),
        ("12:x", "wechat", "MSG_DATA_ID[:INDEX]"),
        ("abc", "wechat", "MSG_DATA_ID[:INDEX]"),
        ("", "wechat", "empty"),
        ("12:0", "weibo", "status id"),
        (LINK, "weibo", "WeChat article"),
        ("-5", "weibo", "status id"),
        ("4890123456789012", "wechat", "looks like a Weibo status id"),
        ("https://m.weibo.cn/status/4890123456789012", "wechat", "Weibo post link"),
        ("https://weibo.com/1404376560/NAbCdEf", "weibo", "no numeric status id"),
    ],
)
def test_bad_targets_name_the_input_and_account(text: str, platform: str, needle: str) -> None:
    with pytest.raises(InputError) as info:
        parse_target(text, platform=platform, account="acct-1")
    message = str(info.value)
    assert needle in message and "acct-1" in message and repr(text) in message
