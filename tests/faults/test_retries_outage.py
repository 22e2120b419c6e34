"""A message that fails while Redis is down is retried once Redis is back, not lost.

dramatiq's own ``Retries`` enqueues the retry from a middleware hook whose exceptions the
broker swallows; the worker then acknowledges the message anyway. The fault suite lost whole
pages of actions that way after a Redis restart. ``DurableRetries`` waits for Redis instead.
"""

from __future__ import annotations

import threading
from typing import Any

import dramatiq
import pytest
import redis
from dramatiq.brokers.stub import StubBroker
from dramatiq.middleware import CurrentMessage, Retries

from worker.pipeline import durable_broker as retries_module
from worker.pipeline.durable_broker import DurableRetries

pytestmark = pytest.mark.faults


def run_with_outage(middleware: Retries, outage_enqueues: int) -> tuple[int, int]:
    """An actor that fails on its first run; the retry's first ``outage_enqueues`` enqueues
    fail as if Redis were down. Returns (runs of the actor, retry enqueues attempted)."""
    broker = StubBroker(middleware=[CurrentMessage(), middleware])
    broker.emit_after("process_boot")
    runs: list[int] = []
    attempts = [0]
    real_enqueue = broker.enqueue
    lock = threading.Lock()

    def enqueue(message: Any, *, delay: int | None = None) -> Any:
        if delay is not None:  # a retry
            with lock:
                attempts[0] += 1
                failing = attempts[0] <= outage_enqueues
            if failing:
                raise redis.ConnectionError("Error 111 connecting to redis.sock")
        return real_enqueue(message, delay=delay)

    broker.enqueue = enqueue  # type: ignore[method-assign]

    @dramatiq.actor(broker=broker, max_retries=3, min_backoff=10, max_backoff=10)
    def flaky() -> None:
        runs.append(1)
        if len(runs) == 1:
            raise RuntimeError("the platform was busy")

    worker = dramatiq.Worker(broker, worker_threads=1, worker_timeout=50)
    worker.start()
    try:
        flaky.send()
        broker.join(flaky.queue_name, timeout=10_000)
        worker.join()
    finally:
        worker.stop()
    return len(runs), attempts[0]


def test_dramatiqs_retries_lose_the_message_when_the_retry_cannot_be_enqueued() -> None:
    # The behaviour DurableRetries exists for (if dramatiq changes it, this test says so).
    runs, attempts = run_with_outage(Retries(max_retries=3, min_backoff=10), outage_enqueues=1)
    assert (runs, attempts) == (1, 1)


def test_durable_retries_wait_for_redis_and_the_retry_runs(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(retries_module, "WAIT_SECONDS", 0.01)
    runs, attempts = run_with_outage(
        DurableRetries(max_retries=3, min_backoff=10), outage_enqueues=3
    )
    assert runs == 2, "the retry ran once Redis took it"
    assert attempts == 4, "three enqueues refused, the fourth accepted"
