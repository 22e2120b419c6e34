"""SharedToken against a real Redis, with a counting token source in place of the network."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

import pytest
import redis

from worker.errors import PermanentError, QuotaError
from worker.platforms.tokens import FORCE_REFRESH_PER_DAY, SharedToken

KEY = "t:token:wechat:wxapp:stable"


class Source:
    """Issues numbered tokens and counts the fetches (stands in for /cgi-bin/stable_token)."""

    def __init__(self, *, expires_in: float = 7200, delay: float = 0.0) -> None:
        self.fetches = 0
        self.forced = 0
        self.expires_in = expires_in
        self.delay = delay
        self.fail: PermanentError | None = None
        self._lock = threading.Lock()

    def __call__(self, force: bool) -> tuple[str, float]:
        with self._lock:
            self.fetches += 1
            self.forced += int(force)
            n = self.fetches
        if self.delay:
            time.sleep(self.delay)
        if self.fail is not None:
            raise self.fail
        return f"token-{n:04d}-abcdefgh", self.expires_in


def store(r: redis.Redis, source: Callable[[bool], tuple[str, float]]) -> SharedToken:
    return SharedToken(redis=r, key=KEY, fetch=source, account="oa", endpoint="stable_token")


def test_one_fetch_is_shared_by_every_instance(redis_client: redis.Redis) -> None:
    source = Source()
    first = store(redis_client, source).get()
    second = store(redis_client, source).get()
    assert first.value == second.value == "token-0001-abcdefgh"
    assert source.fetches == 1
    assert 0 < redis_client.pttl(KEY) <= 7200 * 1000


def test_concurrent_first_use_fetches_once(redis_client: redis.Redis) -> None:
    source = Source(delay=0.2)
    stores = [store(redis_client, source) for _ in range(20)]  # like 20 processes
    values: list[str] = []
    threads = [threading.Thread(target=lambda s=s: values.append(s.get().value)) for s in stores]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert source.fetches == 1
    assert set(values) == {"token-0001-abcdefgh"}


def test_renew_drops_only_the_token_that_failed(redis_client: redis.Redis) -> None:
    source = Source()
    shared = store(redis_client, source)
    old = shared.get()
    new = shared.renew(old)
    assert new.value != old.value and source.fetches == 2
    # a late failure of the old token must not drop the new one
    assert shared.renew(old).value == new.value
    assert source.fetches == 2


def test_renew_keeps_a_refetched_token_with_the_same_value(redis_client: redis.Redis) -> None:
    # A stable token fetched again can come back with the same value: only the very record
    # that failed may be dropped.
    class Same(Source):
        def __call__(self, force: bool) -> tuple[str, float]:
            super().__call__(force)
            return "same-token-value", 7200

    source = Same()
    shared = store(redis_client, source)
    used = shared.get()
    again = shared.renew(used)  # drops, fetches (same value, new record)
    assert source.fetches == 2
    shared.renew(used)  # the old record: no drop
    assert source.fetches == 2
    assert again.value == used.value


def test_refresh_ahead_of_expiry_while_others_use_the_old_token(
    redis_client: redis.Redis,
) -> None:
    source = Source()
    shared = store(redis_client, source)
    old = shared.get()
    redis_client.hset(KEY, "refresh_at", repr(time.time() - 1))  # due for refresh
    # another process holds the refresh lock: we keep using the still valid token
    redis_client.set(f"{KEY}:lock", "someone", px=5000)
    assert shared.get().value == old.value
    assert source.fetches == 1
    redis_client.delete(f"{KEY}:lock")
    assert shared.get().value != old.value
    assert source.fetches == 2


def test_waiters_share_a_failed_fetch(redis_client: redis.Redis) -> None:
    source = Source()
    source.fail = PermanentError(
        "invalid appsecret", platform="wechat", endpoint="stable_token", account="oa",
        code=40125, http_status=200,
    )
    with pytest.raises(PermanentError) as first:
        store(redis_client, source).get()
    with pytest.raises(PermanentError) as second:
        store(redis_client, source).get()
    assert first.value.code == second.value.code == 40125
    assert source.fetches == 1  # the second process did not try again within error_ttl


def test_force_refresh_budget_and_spacing(redis_client: redis.Redis) -> None:
    source = Source()
    shared = store(redis_client, source)
    fresh = shared.get()
    forced = shared.force(fresh)
    assert forced is not None and forced.value != fresh.value
    assert source.forced == 1 and shared.force_refreshes_today() == 1
    # another caller with the same failed token gets the forced one, no second force
    assert shared.force(fresh) == forced
    # a second force within 30 s is refused (the platform would not refresh either)
    assert shared.force(forced) is None
    assert source.forced == 1
    # the daily budget
    redis_client.delete(f"{KEY}:force:recent")
    redis_client.set(shared._budget_key(), FORCE_REFRESH_PER_DAY)
    assert shared.force(forced) is None
    assert source.forced == 1


def test_force_refused_for_quota_falls_back_to_a_normal_fetch(
    redis_client: redis.Redis,
) -> None:
    class NoForce(Source):
        """Forced fetches answer 45009 (their own daily limit is spent)."""

        def __call__(self, force: bool) -> tuple[str, float]:
            if force:
                with self._lock:
                    self.forced += 1
                err = QuotaError("reach max api daily quota limit", platform="wechat",
                                 endpoint="stable_token", account="oa", code=45009,
                                 http_status=200)
                err.resume_at = time.time() + 3600
                raise err
            return super().__call__(force)

    source = NoForce()
    shared, other = store(redis_client, source), store(redis_client, source)
    failed = shared.get()
    replacement = shared.force(failed)
    assert source.forced == 1 and source.fetches == 2  # the refused force, then a normal one
    assert replacement is not None and replacement.fetched_at > failed.fetched_at
    # the refusal is not shared with the waiters: normal fetching goes on
    assert redis_client.get(f"{KEY}:error") is None
    assert other.get() == replacement
    assert other.renew(replacement).value != replacement.value
    assert source.fetches == 3


def test_works_with_a_decoding_redis_client(redis_client: redis.Redis) -> None:
    kwargs = redis_client.connection_pool.connection_kwargs
    decoding = redis.Redis(
        unix_socket_path=kwargs["path"], db=kwargs.get("db", 0), decode_responses=True
    )
    source = Source()
    shared = store(decoding, source)
    first = shared.get()
    assert shared.get() == first and source.fetches == 1
    assert shared.renew(first).value != first.value
    assert shared.force(shared.get()) is not None
    decoding.close()
