from __future__ import annotations

import pytest
import redis

from tests.pipeline.conftest import FakeClock
from worker.pipeline.freshness import Freshness, stale_after
from worker.pipeline.keys import Keys

WECHAT = ("main-oa", "wechat", "2247483650:0")
WEIBO = ("brand", "weibo", "4890123456789012")


@pytest.fixture
def fresh(redis_client: redis.Redis, clock: FakeClock) -> Freshness:
    return Freshness(redis=redis_client, keys=Keys(prefix="t"), clock=clock)


def _ok(fresh: Freshness, who: tuple[str, str, str], new: int) -> None:
    account, platform, target = who
    fresh.poll_succeeded(account=account, platform=platform, target=target, new_comments=new)


def test_configured_targets_never_polled_are_listed_empty(fresh: Freshness) -> None:
    [record] = fresh.targets([WECHAT])
    assert (record.account, record.platform, record.target) == WECHAT
    assert record.last_ok is None and record.comments_seen == 0 and record.failures == 0


def test_success_records_times_and_counts(fresh: Freshness, clock: FakeClock) -> None:
    _ok(fresh, WECHAT, 3)
    first = clock.now
    clock.advance(30)
    _ok(fresh, WECHAT, 0)  # nothing new: last_comment stays
    [record] = fresh.targets()
    assert record.last_ok == clock.now
    assert record.last_comment == first
    assert record.comments_seen == 3


def test_failures_count_until_a_success(fresh: Freshness, clock: FakeClock) -> None:
    account, platform, target = WEIBO
    for expected in (1, 2):
        assert fresh.poll_failed(account=account, platform=platform, target=target,
                                 reason="credentials", errcode=21332,
                                 detail="invalid_access_token") == expected
    [record] = fresh.targets()
    assert record.failures == 2 and record.reason == "credentials" and record.errcode == 21332
    assert record.failed_at == clock.now and record.last_ok is None
    _ok(fresh, WEIBO, 0)
    [record] = fresh.targets()
    assert record.failures == 0 and record.last_ok == clock.now
    assert record.reason == "credentials"  # the last failure stays readable


def test_staleness(fresh: Freshness, clock: FakeClock) -> None:
    _ok(fresh, WECHAT, 1)
    [record] = fresh.targets([WEIBO])[1:]  # WEIBO (brand) sorts first: take WECHAT
    after = stale_after(10.0)
    assert after == 60.0  # at least a minute
    assert stale_after(60.0) == 180.0
    assert not record.is_stale(now=clock.now + after, after=after)
    assert record.is_stale(now=clock.now + after + 1, after=after)
    [never] = fresh.targets([WEIBO])[:1]
    assert never.is_stale(now=clock.now, after=after)  # no poll and no start time: stale
    assert not never.is_stale(now=clock.now, after=after, since=clock.now - 10)


def test_targets_are_kept_per_account_and_sorted(fresh: Freshness) -> None:
    _ok(fresh, WECHAT, 1)
    _ok(fresh, WEIBO, 2)
    assert [r.account for r in fresh.targets()] == ["brand", "main-oa"]
    fresh.forget_target(account="brand", platform="weibo", target=WEIBO[2])
    assert [r.account for r in fresh.targets()] == ["main-oa"]


def test_credentials_rejection_is_news_once(fresh: Freshness, clock: FakeClock) -> None:
    assert fresh.credential("brand") is None
    assert fresh.credentials_accepted("brand") is True
    assert fresh.credentials_accepted("brand") is False
    clock.advance(5)
    assert fresh.credentials_rejected("brand", errcode=21332, detail="invalid_access_token")
    for _ in range(3):  # every later rejected call: not news
        clock.advance(1)
        assert not fresh.credentials_rejected("brand", errcode=21332, detail="again")
    state = fresh.credential("brand")
    assert state is not None and state.status == "rejected" and state.errcode == 21332
    assert state.since == clock.now - 3 and state.at == clock.now
    assert fresh.credentials_accepted("brand") is True  # recovered: news again
    assert set(fresh.credentials()) == {"brand"}
