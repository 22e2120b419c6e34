"""Shared fixtures: a real Redis server per test session (the embedded one modworker uses)."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import pytest
import redis

from worker.comment import Comment
from worker.redis_server import EmbeddedRedis
from worker.rules import Decision, RuleSet


@pytest.fixture(scope="session")
def redis_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[EmbeddedRedis]:
    """One real redis-server for the test session (per xdist worker), on a unix socket."""
    server = EmbeddedRedis(state_dir=tmp_path_factory.mktemp("redis"), appendonly=False)
    server.start()
    yield server
    server.stop()


@pytest.fixture
def redis_client(redis_server: EmbeddedRedis) -> Iterator[redis.Redis]:
    """A client on a flushed database."""
    client = redis.Redis.from_url(redis_server.url)
    client.flushdb()
    yield client
    client.close()


@pytest.fixture
def repo_root() -> Path:
    return Path(__file__).resolve().parent.parent


@pytest.fixture
def evaluated_pages(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """The size of each page given to ``RuleSet.evaluate_many`` during the test, in order."""
    pages: list[int] = []
    evaluate_many = RuleSet.evaluate_many

    def counting(self: RuleSet, comments: Sequence[Comment], **kwargs: Any) -> Iterator[Decision]:
        pages.append(len(comments))
        return evaluate_many(self, comments, **kwargs)

    monkeypatch.setattr(RuleSet, "evaluate_many", counting)
    return pages
