from __future__ import annotations

import multiprocessing
import threading
import time

import redis

from tests.pipeline import _procs
from worker.pipeline.keys import Keys
from worker.pipeline.lock import RenewableLock
from worker.redis_server import EmbeddedRedis

KEY = Keys().scheduler_lock()


def held(lock: RenewableLock) -> bool:
    return lock.held  # read through a call: mypy must not narrow the property


def test_one_holder_at_a_time(redis_client: redis.Redis) -> None:
    a = RenewableLock(redis=redis_client, key=KEY, ttl=30)
    b = RenewableLock(redis=redis_client, key=KEY, ttl=30)
    assert a.acquire()
    assert held(a)
    assert a.acquire()  # re-acquiring one's own lock is fine
    assert not b.acquire()
    assert not b.acquire(blocking=True, timeout=0.2)
    assert not held(b)
    assert not b.release()  # not b's to delete
    assert redis_client.exists(KEY)
    assert a.release()
    assert not held(a)
    assert b.acquire()
    b.release()


def test_takeover_after_the_holder_stops_renewing(redis_client: redis.Redis) -> None:
    a = RenewableLock(redis=redis_client, key=KEY, ttl=0.3, auto_renew=False)
    b = RenewableLock(redis=redis_client, key=KEY, ttl=30)
    assert a.acquire()
    assert b.acquire(blocking=True, timeout=10)  # a never renews: its key expires
    assert not held(a)
    assert not a.renew()
    assert not a.release()  # a wakes up late: b's lock stays
    assert held(b) and redis_client.get(KEY) == b.owner.encode()
    b.release()


def test_background_renewal_outlives_the_ttl(redis_client: redis.Redis) -> None:
    a = RenewableLock(redis=redis_client, key=KEY, ttl=0.6, renew_interval=0.1)
    b = RenewableLock(redis=redis_client, key=KEY, ttl=30)
    assert a.acquire()
    time.sleep(1.5)
    assert held(a)
    assert not b.acquire()
    a.release()
    assert b.acquire()
    b.release()


def test_loss_is_noticed_and_reported(redis_client: redis.Redis) -> None:
    lost = threading.Event()
    a = RenewableLock(redis=redis_client, key=KEY, ttl=5, renew_interval=0.05,
                      on_lost=lost.set)
    assert a.acquire()
    redis_client.set(KEY, "someone-else")  # e.g. a was paused past its TTL and replaced
    assert lost.wait(10)
    assert not held(a)
    assert not a.release()
    assert redis_client.get(KEY) == b"someone-else"


def test_context_manager(redis_client: redis.Redis) -> None:
    with RenewableLock(redis=redis_client, key=KEY, ttl=5) as lock:
        assert held(lock) and redis_client.exists(KEY)
    assert not redis_client.exists(KEY)


def test_killed_holder_process_is_taken_over(
    redis_client: redis.Redis, redis_server: EmbeddedRedis
) -> None:
    ctx = multiprocessing.get_context("spawn")
    acquired = ctx.Event()
    holder = ctx.Process(target=_procs.hold_lock, args=(redis_server.url, KEY, 1.0, acquired))
    holder.start()
    try:
        assert acquired.wait(30)
        waiter = RenewableLock(redis=redis_client, key=KEY, ttl=30)
        time.sleep(1.5)  # longer than the TTL: the holder's renewals keep it
        assert not waiter.acquire()
        holder.kill()  # SIGKILL: no release, no more renewals
        holder.join(10)
        assert waiter.acquire(blocking=True, timeout=15)
        assert held(waiter)
        waiter.release()
    finally:
        if holder.is_alive():
            holder.kill()
            holder.join()
