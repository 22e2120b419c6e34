from __future__ import annotations

import pytest
import redis

from worker.pipeline.keys import Keys
from worker.pipeline.offenses import OffenseQuestion, PageOffenseCounts, RedisOffenseCounter
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
    assert isinstance(PageOffenseCounts(counter), OffenseCounts)


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


def zcount_calls(client: redis.Redis) -> int:
    stats = client.info("commandstats").get("cmdstat_zcount")
    return int(stats["calls"]) if stats else 0


def record(counter: RedisOffenseCounter | PageOffenseCounts, author: str, at: float,
           comment_id: str) -> None:
    counter.record(platform="wechat", account="main", author=author, rule_id="r", at=at,
                   comment_id=comment_id)


def page_count(page: PageOffenseCounts, author: str, now: float, within: float = DAY) -> int:
    return page.count(platform="wechat", account="main", author=author, within=within, now=now)


def question(author: str, now: float, within: float = DAY) -> OffenseQuestion:
    return ("wechat", "main", author, within, now)


def test_a_page_reads_its_announced_counts_together_at_the_first_count(
    counter: RedisOffenseCounter, redis_client: redis.Redis
) -> None:
    record(counter, "u1", T0 - 10, "c1")
    record(counter, "u1", T0 - 2 * DAY, "c2")
    record(counter, "u2", T0 - 5, "c3")
    page = PageOffenseCounts(counter)
    page.expect([question("u1", T0), question("u1", T0, 3 * DAY), question("u2", T0 + 1),
                 question("u3", T0)])
    redis_client.config_resetstat()
    assert zcount_calls(redis_client) == 0  # announced, not yet asked: nothing read
    assert page_count(page, "u2", T0 + 1) == 1
    assert zcount_calls(redis_client) == 4
    record(counter, "u1", T0 - 1, "c4")  # another worker, behind the page's back
    assert [page_count(page, "u1", T0), page_count(page, "u1", T0, 3 * DAY),
            page_count(page, "u3", T0)] == [1, 2, 0]  # as read at the first count
    assert zcount_calls(redis_client) == 4
    assert page_count(page, "u1", T0, 2 * DAY) == 3  # not announced: read now, on its own
    assert zcount_calls(redis_client) == 5


def test_an_offense_recorded_through_the_page_counts_for_its_later_comments(
    counter: RedisOffenseCounter,
) -> None:
    record(counter, "u1", T0 - 10, "c1")
    page = PageOffenseCounts(counter)
    page.expect([question("u1", T0), question("u1", T0 + 5), question("u1", T0 + 9),
                 question("u2", T0 + 5)])
    assert page_count(page, "u1", T0) == 1
    record(page, "u1", T0, "c2")
    assert page_count(page, "u1", T0 + 5) == 2
    record(page, "u1", T0, "c2")  # redelivered: counted once
    record(page, "u1", T0 + 9, "c3")
    assert page_count(page, "u1", T0 + 9) == 3
    assert page_count(page, "u2", T0 + 5) == 0
    assert count(counter, DAY, T0 + 9) == 3  # written through


def test_an_offense_recorded_before_the_first_count_is_read_with_the_page(
    counter: RedisOffenseCounter,
) -> None:
    page = PageOffenseCounts(counter)
    page.expect([question("u1", T0), question("u1", T0 + 5)])
    record(page, "u1", T0, "c1")
    assert page_count(page, "u1", T0 + 5) == 1
    assert page_count(page, "u1", T0 - 1) == 0
