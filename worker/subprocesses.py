"""The one harness for child processes: ``modworker demo``, the benchmarks and the daemon tests.

Every child runs in a session of its own (so its process group is its pid and a stop reaches
its children too) with its stdout and stderr appended to a log file, whose end is what an
error message shows. On top of that: the sandbox as a process (``python -m worker.sandbox``,
its URL read from its log), the daemon (``modworker run``) and its worker processes, waiting
for a condition with a deadline, and a last sweep for descendants that left the group (the
embedded Redis starts a session of its own) by a mark in their environment.
"""

from __future__ import annotations

import contextlib
import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from worker.errors import ProcessWaitError

#: The one line ``python -m worker.sandbox`` prints once it accepts connections.
_SANDBOX_LISTENING = re.compile(r"sandbox listening on (http://127\.0\.0\.1:\d+)")
#: A daemon's worker processes are spawned interpreters (multiprocessing's "spawn").
_WORKER_MARK = b"spawn_main"
LOG_TAIL_LINES = 30


@dataclass
class ChildProcess:
    """A process started by :func:`spawn`: in its own session, its output in ``log_path``."""

    name: str
    process: subprocess.Popen[bytes]
    log_path: Path

    @property
    def pid(self) -> int:
        return self.process.pid

    @property
    def returncode(self) -> int | None:
        return self.process.returncode

    def alive(self) -> bool:
        return self.process.poll() is None

    def log(self) -> str:
        """Everything it has logged so far ("" before it wrote anything)."""
        try:
            return self.log_path.read_text(encoding="utf-8", errors="replace")
        except FileNotFoundError:
            return ""

    def log_tail(self, lines: int = LOG_TAIL_LINES) -> str:
        """The last ``lines`` lines of its log, for an error message."""
        try:
            text = self.log_path.read_text(encoding="utf-8", errors="replace")
        except OSError as exc:
            return f"(cannot read {self.log_path}: {exc})"
        return "\n".join(text.splitlines()[-lines:])

    def stop(self, grace: float = 120.0, sig: int = signal.SIGTERM) -> int | None:
        """``sig`` to the leader, then up to ``grace`` seconds for it to exit; SIGKILL to the
        whole group if it does not. Returns the exit code of a clean stop, None if it had to be
        killed. A leader that is already gone has its group's stragglers killed."""
        if not self.alive():
            self._kill_group()
            return self.process.returncode
        self.send_signal(sig)
        return self.wait(grace)

    def send_signal(self, sig: int) -> None:
        """``sig`` to the leader alone, if it still runs."""
        with contextlib.suppress(ProcessLookupError):
            self.process.send_signal(sig)

    def wait(self, grace: float) -> int | None:
        """Up to ``grace`` seconds for it to exit, then SIGKILL to the whole group. Returns
        its exit code, None if it had to be killed."""
        try:
            return self.process.wait(grace)
        except subprocess.TimeoutExpired:
            self.kill()
            return None

    def kill(self) -> None:
        """SIGKILL the whole process group at once, and reap the leader."""
        self._kill_group()
        with contextlib.suppress(ProcessLookupError):
            self.process.kill()
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.process.wait(30)

    def _kill_group(self) -> None:
        # Unreaped, or just reaped by us: the group id is still this session's.
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self.process.pid, signal.SIGKILL)


@dataclass
class DaemonProcess(ChildProcess):
    """``modworker run`` started by :func:`start_daemon`; knows its worker processes."""

    workers: list[int] = field(default_factory=list)

    def worker_pids(self) -> list[int]:
        """The daemon's worker processes running now (its children that are spawned
        interpreters; Linux ``/proc``, an empty list elsewhere)."""
        path = Path(f"/proc/{self.pid}/task/{self.pid}/children")
        try:
            children = [int(p) for p in path.read_text().split()]
        except (FileNotFoundError, ProcessLookupError):
            return []
        return sorted(pid for pid in children if _WORKER_MARK in _cmdline(pid))

    def wait_for_workers(self, count: int, timeout: float = 60.0) -> list[int]:
        """The pids of its worker processes, once all ``count`` have started."""
        wait_for(lambda: len(self.worker_pids()) >= count, timeout=timeout,
                 what=f"{count} worker processes", child=self)
        self.workers = self.worker_pids()
        return self.workers

    def stop(self, grace: float = 120.0, sig: int = signal.SIGTERM) -> int | None:
        """As :meth:`ChildProcess.stop`, and then SIGKILL to any worker it left behind (they
        normally stop with it)."""
        self.workers = sorted({*self.workers, *self.worker_pids()})
        code = super().stop(grace, sig)
        self._kill_left_workers()
        return code

    def kill(self) -> None:
        self.workers = sorted({*self.workers, *self.worker_pids()})
        super().kill()
        self._kill_left_workers()

    def _kill_left_workers(self) -> None:
        for pid in self.workers:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                # Still that worker (in the daemon's group), not a reused pid.
                if os.getpgid(pid) == self.pid and _WORKER_MARK in _cmdline(pid):
                    os.kill(pid, signal.SIGKILL)


