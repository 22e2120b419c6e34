"""Operable daemon, end to end: refused credentials named at start, a token revoked mid-run
told once while the other account goes on, freshness stale in stats and metrics, /readyz and
/healthz, `modworker health`, `audit --kind poll`."""

from __future__ import annotations

import contextlib
import io
import json
import os
import signal
import socket
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

import pytest

from worker.cli import main
from worker.subprocesses import DaemonProcess, wait_for

from .daemon_harness import (
    APP_ID,
    ARTICLE_A,
    STATUS_ID,
    WEIBO_TOKEN,
    make_sandbox,
    ok_calls,
    start_daemon,
    write_config,
)

pytestmark = pytest.mark.slow

def _metrics() -> str:
    """A metrics section on a port free right now (the config refuses port 0)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    return f"metrics: {{enabled: true, host: 127.0.0.1, port: {port}}}\n"


def _events(daemon: DaemonProcess, name: str) -> list[dict[str, Any]]:
    out = []
    for line in daemon.log().splitlines():
        if line.startswith("{") and f'"{name}"' in line:
            record = json.loads(line)
            if record.get("event") == name:
                out.append(record)
    return out


def _listener(daemon: DaemonProcess) -> str:
    wait_for(lambda: bool(_events(daemon, "metrics_serving")), timeout=60,
             what="the metrics listener", child=daemon)
    return str(_events(daemon, "metrics_serving")[0]["url"]).removesuffix("/metrics")


def _get(url: str) -> tuple[int, Any]:
    try:
        with urllib.request.urlopen(url, timeout=10) as answer:
            body = answer.read().decode()
            return answer.status, json.loads(body) if "json" in answer.headers.get(
                "Content-Type", "") else body
    except urllib.error.HTTPError as err:
        return err.code, json.loads(err.read())


def test_refused_credentials_are_named_at_start(tmp_path: Path) -> None:
    with make_sandbox(wechat_secret="the-secret-the-platform-has-0000") as sandbox:
        sandbox.expire_weibo_token(WEIBO_TOKEN)
        config = write_config(tmp_path, sandbox.url, extra=_metrics())
        daemon = start_daemon(config, tmp_path / "daemon.log")
        try:
            wait_for(lambda: len(_events(daemon, "credentials_rejected")) >= 2, timeout=60,
                     what="both accounts refused", child=daemon)
            base = _listener(daemon)
            wait_for(lambda: _get(f"{base}/healthz")[0] == 200, timeout=30,
                     what="healthz 200", child=daemon)
            status, body = _get(f"{base}/readyz")
        finally:
            code = daemon.stop()
        assert code == 0
        rejected = {e["account"]: e for e in _events(daemon, "credentials_rejected")}
        assert set(rejected) == {"oa", "wb"}
        assert rejected["oa"]["field"] == "accounts[oa]"
        assert rejected["oa"]["config"] == str(config)
        assert status == 503
        [problem] = body["problems"]
        assert problem.startswith("credentials: ") and "oa: rejected" in problem \
            and "wb: rejected" in problem
        started = _events(daemon, "daemon_started")[0]
        assert started["version"] and len(started["config_sha256"]) == 12
        assert len(started["rules_sha256"]) == 12


def test_a_token_revoked_mid_run_is_told_once_and_the_other_account_goes_on(
    tmp_path: Path,
) -> None:
    with make_sandbox() as sandbox:
        config = write_config(tmp_path, sandbox.url, interval="1s", extra=_metrics())
        polling = "polling: {interval: 1s, full_pass_interval: 2s"
        assert polling in config.read_text()
        config.write_text(config.read_text().replace(polling, polling + ", stale_after: 4s"))
        daemon = start_daemon(config, tmp_path / "daemon.log", processes=2, threads=4)
        try:
            base = _listener(daemon)
            wait_for(lambda: _get(f"{base}/readyz")[0] == 200, timeout=60,
                     what="ready", child=daemon)
            wait_for(lambda: all(t["last_ok"] for t in _targets(config)), timeout=60,
                     what="every target polled", child=daemon)
            sandbox.expire_weibo_token(WEIBO_TOKEN)
            wait_for(lambda: bool(_events(daemon, "credentials_rejected")), timeout=30,
                     what="credentials_rejected", child=daemon)
            wait_for(lambda: len([e for e in _events(daemon, "poll_failed")
                                    if e["account"] == "wb"]) >= 6,
                     timeout=60, what="six failed polls of the Weibo post", child=daemon)
            # The WeChat account keeps working: a new spam comment is deleted.
            cid = sandbox.add_wechat_comment(APP_ID, ARTICLE_A, 0, content="加v：abc123456",
                                             openid="oSpammerAfterRevocation0001")
            wait_for(lambda: any(int(c.body["user_comment_id"]) == cid
                                   for c in ok_calls(sandbox, "comment/delete")),
                     timeout=30, what="the WeChat spam deleted", child=daemon)
            wait_for(lambda: _stale_weibo(config), timeout=30, what="stale in stats",
                     child=daemon)
            ready_status, ready = _get(f"{base}/readyz")
            live_status, _ = _get(f"{base}/healthz")
            _, exposition = _get(f"{base}/metrics")
            scraped_at = time.time()
            assert main(["health", "-c", str(config)]) == 6
            assert main(["audit", "-c", str(config), "--kind", "poll", "--account", "wb",
                         "--json", "--limit", "3"]) == 0
        finally:
            code = daemon.stop()
        assert code == 0, daemon.log()[-3000:]
        rejected = _events(daemon, "credentials_rejected")
        assert [(e["account"], e["level"]) for e in rejected] == [("wb", "error")]  # once
        failed = [e for e in _events(daemon, "poll_failed") if e["account"] == "wb"]
        assert {(e["reason"], e["error"], e["errcode"]) for e in failed} == {
            ("credentials", "AuthError", 21327)}
        assert all(e["target"] == str(STATUS_ID) and e["next"] for e in failed)
        assert not [e for e in _events(daemon, "poll_failed") if e["account"] == "oa"]
        assert ready_status == 503 and any("wb: rejected (21327)" in p
                                           for p in ready["problems"])
        assert live_status == 200
        assert _gauge_age(exposition, "wb", str(STATUS_ID), scraped_at) > 4
        assert _gauge_age(exposition, "oa", f"{ARTICLE_A}:0", scraped_at) < 4
        lines = daemon.log().splitlines()
        # dramatiq's own lines never stand in for ours: no traceback, no anonymous retries
        assert not any("Retries exceeded" in line or "Traceback" in line for line in lines)
        assert not [e for e in _events(daemon, "message_failed") if e["level"] == "error"]


def _targets(config: Path) -> list[dict[str, Any]]:
    """`modworker stats --json`'s freshness records."""
    buf = io.StringIO()
    with contextlib.redirect_stdout(buf):
        assert main(["stats", "-c", str(config), "--json"]) == 0
    return list(json.loads(buf.getvalue())["targets"]["targets"])


