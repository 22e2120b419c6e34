"""The embedded Redis: one owner per state directory, persistence across restarts."""

from __future__ import annotations

import json
import os
import stat
import subprocess
import threading
import time
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


def test_expired_keys_are_freed_off_the_main_thread(redis_client: redis.Redis) -> None:
    assert redis_client.config_get("lazyfree-lazy-expire") == {"lazyfree-lazy-expire": "yes"}


def test_append_only_data_survives_a_kill_and_restart(tmp_path: Path) -> None:
    server = EmbeddedRedis(state_dir=tmp_path)
    server.start()
    try:
        client = redis.Redis.from_url(server.url)
        client.set("k", "v")
        client.bgrewriteaof()
        client.close()
        server.stop()
        server.start()
        client = redis.Redis.from_url(server.url)
        assert client.get("k") == b"v"
        client.close()
    finally:
        server.stop()


# -- file modes, stale pid files, unusable state directories --------------------------------

def test_the_state_dir_is_0700_and_the_append_only_file_0600(tmp_path: Path) -> None:
    existing = tmp_path / "var"
    existing.mkdir(mode=0o755)
    os.chmod(existing, 0o755)
    (existing / "appendonly.aof").write_bytes(b"")  # left by an older version
    os.chmod(existing / "appendonly.aof", 0o644)
    fresh = tmp_path / "new" / "var"
    for state_dir in (existing, fresh):
        with EmbeddedRedis(state_dir=state_dir) as server:
            client = redis.Redis.from_url(server.url)
            client.set("access_token", "secret")
            client.bgrewriteaof()
            time.sleep(0.5)
            client.close()
            assert stat.S_IMODE(state_dir.stat().st_mode) == 0o700
            files = [p for p in state_dir.iterdir() if p.is_file()]
            assert state_dir / "appendonly.aof" in files
            for path in files:
                assert stat.S_IMODE(path.stat().st_mode) & 0o077 == 0, path


def test_a_stale_pid_file_never_gets_an_unrelated_process_signalled(tmp_path: Path) -> None:
    bystander = subprocess.Popen(["sleep", "60"])
    try:
        tmp_path.joinpath("redis.pid").write_text(f"{bystander.pid}\n")
        server = EmbeddedRedis(state_dir=tmp_path)
        server.start(timeout=3)  # a proven orphan would get 3 s, then SIGTERM
        try:
            assert server.alive
            time.sleep(3.5)
        finally:
            server.stop()
        assert bystander.poll() is None, "the process of a reused pid was signalled"
    finally:
        bystander.kill()
        bystander.wait()


def test_an_orphan_server_of_this_state_dir_is_stopped_before_a_new_one_starts(
    tmp_path: Path,
) -> None:
    from worker.redis_server import find_redis_server

    orphan = subprocess.Popen(
        [find_redis_server(), "--port", "0", "--unixsocket", str(tmp_path / "redis.sock"),
         "--dir", str(tmp_path), "--pidfile", str(tmp_path / "redis.pid"), "--save", ""],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    reaper = threading.Thread(target=orphan.wait)  # as init reaps a real orphan
    reaper.start()
    try:
        # Wait until it serves: its pid file is written in steps, and an orphan found while
        # it is still empty is (rightly) taken for no server at all.
        probe = redis.Redis(unix_socket_path=str(tmp_path / "redis.sock"), socket_timeout=1)
        deadline = time.monotonic() + 10
        while True:
            try:
                if probe.ping() and (tmp_path / "redis.pid").read_text().strip():
                    break
            except (redis.RedisError, OSError):
                pass
            assert time.monotonic() < deadline, "the orphan never served"
            time.sleep(0.05)
        probe.close()
        server = EmbeddedRedis(state_dir=tmp_path)
        server.start(timeout=3)
        try:
            reaper.join(5)
            assert orphan.returncode is not None, "the orphan was stopped first"
            assert server.pid != orphan.pid
        finally:
            server.stop()
    finally:
        if orphan.returncode is None:
            orphan.kill()
        reaper.join()


def test_an_unusable_state_dir_is_a_clear_error(tmp_path: Path) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    with pytest.raises(EmbeddedRedisError, match=r"state_dir .*a-file/var is unusable"):
        EmbeddedRedis(state_dir=blocker / "var").start()


def test_modworker_run_on_an_unusable_state_dir_exits_3_with_an_event(tmp_path: Path) -> None:
    from tests.pipeline.daemon_harness import start_daemon, write_config

    config = write_config(tmp_path, "http://127.0.0.1:9")
    blocker = tmp_path / "var"
    blocker.write_text("")  # state_dir is a file
    daemon = start_daemon(config, tmp_path / "daemon.log")
    assert daemon.process.wait(60) == 3
    events = [json.loads(line) for line in daemon.log().splitlines() if line.startswith("{")]
    failed = [e for e in events if e["event"] == "embedded_redis_failed"]
    assert failed and "is unusable" in failed[0]["detail"], daemon.log()
