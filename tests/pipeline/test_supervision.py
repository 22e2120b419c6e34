"""The daemon watches what it starts: an embedded Redis that dies is started again."""

from __future__ import annotations

import json
import os
import signal
from pathlib import Path

import pytest

from tests.pipeline.daemon_harness import (
    World,
    add_wechat,
    add_weibo,
    all_done,
    assert_exactly_once,
    make_sandbox,
    start_daemon,
    write_config,
)
from worker.subprocesses import wait_for

pytestmark = pytest.mark.slow


def test_an_embedded_redis_that_dies_is_restarted_and_moderation_goes_on(
    tmp_path: Path,
) -> None:
    with make_sandbox() as sandbox:
        world = World()
        add_wechat(sandbox, world, 60)
        add_weibo(sandbox, world, 20)
        config = write_config(tmp_path, sandbox.url, interval="1s")  # embedded Redis
        daemon = start_daemon(config, tmp_path / "daemon.log", processes=1, threads=4)
        try:
            wait_for(lambda: all_done(sandbox, world), timeout=90, what="the first wave",
                     child=daemon)
            pid = int((tmp_path / "var" / "redis.pid").read_text())
            os.kill(pid, signal.SIGKILL)
            wait_for(lambda: "embedded_redis_restarted" in daemon.log(), timeout=30,
                     what="the embedded Redis to be restarted", child=daemon)
            add_wechat(sandbox, world, 20, start=1000)
            add_weibo(sandbox, world, 10, start=1000)
            wait_for(lambda: all_done(sandbox, world), timeout=120,
                     what="comments added after the restart", child=daemon)
        finally:
            code = daemon.stop()
        assert code == 0, daemon.log()[-3000:]
        assert_exactly_once(sandbox, world)
        events = [json.loads(line)["event"] for line in daemon.log().splitlines()
                  if line.startswith("{")]
        assert events.count("embedded_redis_died") == 1
