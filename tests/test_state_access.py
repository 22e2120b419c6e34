"""Reading the embedded state while the daemon is down (worker.state_access), through
`modworker audit` and `modworker stats`: a copy is read, the daemon's files are not touched,
nothing that acts is started."""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
from pathlib import Path

import pytest
import redis

from worker.cli import main
from worker.pipeline.audit import AuditLog
from worker.pipeline.freshness import Freshness
from worker.pipeline.keys import Keys
from worker.redis_server import EmbeddedRedis

RULES = """version: 1
rules:
  - id: spam
    when: {content: {includes: [加v]}}
    then: [delete]
"""


def _config(tmp_path: Path) -> str:
    (tmp_path / "rules").mkdir()
    (tmp_path / "rules" / "r.yaml").write_text(RULES, encoding="utf-8")
    config = tmp_path / "config.yaml"
    config.write_text(
        "state_dir: ./var\nrules: [rules/]\npolling: {interval: 10s, max_interval: 10s}\n"
        "accounts:\n"
        "  - name: main-oa\n    platform: wechat\n    app_id: wx1\n"
        "    app_secret: '${NO_SUCH_SECRET_X}'\n    targets: [{msg_data_id: 1, index: 0}]\n"
        "  - name: brand\n    platform: weibo\n    access_token: '${NO_SUCH_TOKEN_X}'\n"
        "    targets: [{status_id: 42}]\n",
        encoding="utf-8",
    )
    return str(config)


def _digest(directory: Path) -> dict[str, str]:
    return {
        str(p.relative_to(directory)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(directory.rglob("*")) if p.is_file() and p.name != "redis.log"
    }


@pytest.fixture
def stopped_daemon_state(tmp_path: Path) -> Path:
    """The embedded Redis of a daemon that ran and stopped: audit records, freshness."""
    state = tmp_path / "var"
    with EmbeddedRedis(state_dir=state, appendonly=True) as server:
        client = redis.Redis.from_url(server.url)
        AuditLog(redis=client).append({"kind": "decision", "platform": "wechat",
                                       "account": "main-oa", "target": "1:0",
                                       "comment_id": "7", "rules": ["spam"], "actions": []})
        fresh = Freshness(redis=client, keys=Keys())
        fresh.poll_succeeded(account="main-oa", platform="wechat", target="1:0",
                             new_comments=1, at=1_000.0)  # long ago: stale
        fresh.poll_failed(account="brand", platform="weibo", target="42",
                          reason="credentials", errcode=21332, detail="invalid_access_token")
        fresh.credentials_rejected("brand", errcode=21332, detail="invalid_access_token")
        client.close()
    return state


def test_audit_and_stats_after_the_daemon_stopped(
    tmp_path: Path, stopped_daemon_state: Path, capsys: pytest.CaptureFixture[str],
) -> None:
    config = _config(tmp_path)
    before = _digest(stopped_daemon_state)
    assert main(["audit", "-c", config, "--json"]) == 0
    captured = capsys.readouterr()
    [record] = [json.loads(line) for line in captured.out.splitlines()]
    assert record["comment_id"] == "7"
    assert "the daemon is not running: read from a copy" in captured.err
    assert main(["stats", "-c", config, "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    by_account = {t["account"]: t for t in report["targets"]["targets"]}
    assert by_account["main-oa"]["stale"] and by_account["main-oa"]["last_ok"] == 1_000.0
    assert by_account["brand"]["stale"] and by_account["brand"]["credentials"] == "rejected"
    assert by_account["brand"]["reason"] == "credentials"
    assert _digest(stopped_daemon_state) == before  # the daemon's files were not written
    assert not (stopped_daemon_state / "redis.sock").exists()


def test_a_daemon_holding_the_state_whose_redis_does_not_answer_is_an_error(
    tmp_path: Path, stopped_daemon_state: Path, capsys: pytest.CaptureFixture[str],
) -> None:
    config = _config(tmp_path)
    fd = os.open(stopped_daemon_state / "redis.lock", os.O_RDWR)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)  # as a daemon starting its Redis holds it
        assert main(["audit", "-c", config]) == 3
    finally:
        os.close(fd)
    assert "a daemon owns" in capsys.readouterr().err


def test_stats_on_a_terminal_flags_stale_targets_and_refused_credentials(
    tmp_path: Path, stopped_daemon_state: Path, capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    config = _config(tmp_path)
    monkeypatch.setattr("sys.stdout.isatty", lambda: True)
    monkeypatch.setenv("COLUMNS", "160")
    assert main(["stats", "-c", config]) == 0
    lines = capsys.readouterr().out.splitlines()
    table = lines[lines.index("polling, per target:") + 1:]
    assert table[0].split()[:2] == ["ACCOUNT", "TARGET"]
    rows = {line.split()[0]: line for line in table[1:3]}
    assert "STALE CREDENTIALS" in rows["brand"] and "credentials 21332" in rows["brand"]
    assert "STALE" in rows["main-oa"] and "CREDENTIALS" not in rows["main-oa"]
    assert table[-1].startswith("STALE: no successful poll for 60 s")
