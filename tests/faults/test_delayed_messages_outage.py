"""A delayed message a worker holds in memory survives a Redis restart under that worker.

dramatiq's consumer thread drops its in-memory delay queue on a connection error; the
messages stay in the live worker's "acks" set, which only a dead worker's maintenance gives
back (dramatiq issue #527). In the fault suite that lost a hundred retries of actions.
``DurableRedisBroker`` gives them back once Redis answers again.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from pathlib import Path

import dramatiq
import pytest
from dramatiq.brokers.redis import RedisBroker
from dramatiq.middleware import CurrentMessage

from worker.pipeline.durable_broker import DurableRedisBroker
from worker.redis_server import EmbeddedRedis

pytestmark = pytest.mark.faults

DELAY_MS = 2_500
OUTAGE = 2.0
WAIT_FOR_RUN = 12.0


@pytest.fixture
def server(tmp_path: Path) -> Iterator[EmbeddedRedis]:
    redis_server = EmbeddedRedis(state_dir=tmp_path / "redis")
    redis_server.start()
    yield redis_server
    redis_server.stop()


def delayed_message_runs_after_restart(server: EmbeddedRedis, broker: RedisBroker) -> bool:
    """Send a delayed message, restart Redis while a worker holds it, say whether it ran."""
    ran = threading.Event()

    @dramatiq.actor(broker=broker, queue_name="later")
    def later() -> None:
        ran.set()

    worker = dramatiq.Worker(broker, worker_threads=1, worker_timeout=100)
    worker.start()
    try:
        later.send_with_options(delay=DELAY_MS)
        acks = f"{broker.namespace}:__acks__.{broker.broker_id}.later.DQ"
        deadline = time.monotonic() + 10
        while not broker.client.scard(acks):  # the worker holds it in its delay queue
            assert time.monotonic() < deadline, "the worker never fetched the delayed message"
            time.sleep(0.05)
        server.kill()
        time.sleep(OUTAGE)  # the consumer meets the connection error meanwhile
        server.restart()
        return ran.wait(WAIT_FOR_RUN)
    finally:
        worker.stop(timeout=5_000)
        broker.close()


def test_dramatiqs_redis_broker_strands_the_delayed_message(server: EmbeddedRedis) -> None:
    # The behaviour DurableRedisBroker exists for (if dramatiq changes it, this test says so).
    broker = RedisBroker(  # type: ignore[no-untyped-call]
        url=server.url, namespace="plain", middleware=[CurrentMessage()]
    )
    assert not delayed_message_runs_after_restart(server, broker)


def test_durable_redis_broker_gives_the_delayed_message_back(server: EmbeddedRedis) -> None:
    broker = DurableRedisBroker(url=server.url, namespace="durable",
                                middleware=[CurrentMessage()])
    assert delayed_message_runs_after_restart(server, broker)
