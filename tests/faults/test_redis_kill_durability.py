"""What a SIGKILL of the embedded Redis loses: no write it acknowledged.

The fault suite kills Redis under the daemon. ``appendfsync everysec`` can lose up to a second
of writes when the *machine* stops (power, kernel panic), not when the *process* dies: Redis
writes each command to the append-only file before it answers, and a killed process's writes
are already in the kernel's page cache. So the suite's Redis kills lose no done marker, seen
mark or queued message, and nothing there needs ``appendfsync always``; what the kills do lose
are answers (a command that ran while its client saw a broken connection) and whatever the
workers held in memory.
"""

from __future__ import annotations

import threading
import time
from pathlib import Path

import pytest
import redis

from worker.redis_server import EmbeddedRedis

pytestmark = pytest.mark.faults

WRITERS = 4
WRITING = 1.0  # seconds of writes before the kill


def test_a_sigkilled_redis_keeps_every_acknowledged_write(tmp_path: Path) -> None:
    server = EmbeddedRedis(state_dir=tmp_path / "redis")  # appendonly, appendfsync everysec
    server.start()
    try:
        acknowledged: list[list[str]] = [[] for _ in range(WRITERS)]
        stop = threading.Event()

        def write(n: int) -> None:
            client = redis.Redis.from_url(server.url, retry=None)
            i = 0
            while not stop.is_set():
                value = f"{n}:{i}"
                try:
                    client.rpush("writes", value)
                except (redis.ConnectionError, redis.TimeoutError):
                    return  # the server is gone; this write was not acknowledged
                acknowledged[n].append(value)
                i += 1

        threads = [threading.Thread(target=write, args=(n,)) for n in range(WRITERS)]
        for thread in threads:
            thread.start()
        time.sleep(WRITING)
        server.kill()
        stop.set()
        for thread in threads:
            thread.join(10)
        server.restart()
        client = redis.Redis.from_url(server.url, decode_responses=True)
        stored = set(client.lrange("writes", 0, -1))
        client.close()
        written = {value for values in acknowledged for value in values}
        assert len(written) > 1000, "the writers barely wrote"
        assert written <= stored, f"{len(written - stored)} acknowledged writes lost"
    finally:
        server.stop()
