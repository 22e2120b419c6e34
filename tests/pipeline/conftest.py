"""Helpers for the pipeline tests: a controllable clock, the actors on a stub broker."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from dramatiq.brokers.stub import StubBroker

from worker.pipeline import actors as actors_module
from worker.redis_server import EmbeddedRedis


class FakeClock:
    """A wall clock the test moves by hand (Unix seconds)."""

    def __init__(self, start: float = 1_700_000_000.0) -> None:
        self.now = start

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> float:
        self.now += seconds
        return self.now


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def stub_actors(redis_server: EmbeddedRedis, redis_client: Any) -> Iterator[StubBroker]:
    """The real actors on a StubBroker (messages are only collected), state in real Redis."""
    broker = StubBroker()
    actors_module.declare_actors(broker)
    yield broker
    actors_module.set_runtime(None)
