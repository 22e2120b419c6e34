"""The daemon's own operational events reach the ``notify.events`` channel once each (issue
14 item 6): a worker process killed under it (``worker_died``, told by the daemon that
restarts it) and a rule file broken under two worker processes (``rules_reload_failed``:
both workers fail on the same edit, the channel hears it once). The channel is a plain
webhook the sandbox receives."""

from __future__ import annotations

import json
import os
import re
import signal
from pathlib import Path
from typing import Any

import pytest

from worker.sandbox import Sandbox
from worker.subprocesses import DaemonProcess, wait_for

from .daemon_harness import make_sandbox, start_daemon, write_config

pytestmark = pytest.mark.slow

BROKEN = "version: 1\nrules: [\n"  # a YAML syntax error


def _events(daemon: DaemonProcess, name: str) -> list[dict[str, Any]]:
    return [record for line in daemon.log().splitlines() if line.startswith("{")
            and (record := json.loads(line)).get("event") == name]


def _told(sandbox: Sandbox) -> str:
    return "\n".join(m["body"]["text"] for m in sandbox.robots.get("webhook", "ops").received)


def _count(text: str, event: str) -> int:
    """How many times the digests told ``event`` (a digest line ``**event**: N``)."""
    return sum(int(n) for n in re.findall(rf"\*\*{event}\*\*: (\d+)\n", text + "\n"))


def test_a_killed_worker_and_a_broken_rule_file_are_told_once_each(tmp_path: Path) -> None:
    with make_sandbox() as sandbox:
        sandbox.robots.add("webhook", "ops")
        config = write_config(tmp_path, sandbox.url, extra=f"""
            notify:
              interval: 1s
              ops: {{type: webhook, url: "{sandbox.url}/hook/ops"}}
              events: {{channel: ops, on: [worker_died, rules_reload_failed]}}
        """)
        daemon = start_daemon(config, tmp_path / "daemon.log", processes=2, threads=2)
        try:
            wait_for(lambda: len(_events(daemon, "worker_started")) == 2, timeout=60,
                     what="two workers", child=daemon)
            # Written whole (a rename), so that both workers fail on the same files.
            staged = tmp_path / "broken.yaml"
            staged.write_text(BROKEN, encoding="utf-8")
            os.replace(staged, tmp_path / "rules" / "rules.yaml")
            wait_for(lambda: len(_events(daemon, "rules_reload_failed")) == 2, timeout=60,
                     what="both workers to fail the reload", child=daemon)
            wait_for(lambda: "**rules_reload_failed**" in _told(sandbox), timeout=60,
                     what="the reload failure told", child=daemon)

            os.kill(int(_events(daemon, "worker_started")[0]["pid"]), signal.SIGKILL)
            wait_for(lambda: "**worker_died**" in _told(sandbox), timeout=60,
                     what="the dead worker told", child=daemon)
            # The restarted worker starts from the last good snapshot and says so.
            wait_for(lambda: len(_events(daemon, "rules_reload_failed")) >= 3, timeout=60,
                     what="the restarted worker's start from the snapshot", child=daemon)
        finally:
            code = daemon.stop()
        assert code == 0, daemon.log()[-3000:]
        text = _told(sandbox)
        # Everything told before the worker died was in that digest or an earlier one.
        assert _count(text, "rules_reload_failed") == 1, text
        assert _count(text, "worker_died") == 1, text
        assert "exited with -9" in text and "rules.yaml" in text, text
        assert {e["kept"] for e in _events(daemon, "rules_reload_failed")} == {
            "running", "last_good_snapshot"}  # the restarted worker began from the snapshot
