"""Worker processes as the daemon starts them: its config, and SIGHUP while they boot."""

from __future__ import annotations

import os
import signal
import sys
import time
from multiprocessing.process import BaseProcess
from pathlib import Path

import pytest
import redis

from tests.pipeline.daemon_harness import APP_SECRET, WEIBO_TOKEN, write_config
from worker.config import Config, load_config
from worker.daemon import WORKER_MALLOC_ARENAS, Daemon, RunOptions
from worker.pipeline.connect import RedisEndpoint
from worker.redis_server import EmbeddedRedis
from worker.subprocesses import wait_for

HEARTBEATS = "mw:dramatiq:__heartbeats__"  # dramatiq's consumers write it once they run
HEAP_MAX_SIZE = 64 << 20  # glibc (64-bit): each arena but the main one lives in such a reservation


def daemon_config(tmp_path: Path, redis_server: EmbeddedRedis) -> tuple[Path, Config]:
    path = write_config(tmp_path, "http://127.0.0.1:9", redis_url=redis_server.url)
    environ = dict(os.environ, TEST_WX_SECRET=APP_SECRET, TEST_WB_TOKEN=WEIBO_TOKEN)
    return path, load_config(path, environ=environ)



def wait_until_consuming(process: BaseProcess, redis_client: redis.Redis) -> None:
    """Until the worker's consumers run (dramatiq's heartbeat), failing if it died first."""
    wait_for(lambda: redis_client.zcard(HEARTBEATS) > 0 or not process.is_alive(),
             timeout=90, what="the worker to consume")
    assert process.is_alive(), f"the worker died (exit code {process.exitcode})"


def stop_workers(daemon: Daemon) -> list[int | None]:
    for process in daemon.processes.values():
        if process.is_alive() and process.pid is not None:
            os.kill(process.pid, signal.SIGTERM)
    for process in daemon.processes.values():
        process.join(90)
    return [process.exitcode for process in daemon.processes.values()]


def test_a_sighup_while_a_worker_starts_is_a_reload_not_its_death(
    tmp_path: Path, redis_server: EmbeddedRedis, redis_client: redis.Redis
) -> None:
    path, config = daemon_config(tmp_path, redis_server)
    daemon = Daemon(RunOptions(config_path=path, processes=1, threads=1), config)
    daemon._start_worker(0, RedisEndpoint(url=redis_server.url))
    process = daemon.processes[0]
    try:
        assert process.pid is not None
        for _ in range(3):  # the new interpreter is still importing: no handler yet
            os.kill(process.pid, signal.SIGHUP)
        wait_until_consuming(process, redis_client)
        os.kill(process.pid, signal.SIGHUP)  # and once its handler is installed
        time.sleep(0.5)
        assert process.is_alive()
    finally:
        codes = stop_workers(daemon)
    assert codes == [0]


def test_workers_run_on_the_daemons_config_even_when_the_file_broke_since(
    tmp_path: Path, redis_server: EmbeddedRedis, redis_client: redis.Redis
) -> None:
    path, config = daemon_config(tmp_path, redis_server)
    path.write_text("accounts: [unclosed\n", encoding="utf-8")  # edited after the daemon read it
    daemon = Daemon(RunOptions(config_path=path, processes=1, threads=1), config)
    daemon._start_worker(0, RedisEndpoint(url=redis_server.url))
    process = daemon.processes[0]
    try:
        wait_until_consuming(process, redis_client)
    finally:
        codes = stop_workers(daemon)
    assert codes == [0]


def thread_arenas(pid: int) -> int:
    """glibc malloc arenas of ``pid`` besides the main one, read from its memory map: each is
    a HEAP_MAX_SIZE-aligned anonymous reservation, its used part read-write, the rest ---p."""
    spans = []
    for line in Path(f"/proc/{pid}/maps").read_text().splitlines():
        fields = line.split()
        if len(fields) > 5:  # a file or a named region ([heap], [stack])
            continue
        start, end = (int(x, 16) for x in fields[0].split("-"))
        spans.append((start, end, fields[1]))
    ends = {start: (end, perms) for start, end, perms in spans}
    count = 0
    for start, end, perms in spans:
        if start % HEAP_MAX_SIZE or not perms.startswith("rw"):
            continue
        rest = ends.get(end)
        if end - start == HEAP_MAX_SIZE or (
            rest is not None and rest[1].startswith("---") and rest[0] == start + HEAP_MAX_SIZE
        ):
            count += 1
    return count


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc's arenas, Linux only")
def test_a_worker_process_keeps_its_threads_to_two_malloc_arenas(
    tmp_path: Path, redis_server: EmbeddedRedis, redis_client: redis.Redis
) -> None:
    """With glibc's default (eight arenas per core) the worker's threads spread over up to
    16 arenas on two cores, which kept the memory freed in them: RSS crept up in the soak."""
    path, config = daemon_config(tmp_path, redis_server)
    daemon = Daemon(RunOptions(config_path=path, processes=1, threads=8), config)
    daemon._start_worker(0, RedisEndpoint(url=redis_server.url))
    process = daemon.processes[0]
    try:
        wait_until_consuming(process, redis_client)
        assert process.pid is not None
        assert thread_arenas(process.pid) <= WORKER_MALLOC_ARENAS - 1
    finally:
        codes = stop_workers(daemon)
    assert codes == [0]


def test_every_process_registers_the_redis_password_for_redaction() -> None:
    from worker.config import RedisConfig
    from worker.logs import redact
    from worker.pipeline.runtime import Runtime

    url = "redis://:pw-for-redaction-77@127.0.0.1:1/0"  # never connected to here
    runtime = Runtime(config=Config(redis=RedisConfig(url=url)), redis_url=url)
    try:
        assert "pw-for-redaction-77" not in redact(f"Error connecting to {url}")
    finally:
        runtime.close()
