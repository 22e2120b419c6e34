"""The subprocess harness: sessions, log tails, stopping a whole group, waiting, the sweep."""

from __future__ import annotations

import os
import signal
import sys
from pathlib import Path

import pytest

from tests.pipeline.daemon_harness import make_sandbox, start_daemon, write_config
from worker.errors import ProcessWaitError, SandboxAdminError
from worker.procutil import pid_alive
from worker.sandbox.admin_client import SandboxAdminClient
from worker.subprocesses import kill_marked, marked_pids, spawn, start_sandbox, wait_for

# A parent that starts a grandchild in its group, prints both pids and ignores SIGTERM.
STUBBORN_PARENT = """
import signal, subprocess, sys, time
signal.signal(signal.SIGTERM, signal.SIG_IGN)
child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(600)"])
print("pids", child.pid, flush=True)
time.sleep(600)
"""


def _grandchild(log: str) -> int:
    for line in log.splitlines():
        if line.startswith("pids "):
            return int(line.split()[1])
    raise AssertionError(f"no pids line in {log!r}")


def test_a_child_runs_in_its_own_session_with_its_output_in_the_log(tmp_path: Path) -> None:
    child = spawn("echo", [sys.executable, "-c", "import os, sys; print('out', os.getsid(0));"
                           "print('err', file=sys.stderr)"], tmp_path / "echo.log")
    assert child.process.wait(30) == 0
    assert child.log().splitlines() == [f"out {child.pid}", "err"]
    assert child.log_tail(1) == "err"
    assert child.stop(1) == 0  # already gone: its exit code


def test_stop_kills_the_whole_group_after_the_grace(tmp_path: Path) -> None:
    child = spawn("stubborn", [sys.executable, "-c", STUBBORN_PARENT], tmp_path / "s.log")
    wait_for(lambda: "pids" in child.log(), timeout=30, what="the grandchild", child=child)
    grandchild = _grandchild(child.log())
    assert child.stop(grace=0.5) is None  # SIGTERM ignored: killed
    assert child.returncode == -signal.SIGKILL
    wait_for(lambda: not pid_alive(grandchild) or _zombie(grandchild), timeout=30,
             what="the grandchild to die")


def _zombie(pid: int) -> bool:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except FileNotFoundError:
        return True
    return stat.rsplit(")", 1)[1].split()[0] == "Z"


def test_wait_for_names_the_child_that_exited_with_its_log(tmp_path: Path) -> None:
    child = spawn("failing", [sys.executable, "-c", "print('no config here'); raise SystemExit(3)"],
                  tmp_path / "f.log")
    with pytest.raises(ProcessWaitError) as caught:
        wait_for(lambda: False, timeout=30, what="something", child=child)
    message = str(caught.value)
    assert "the failing exited with status 3 while waiting for something" in message
    assert message.endswith("no config here")


def test_wait_for_gives_up_at_the_deadline() -> None:
    with pytest.raises(ProcessWaitError, match=r"timed out after 0s waiting for nothing"):
        wait_for(lambda: False, timeout=0.2, what="nothing", interval=0.05)


def test_start_sandbox_reads_its_url_and_the_admin_client_talks_to_it(tmp_path: Path) -> None:
    child, url = start_sandbox(tmp_path / "sandbox.log", "--seed", "3")
    try:
        assert url.startswith("http://127.0.0.1:")
        admin = SandboxAdminClient(url)
        assert admin.get("health")["ok"] is True
        assert admin.calls() == []
        with pytest.raises(SandboxAdminError, match="no such admin call"):
            admin.post("no-such-call", {})
        with pytest.raises(SandboxAdminError, match="answered 400"):
            admin.post("wechat/comment", {"app_id": "nobody"})
        admin.close()
    finally:
        assert child.stop(10) == 0


def test_a_sandbox_that_cannot_start_is_told_with_its_log(tmp_path: Path) -> None:
    with pytest.raises(ProcessWaitError, match="refusing to bind"):
        start_sandbox(tmp_path / "sandbox.log", "--host", "0.0.0.0")


def test_kill_marked_finds_descendants_by_their_environment(tmp_path: Path) -> None:
    mark = str(tmp_path)
    env = {**os.environ, "MODWORKER_TEST_MARK": mark}
    child = spawn("sleeper", [sys.executable, "-c", "import time; time.sleep(600)"],
                  tmp_path / "sleep.log", env=env)
    try:
        wait_for(lambda: child.pid in marked_pids("MODWORKER_TEST_MARK", mark), timeout=30,
                 what="the mark to show")
        assert kill_marked("MODWORKER_TEST_MARK", mark, grace=0.2) == [child.pid]
        assert child.process.wait(30) == -signal.SIGKILL
    finally:
        child.kill()


def test_a_daemon_knows_its_workers_and_stops_with_them(tmp_path: Path) -> None:
    with make_sandbox() as sandbox:
        config = write_config(tmp_path, sandbox.url)
        daemon = start_daemon(config, tmp_path / "daemon.log", processes=2, threads=2)
        try:
            workers = daemon.wait_for_workers(2)
            assert len(workers) == 2 and daemon.pid not in workers
            assert all(os.getpgid(pid) == daemon.pid for pid in workers)
        finally:
            assert daemon.stop(60) == 0, daemon.log_tail()
        wait_for(lambda: not any(pid_alive(pid) and not _zombie(pid) for pid in workers),
                 timeout=30, what="the workers to be gone")
