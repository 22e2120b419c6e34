from __future__ import annotations

import pytest

from worker.pipeline.keys import ActionKey, Keys, escape, target_key


def test_escape_leaves_ordinary_parts_alone() -> None:
    for part in ["main-oa", "4890123456789012", "oAbC_dEf-123", "品牌号", "rule.spam-1"]:
        assert escape(part) == part


def test_escape_separators_braces_percent_and_whitespace() -> None:
    assert escape("a:b") == "a%3Ab"
    assert escape("{x}") == "%7Bx%7D"
    assert escape("50%") == "50%25"
    assert escape("a b\n") == "a%20b%0A"


def test_target_keys_cannot_collide_through_colons() -> None:
    a = target_key(platform="wechat", account="a:b", target="1:0")
    b = target_key(platform="wechat", account="a", target="b:1:0")
    assert a != b
    assert target_key(platform="wechat", account="main", target="2247483650:0") == (
        "wechat:main:2247483650%3A0"
    )


def test_missing_account_differs_from_an_account_named_dash() -> None:
    assert target_key(platform="weibo", account=None, target="1") != target_key(
        platform="weibo", account="-", target="1"
    )


def test_action_keys_are_hash_tagged_and_distinct() -> None:
    keys = Keys(prefix="t")
    k1 = ActionKey(platform="wechat", account="a", target="1:0", comment="7", action="delete")
    k2 = ActionKey(platform="wechat", account="a", target="1", comment="0:7", action="delete")
    assert keys.done(k1) != keys.done(k2)
    assert keys.done(k1) == "t:done:{wechat:a:1%3A0:7:delete}"
    assert keys.lease(k1) == "t:lease:{wechat:a:1%3A0:7:delete}"


def test_batch_group_keys_share_one_hash_tag() -> None:
    group = Keys().batch_group(platform="wechat", account="a}b", kind="blacklist")
    names = [group.buffer, group.inflight, group.done, group.leases, group.origins,
             group.batch("x"), group.batch_ids("x")]
    tags = {name[name.index("{") + 1 : name.index("}")] for name in names}
    assert tags == {"wechat:a%7Db:blacklist"}
    assert all(name.startswith("mw:batch:") for name in names)


def test_prefix_is_validated() -> None:
    with pytest.raises(ValueError):
        Keys(prefix="")
    with pytest.raises(ValueError):
        Keys(prefix="a:b")
