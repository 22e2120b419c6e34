"""The embedded Redis: one owner per state directory, persistence across restarts."""

from __future__ import annotations

from pathlib import Path

import pytest
import redis

from worker.errors import EmbeddedRedisError
from worker.redis_server import EmbeddedRedis


def test_a_second_server_on_the_same_state_dir_is_refused(tmp_path: Path) -> None:
    with EmbeddedRedis(state_dir=tmp_path) as first:
        second = EmbeddedRedis(state_dir=tmp_path)
        with pytest.raises(EmbeddedRedisError, match="already runs the embedded Redis"):
            second.start()
        client = redis.Redis.from_url(first.url)
        assert client.ping()
        client.close()


def test_append_only_data_survives_a_kill_and_restart(tmp_path: Path) -> None:
    server = EmbeddedRedis(state_dir=tmp_path)
    server.start()
    try:
        client = redis.Redis.from_url(server.url)
        client.set("k", "v")
        client.execute_command("BGREWRITEAOF")
        client.close()
        server.stop()
        server.start()
        client = redis.Redis.from_url(server.url)
        assert client.get("k") == b"v"
        client.close()
    finally:
        server.stop()