def spawn(name: str, args: Sequence[str], log_path: Path, *,
          env: Mapping[str, str] | None = None, cwd: Path | None = None) -> ChildProcess:
    """Start ``args`` in a new session, stdin from /dev/null, stdout and stderr appended to
    ``log_path``."""
    with log_path.open("ab") as handle:
        process = subprocess.Popen(
            list(args), stdin=subprocess.DEVNULL, stdout=handle, stderr=subprocess.STDOUT,
            env=None if env is None else dict(env), cwd=cwd, start_new_session=True,
        )
    return ChildProcess(name, process, log_path)


def start_sandbox(log_path: Path, *args: str, env: Mapping[str, str] | None = None,
                  cwd: Path | None = None, timeout: float = 20.0) -> tuple[ChildProcess, str]:
    """``python -m worker.sandbox --port 0 *args``, and its URL once it listens."""
    child = spawn("sandbox", [sys.executable, "-m", "worker.sandbox", "--port", "0", *args],
                  log_path, env=env, cwd=cwd)
    urls: list[str] = []

    def listening() -> bool:
        found = _SANDBOX_LISTENING.search(child.log())
        if found:
            urls.append(found.group(1))
        return found is not None

    try:
        wait_for(listening, timeout=timeout, what="the sandbox to listen", child=child)
    except ProcessWaitError:
        child.stop(5.0)
        raise
    return child, urls[0]


def start_daemon(config: Path, log_path: Path, *, processes: int = 1, threads: int = 4,
                 env: Mapping[str, str] | None = None,
                 cwd: Path | None = None) -> DaemonProcess:
    """``modworker run -c config --processes N --threads T`` (not waited for: see
    :meth:`DaemonProcess.wait_for_workers` or :func:`wait_for` on its log)."""
    child = spawn("daemon", [sys.executable, "-m", "worker.cli", "run", "-c", str(config),
                             "--processes", str(processes), "--threads", str(threads)],
                  log_path, env=env, cwd=cwd)
    return DaemonProcess(child.name, child.process, child.log_path)


def wait_for(condition: Callable[[], bool], *, timeout: float, what: str,
             child: ChildProcess | None = None, interval: float = 0.1) -> None:
    """Return once ``condition()`` holds; ProcessWaitError (with the end of ``child``'s log)
    if ``child`` exits first or ``timeout`` seconds pass."""
    deadline = time.monotonic() + timeout
    while True:
        if condition():
            return
        if child is not None and not child.alive():
            raise ProcessWaitError(
                f"the {child.name} exited with status {child.returncode} while waiting for "
                f"{what}; the end of its log:\n{child.log_tail()}")
        if time.monotonic() > deadline:
            tail = f"; the end of the {child.name}'s log:\n{child.log_tail()}" if child else ""
            raise ProcessWaitError(f"timed out after {timeout:.0f}s waiting for {what}{tail}")
        time.sleep(interval)


def marked_pids(variable: str, value: str) -> list[int]:
    """Processes whose environment holds ``variable=value`` (Linux ``/proc``; an empty list
    elsewhere). A child inherits its parent's environment, so a mark set on the first
    process finds all its descendants, those in other sessions too."""
    needle = f"{variable}={value}".encode()
    found: list[int] = []
    proc = Path("/proc")
    if not proc.is_dir():
        return found
    for entry in proc.iterdir():
        if not entry.name.isdigit():
            continue
        try:
            environ = (entry / "environ").read_bytes()
        except OSError:
            continue  # gone meanwhile, or another user's
        if needle in environ.split(b"\0"):
            found.append(int(entry.name))
    return found


def kill_marked(variable: str, value: str, grace: float = 10.0) -> list[int]:
    """Give the processes marked ``variable=value`` ``grace`` seconds to exit by themselves,
    then SIGKILL those left; returns the pids it killed."""
    deadline = time.monotonic() + grace
    left = marked_pids(variable, value)
    while left and time.monotonic() < deadline:
        time.sleep(0.2)
        left = marked_pids(variable, value)
    for pid in left:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.kill(pid, signal.SIGKILL)
    return left


def _cmdline(pid: int) -> bytes:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes()
    except (FileNotFoundError, ProcessLookupError, PermissionError):
        return b""
