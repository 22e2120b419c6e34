"""The shared rate limiter and quota pauses, against a real Redis."""

from __future__ import annotations

import io
import time
from datetime import datetime
from zoneinfo import ZoneInfo

import pytest
import redis

from worker.config import QuotaConfig
from worker.errors import RateLimitedError
from worker.platforms.quota import QuotaPauses, next_local_hour, next_local_midnight
from worker.platforms.ratelimit import Rate, RateLimiter

from .conftest import events


def limiter(r: redis.Redis, sleeps: list[float], max_wait: float = 10.0) -> RateLimiter:
    return RateLimiter(redis=r, key_prefix="t", max_wait=max_wait, sleep=sleeps.append)


def test_burst_then_waits_instead_of_failing(redis_client: redis.Redis) -> None:
    sleeps: list[float] = []  # the limiter's sleep is recorded, not slept
    lim = limiter(redis_client, sleeps, max_wait=120)
    rate = Rate(60, 3600)  # a burst of 6, then one every 3600/54 s
    for _ in range(6):
        assert lim.acquire(platform="wechat", account="a", endpoint="e", rate=rate) == 0
    assert sleeps == []
    waited = lim.acquire(platform="wechat", account="a", endpoint="e", rate=rate)
    assert 60 < waited <= 3600 / 54 + 0.01
    assert sleeps == [waited]
    with pytest.raises(RateLimitedError):  # the next one is more than max_wait away
        lim.acquire(platform="wechat", account="a", endpoint="e", rate=rate)


def test_limiter_is_shared_and_per_endpoint(redis_client: redis.Redis) -> None:
    sleeps: list[float] = []
    one, two = limiter(redis_client, sleeps), limiter(redis_client, sleeps)
    rate = Rate(1, 3600)
    one.acquire(platform="weibo", account="a", endpoint="x", rate=rate)
    two.acquire(platform="weibo", account="a", endpoint="y", rate=rate)  # other endpoint
    two.acquire(platform="weibo", account="b", endpoint="x", rate=rate)  # other account
    with pytest.raises(RateLimitedError) as err:
        two.acquire(platform="weibo", account="a", endpoint="x", rate=rate)  # 1 h away
    assert err.value.retry_at is not None and err.value.retry_at > time.time() + 3000
    assert (err.value.account, err.value.endpoint) == ("a", "x")
    assert sleeps == []


def test_refused_slot_is_not_reserved(redis_client: redis.Redis) -> None:
    sleeps: list[float] = []
    lim = limiter(redis_client, sleeps, max_wait=0.5)
    rate = Rate(2, 10)  # burst 1, then one per 10 s
    lim.acquire(platform="p", account="a", endpoint="e", rate=rate)
    before = redis_client.get(lim.key("p", "a", "e"))
    with pytest.raises(RateLimitedError):
        lim.acquire(platform="p", account="a", endpoint="e", rate=rate)
    assert redis_client.get(lim.key("p", "a", "e")) == before


def test_unlimited_touches_nothing(redis_client: redis.Redis) -> None:
    lim = limiter(redis_client, [])
    assert lim.acquire(platform="p", account="a", endpoint="e", rate=None) == 0
    assert redis_client.keys("t:rate:*") == []


def test_next_midnight_and_hour() -> None:
    tz = ZoneInfo("Asia/Shanghai")
    now = datetime(2024, 3, 5, 23, 59, 30, tzinfo=tz).timestamp()
    assert next_local_midnight(now, "Asia/Shanghai") == datetime(
        2024, 3, 6, tzinfo=tz
    ).timestamp()
    assert next_local_hour(now, "Asia/Shanghai") == datetime(2024, 3, 6, tzinfo=tz).timestamp()
    early = datetime(2024, 3, 5, 0, 0, 0, tzinfo=tz).timestamp()
    assert next_local_midnight(early, "Asia/Shanghai") == datetime(
        2024, 3, 6, tzinfo=tz
    ).timestamp()


def test_pause_is_shared_set_once_and_logged_once(
    redis_client: redis.Redis, log_output: io.StringIO
) -> None:
    one = QuotaPauses(redis=redis_client, config=QuotaConfig(), key_prefix="t")
    two = QuotaPauses(redis=redis_client, config=QuotaConfig(), key_prefix="t")
    assert one.resume_at("wechat", "oa", "comment/delete") is None
    first = one.pause(platform="wechat", account="oa", endpoint="comment/delete",
                      hourly=False, code=45009)
    second = two.pause(platform="wechat", account="oa", endpoint="comment/delete",
                       hourly=False, code=45009)
    assert first == second
    assert abs(first - next_local_midnight(time.time(), "Asia/Shanghai")) < 1
    assert [e["event"] for e in events(log_output)].count("platform.quota_paused") == 1
    assert two.resume_at("wechat", "oa", "comment/delete") == first
    assert two.resume_at("wechat", "oa", "comment/list") is None
    ttl_ms = redis_client.pttl(one.key("wechat", "oa", "comment/delete"))
    assert 0 < ttl_ms <= 86_400_000
    assert two.clear(platform="wechat", account="oa", endpoint="comment/delete")
    assert one.resume_at("wechat", "oa", "comment/delete") is None


def test_fixed_pause_length(redis_client: redis.Redis) -> None:
    pauses = QuotaPauses(redis=redis_client, config=QuotaConfig(pause=30), key_prefix="t")
    before = time.time()
    resume = pauses.pause(platform="weibo", account="w", endpoint="x", hourly=True)
    assert before + 30 <= resume <= time.time() + 30
