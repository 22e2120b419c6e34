"""The demo's child processes: the sandbox and the daemon (through :mod:`worker.subprocesses`),
the daemon's embedded Redis as a client sees it, and ``modworker`` commands run beside them.

Every child carries ``MODWORKER_DEMO_DIR=<work directory>`` in its environment, so that the
last sweep (and the tests) find any descendant by that mark, the embedded Redis included (it
runs in its own session and rewrites its command line).
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable, Mapping
from pathlib import Path

import redis

from worker.demo.setup import DemoError
from worker.sandbox.admin_client import SandboxAdminClient
from worker.subprocesses import (
    ChildProcess,
    DaemonProcess,
    kill_marked,
    start_daemon,
    start_sandbox,
    wait_for,
)

MARK_VARIABLE = "MODWORKER_DEMO_DIR"
SANDBOX_START_TIMEOUT = 20.0
DAEMON_START_TIMEOUT = 40.0
DAEMON_STOP_TIMEOUT = 75.0  # above the daemon's 60 s for workers to finish their messages
SANDBOX_STOP_TIMEOUT = 10.0
CLI_TIMEOUT = 60.0


class DemoProcesses:
    """What the demo started, and how to stop it; ``cleanup`` stops whatever is left."""

    def __init__(self, workdir: Path) -> None:
        self.workdir = workdir
        self.env = _marked_loopback_env(workdir)
        self.sandbox: ChildProcess | None = None
        self.daemon: DaemonProcess | None = None
        self._admin: SandboxAdminClient | None = None
        self._redis: redis.Redis | None = None

    # -- the sandbox ----------------------------------------------------------------------

    def start_sandbox(self, seed_file: Path) -> str:
        """The sandbox seeded from ``seed_file``; its URL once it answers."""
        self.sandbox, url = start_sandbox(
            self.workdir / "sandbox.log", "--seed-file", str(seed_file), "--seed", "7",
            env=self.env, cwd=self.workdir, timeout=SANDBOX_START_TIMEOUT)
        self._admin = SandboxAdminClient(url)
        self._admin.get("health")
        return url

    def admin(self) -> SandboxAdminClient:
        if self._admin is None:
            raise DemoError("the sandbox is not running")
        return self._admin

    def stop_sandbox(self) -> None:
        self._close_admin()
        if self.sandbox is not None:
            self.sandbox.stop(SANDBOX_STOP_TIMEOUT)

    # -- the daemon -----------------------------------------------------------------------

    def start_daemon(self, config_path: Path, secrets: Mapping[str, str]) -> DaemonProcess:
        """``modworker run`` with ``secrets`` added to its environment, once it has started
        and its embedded Redis answers."""
        self.daemon = start_daemon(config_path, self.workdir / "daemon.log", processes=2,
                                   threads=4, env={**self.env, **secrets}, cwd=self.workdir)
        daemon = self.daemon
        wait_for(lambda: "daemon_started" in daemon.log() and self._redis_answers(),
                 timeout=DAEMON_START_TIMEOUT, what="the daemon to be ready", child=daemon)
        return daemon

    def check_daemon_running(self) -> None:
        daemon = self._running_daemon()
        if not daemon.alive():
            raise DemoError(f"the daemon exited with status {daemon.returncode} while running; "
                            f"the end of its log:\n{daemon.log_tail()}")

    def stop_daemon(self) -> None:
        """SIGTERM; DemoError unless it exits 0 in time."""
        daemon = self._running_daemon()
        code = daemon.stop(DAEMON_STOP_TIMEOUT)
        if code is None:
            raise DemoError(f"the daemon did not stop within {DAEMON_STOP_TIMEOUT:.0f}s of "
                            f"SIGTERM and was killed; the end of its log:\n{daemon.log_tail()}")
        if code != 0:
            raise DemoError(f"the daemon exited with status {code} on SIGTERM; the end of its "
                            f"log:\n{daemon.log_tail()}")

    def _running_daemon(self) -> DaemonProcess:
        if self.daemon is None:
            raise DemoError("the daemon is not running")
        return self.daemon

    def redis(self) -> redis.Redis:
        """A client of the daemon's embedded Redis (its unix socket under the state dir)."""
        if self._redis is None:
            socket = self.workdir / "var" / "redis.sock"
            self._redis = redis.Redis.from_url(f"unix://{socket}?db=0", socket_timeout=5)
        return self._redis

    def close_redis(self) -> None:
        if self._redis is not None:
            self._redis.close()
            self._redis = None

    def _redis_answers(self) -> bool:
        try:
            return bool(self.redis().ping())
        except (redis.ConnectionError, redis.TimeoutError, FileNotFoundError):
            return False  # not answering yet; the deadline decides

    # -- commands beside the daemon -------------------------------------------------------

    def cli(self, config_path: Path, *argv: str) -> str:
        """The output of ``modworker <argv[0]> <argv[1]> -c config_path <argv[2:]>``."""
        result = subprocess.run(
            [sys.executable, "-m", "worker.cli", *argv[:2], "-c", str(config_path), *argv[2:]],
            capture_output=True, text=True, env=self.env, cwd=self.workdir,
            timeout=CLI_TIMEOUT, check=False,
        )
        if result.returncode != 0:
            raise DemoError(f"`modworker {' '.join(argv[:2])}` exited with status "
                            f"{result.returncode}: {result.stderr.strip()}")
        return result.stdout

    # -- stopping everything ---------------------------------------------------------------

    def cleanup(self, say: Callable[[str], None]) -> None:
        """Stop whatever is still running: the daemon first (it stops its workers and Redis),
        then the sandbox; SIGKILL to the process groups as a last resort; then a sweep for any
        descendant still carrying the demo's mark."""
        self.close_redis()
        self._close_admin()
        for child, grace in ((self.daemon, DAEMON_STOP_TIMEOUT / 3), (self.sandbox, 5.0)):
            if child is None:
                continue
            if child.alive():
                if child.stop(grace) is None:
                    say(f"the {child.name} did not stop in time and was killed")
            else:
                child.stop(0)
        for pid in kill_marked(MARK_VARIABLE, str(self.workdir), grace=10.0):
            say(f"killed leftover process {pid}")

    def _close_admin(self) -> None:
        if self._admin is not None:
            self._admin.close()
            self._admin = None


def _marked_loopback_env(workdir: Path) -> dict[str, str]:
    """This process's environment, with the demo's mark, and loopback kept from any proxy."""
    env = dict(os.environ)
    env[MARK_VARIABLE] = str(workdir)
    no_proxy = ",".join(filter(None, [env.get("NO_PROXY"), "127.0.0.1", "localhost"]))
    env["NO_PROXY"] = env["no_proxy"] = no_proxy
    return env

