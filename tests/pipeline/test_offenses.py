from __future__ import annotations

import pytest
import redis

from worker.pipeline.keys import Keys
from worker.pipeline.offenses import RedisOffenseCounter
from worker.rules.model import OffenseCounts

DAY = 86400.0
T0 = 1_700_000_000.0


@pytest.fixture
def counter(redis_client: redis.Redis) -> RedisOffenseCounter:
    return RedisOffenseCounter(redis=redis_client)


def count(counter: RedisOffenseCounter, within: float, now: float, author: str = "u1",
          account: str | None = "main", platform: str = "wechat") -> int:
    return counter.count(platform=platform, account=account, author=author, within=within,
                         now=now)


def test_satisfies_the_protocol(counter: RedisOffenseCounter) -> None:
    assert isinstance(counter, OffenseCounts)


def test_windows(counter: RedisOffenseCounter) -> None:
    for days_ago in (0.5, 2, 6.9, 8, 20):
        counter.record(platform="wechat", account="main", author="u1", rule_id="spam",
                       at=T0 - days_ago * DAY)
    assert count(counter, 1 * DAY, T0) == 1
    assert count(counter, 7 * DAY, T0) == 3
    assert count(counter, 30 * DAY, T0) == 5
    assert count(counter, 12 * DAY, T0 - 8 * DAY) == 2  # the 8 and 20 days old, not the later
    assert count(counter, 2 * DAY, T0, author="u2") == 0


def test_window_bounds_are_inclusive(counter: RedisOffenseCounter) -> None:
    counter.record(platform="wechat", account="main", author="u1", rule_id="r", at=T0 - 7 * DAY)
    assert count(counter, 7 * DAY, T0) == 1
    assert count(counter, 7 * DAY - 1, T0) == 0
    assert count(counter, 7 * DAY, T0 - 7 * DAY - 1) == 0  # not yet happened


def test_a_redelivered_comment_counts_once(counter: RedisOffenseCounter) -> None:
    for _ in range(3):
        counter.record(platform="wechat", account="main", author="u1", rule_id="spam",
                       comment_id="c1", at=T0)
    counter.record(platform="wechat", account="main", author="u1", rule_id="spam",
                   comment_id="c2", at=T0)
    counter.record(platform="wechat", account="main", author="u1", rule_id="spam", at=T0)
    counter.record(platform="wechat", account="main", author="u1", rule_id="spam", at=T0)
    assert count(counter, DAY, T0) == 4


def test_scoped_by_platform_and_account(counter: RedisOffenseCounter) -> None:
    counter.record(platform="wechat", account="main", author="u1", rule_id="r", at=T0)
    counter.record(platform="wechat", account=None, author="u1", rule_id="r", at=T0)
    assert count(counter, DAY, T0, account="other") == 0
    assert count(counter, DAY, T0, platform="weibo") == 0
    assert count(counter, DAY, T0, account=None) == 1
    assert count(counter, DAY, T0) == 1


def test_trimmed_by_age_and_size_with_ttl(redis_client: redis.Redis) -> None:
    counter = RedisOffenseCounter(redis=redis_client, retention=10 * DAY, max_entries=5)
    counter.record(platform="wechat", account="main", author="u1", rule_id="r", at=T0 - 20 * DAY)
    key = Keys().offenses(platform="wechat", account="main", author="u1")
    counter.record(platform="wechat", account="main", author="u1", rule_id="r", at=T0)
    assert redis_client.zcard(key) == 1  # the 20-days-old one is gone
    for i in range(10):
        counter.record(platform="wechat", account="main", author="u1", rule_id="r", at=T0 + i)
    assert redis_client.zcard(key) == 5
    assert 0 < redis_client.ttl(key) <= 10 * DAY
    counter.forget(platform="wechat", account="main", author="u1")
    assert redis_client.exists(key) == 0
