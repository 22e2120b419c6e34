"""The scheduler loop against a real Redis that misbehaves: it keeps going, and lets go."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis
from dramatiq.brokers.stub import StubBroker

from worker.config import AccountConfig, Config, PollingConfig, Secret, WechatTarget
from worker.pipeline.actors import Pipeline, polling_marker
from worker.pipeline.keys import target_key
from worker.pipeline.runtime import Runtime
from worker.pipeline.scheduler import LOCK_TTL, Scheduler
from worker.redis_server import EmbeddedRedis
from worker.subprocesses import wait_for

INTERVAL = 1.0
READ_ONLY_SECONDS = 10.0
DEAD_MASTER_PORT = 1  # nothing listens there: the replica never syncs and stays read-only


@pytest.fixture
def own_redis(tmp_path: Path) -> Iterator[EmbeddedRedis]:
    """A server of this test's own: it is turned into a replica and back."""
    with EmbeddedRedis(state_dir=tmp_path / "redis", appendonly=False) as server:
        yield server


def make_scheduler(server: EmbeddedRedis) -> tuple[Scheduler, StubBroker]:
    account = AccountConfig(
        name="oa", platform="wechat", app_id="wxsched", app_secret=Secret("sched-secret-1"),
        api_base="http://127.0.0.1:9", targets=(WechatTarget(msg_data_id=100),),
    )
    config = Config(accounts=(account,), polling=PollingConfig(interval=INTERVAL, jitter=0.0))
    broker = StubBroker()
    actors = Pipeline(broker).actors
    runtime = Runtime(config=config, redis_url=server.url)
    return Scheduler(runtime=runtime, actors=actors), broker



def test_a_redis_turned_read_only_for_ten_seconds_only_pauses_polling(
    own_redis: EmbeddedRedis,
) -> None:
    scheduler, broker = make_scheduler(own_redis)
    client = redis.Redis.from_url(own_redis.url)
    marker = polling_marker(scheduler.runtime, target_key(platform="wechat", account="oa",
                                                          target="100:0"))
    polls = broker.queues["poll"]
    stop = threading.Event()
    thread = threading.Thread(target=scheduler.run, args=(stop,), daemon=True)
    thread.start()
    try:
        wait_for(lambda: polls.qsize() >= 1, timeout=10, what="the first poll")
        client.replicaof("127.0.0.1", DEAD_MASTER_PORT)  # READONLY writes
        time.sleep(READ_ONLY_SECONDS)
        assert thread.is_alive(), "the scheduler thread died on a READONLY error"
        sent_before = polls.qsize()
        client.replicaof("NO", "ONE")
        client.delete(marker)  # as the worker whose poll ended would
        wait_for(lambda: polls.qsize() > sent_before, timeout=INTERVAL + LOCK_TTL + 5,
                 what="polling to resume after Redis is writable again")
        assert scheduler.lock.held
    finally:
        stop.set()
        thread.join(timeout=30)
        client.replicaof("NO", "ONE")
    assert not thread.is_alive()
    assert client.get(scheduler.lock.key) is None, "the lock is released when the loop ends"
    scheduler.runtime.close()
    client.close()


def test_the_lock_is_released_when_the_loop_ends_by_an_exception(
    own_redis: EmbeddedRedis,
) -> None:
    scheduler, _broker = make_scheduler(own_redis)
    client = redis.Redis.from_url(own_redis.url)

    def broken_tick(now: float) -> None:
        raise RuntimeError("a bug in tick")

    scheduler.tick = broken_tick  # type: ignore[method-assign]
    with pytest.raises(RuntimeError, match="a bug in tick"):
        scheduler.run(threading.Event())
    assert client.get(scheduler.lock.key) is None, "a standby need not wait for the TTL"
    scheduler.runtime.close()
    client.close()