def _stale_weibo(config: Path) -> bool:
    targets = _targets(config)
    by_account = {t["account"]: t for t in targets}
    return bool(by_account["wb"]["stale"]) and not any(
        t["stale"] for t in targets if t["account"] == "oa")


def _gauge_age(exposition: str, account: str, target: str, scraped_at: float) -> float:
    prefix = (f'modworker_last_successful_poll_timestamp_seconds{{account="{account}",'
              f'target="{target}"}} ')
    [line] = [line for line in exposition.splitlines() if line.startswith(prefix)]
    return scraped_at - float(line.removeprefix(prefix))


def test_healthz_while_a_worker_is_restarting(tmp_path: Path) -> None:
    with make_sandbox() as sandbox:
        config = write_config(tmp_path, sandbox.url, extra=_metrics())
        daemon = start_daemon(config, tmp_path / "daemon.log", processes=2)
        try:
            base = _listener(daemon)
            wait_for(lambda: _get(f"{base}/healthz")[0] == 200, timeout=60,
                     what="healthy", child=daemon)
            wait_for(lambda: len(_events(daemon, "worker_started")) >= 2, timeout=60,
                     what="two workers", child=daemon)
            pid = int(_events(daemon, "worker_started")[0]["pid"])
            os.kill(pid, signal.SIGKILL)
            seen: list[tuple[int, Any]] = []

            def restarting() -> bool:
                seen.append(_get(f"{base}/healthz"))
                return seen[-1][0] == 503
            wait_for(restarting, timeout=20, what="healthz 503", child=daemon)
            body = seen[-1][1]
            wait_for(lambda: _get(f"{base}/healthz")[0] == 200, timeout=60,
                     what="healthy again", child=daemon)
        finally:
            code = daemon.stop()
        assert code == 0
        assert any("restarting" in p for p in body["problems"]), body


def test_a_busy_metrics_port_is_exit_5_not_a_bad_config(tmp_path: Path) -> None:
    with make_sandbox() as sandbox, socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        config = write_config(tmp_path, sandbox.url, extra=(
            f"metrics: {{enabled: true, host: 127.0.0.1, port: {port}}}\n"))
        daemon = start_daemon(config, tmp_path / "daemon.log")
        code = daemon.process.wait(60)
    assert code == 5, daemon.log()[-2000:]
    [event] = _events(daemon, "metrics_unavailable")
    assert event["exit_code"] == 5 and f"127.0.0.1:{port}" in event["detail"]
