"""The benchmarks' processes, through :mod:`worker.subprocesses`: the sandbox with an admin
client, the daemon with the bench secrets, and stopping whatever was started."""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Protocol

from bench.pipeline_world import APP_SECRET, WEIBO_TOKEN
from worker.sandbox.admin_client import SandboxAdminClient
from worker.subprocesses import DaemonProcess, start_daemon, start_sandbox

ROOT = Path(__file__).resolve().parent.parent
SANDBOX_MAX_CALLS = 100_000  # the call log of `python -m worker.sandbox` keeps this many
SANDBOX_STOP_GRACE = 15.0
DAEMON_STOP_GRACE = 90.0  # above the daemon's 60 s for workers to finish their messages


class SandboxProcess:
    """``python -m worker.sandbox --port 0`` and an admin client for it."""

    def __init__(self, log_path: Path) -> None:
        self.child, self.url = start_sandbox(log_path, "--seed", "1", cwd=ROOT)
        self.admin = SandboxAdminClient(self.url, timeout=120)

    @property
    def pid(self) -> int:
        return self.child.pid

    def post(self, path: str, body: dict[str, Any]) -> dict[str, Any]:
        return self.admin.post(path, body)

    def calls(self) -> list[dict[str, Any]]:
        calls = self.admin.calls()
        if len(calls) >= SANDBOX_MAX_CALLS:
            print(f"warning: the sandbox call log holds {len(calls):,} calls, its bound: the "
                  f"oldest were dropped and the call figures are short", file=sys.stderr)
        return calls

    def stop(self) -> None:
        self.admin.close()
        self.child.stop(SANDBOX_STOP_GRACE)


def start_bench_daemon(config: Path, log_path: Path, *, processes: int,
                       threads: int) -> DaemonProcess:
    """``modworker run`` with the bench's secrets in its environment (the config names them)."""
    env = {**os.environ, "BENCH_WX_SECRET": APP_SECRET, "BENCH_WB_TOKEN": WEIBO_TOKEN}
    return start_daemon(config, log_path, processes=processes, threads=threads, env=env,
                        cwd=ROOT)


class Stoppable(Protocol):
    def stop(self) -> object: ...


@contextmanager
def cleanup_stack() -> Iterator[list[Stoppable]]:
    """Things with ``stop()`` to stop in reverse order, whatever happens."""
    things: list[Stoppable] = []
    try:
        yield things
    finally:
        for thing in reversed(things):
            try:
                thing.stop()
            except Exception as exc:  # noqa: BLE001 - keep stopping the rest, but say so
                print(f"warning: stopping {type(thing).__name__}: {exc}", file=sys.stderr)


def exit_on_sigterm(signum: int, frame: object) -> None:
    """A SIGTERM handler: exit as on Ctrl-C, so that ``finally`` stops what was started."""
    raise SystemExit(128 + signum)
