"""Helpers for the pipeline tests: a controllable clock, the actors on a stub broker, the
sandbox and runtime of account ``oa`` (tests/pipeline/wechat_runtime.py), which a test
module overrides by declaring its own ``sandbox`` or ``runtime`` fixture."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from dramatiq.brokers.stub import StubBroker

from tests.pipeline.wechat_runtime import wechat_runtime, wechat_sandbox
from worker.pipeline.actors import Pipeline
from worker.pipeline.runtime import WorkerRuntime
from worker.redis_server import EmbeddedRedis
from worker.sandbox import Sandbox


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
def stub_actors(redis_server: EmbeddedRedis, redis_client: Any) -> StubBroker:
    """A StubBroker (messages are only collected) for the real actors, which a
    :class:`Pipeline` declares on it (the ``pipeline`` fixture), state in real Redis."""
    return StubBroker()


@pytest.fixture
def pipeline(stub_actors: StubBroker, runtime: WorkerRuntime) -> Pipeline:
    """The actors bound to the test module's ``runtime`` fixture, on the stub broker."""
    return Pipeline(stub_actors, runtime)


@pytest.fixture
def sandbox() -> Iterator[Sandbox]:
    """A sandbox with account ``oa``'s app and article."""
    with wechat_sandbox() as box:
        yield box


@pytest.fixture
def runtime(
    tmp_path: Path, sandbox: Sandbox, redis_server: EmbeddedRedis, redis_client: Any,
    stub_actors: StubBroker,
) -> Iterator[WorkerRuntime]:
    """Account ``oa``'s runtime with the spam rule, on a flushed Redis."""
    with wechat_runtime(tmp_path, sandbox, redis_server.url) as rt:
        yield rt
