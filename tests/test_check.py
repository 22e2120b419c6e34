"""`modworker check`: --online against the sandbox, --strict and --json for CI, and the
config problems an operator meets first (empty secret, secret in the file, tab, ...)."""

from __future__ import annotations

import io
import json
import os
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis

from worker.cli import main
from worker.config import load_config
from worker.credentials import verify_at_start
from worker.logs import configure_logging
from worker.pipeline.freshness import Freshness
from worker.pipeline.keys import Keys
from worker.sandbox import Sandbox

APP_ID = "wx0123456789abcdef"
APP_SECRET = "app-secret-0f1e2d3c4b5a69788796"
WEIBO_TOKEN = "2.00WeiboAccessTokenValue_q1w2e3r4t5y6"
MSG = 2247483650
STATUS = 4890123456789012
RULES = """version: 1
rules:
  - id: spam
    when: {content: {includes: [加v]}}
    then: [delete]
    tests: {match: [加v好友], no_match: [你好]}
"""


@pytest.fixture
def sb() -> Iterator[Sandbox]:
    with Sandbox(seed=3) as sandbox:
        sandbox.add_wechat_app(app_id=APP_ID, app_secret=APP_SECRET)
        sandbox.add_article(APP_ID, msg_data_id=MSG, index=0)
        sandbox.add_weibo_token(access_token=WEIBO_TOKEN, uid=1404376560)
        sandbox.add_weibo_post(1404376560, status_id=STATUS, text="our post")
        yield sandbox


def _write(tmp_path: Path, accounts: str, *, rules: str = RULES) -> str:
    (tmp_path / "rules").mkdir(exist_ok=True)
    (tmp_path / "rules" / "r.yaml").write_text(rules, encoding="utf-8")
    config = tmp_path / "config.yaml"
    config.write_text(f"rules: [rules/]\nstate_dir: ./var\naccounts:\n{accounts}",
                      encoding="utf-8")
    return str(config)


def _accounts(sb: Sandbox) -> str:
    return (
        f"  - name: main-oa\n    platform: wechat\n    app_id: {APP_ID}\n"
        f"    app_secret: ${{T_WECHAT_SECRET}}\n    api_base: {sb.url}\n"
        f"    targets: [{{msg_data_id: {MSG}}}]\n"
        f"  - name: brand\n    platform: weibo\n    access_token: ${{T_WEIBO_TOKEN}}\n"
        f"    api_base: {sb.url}\n    targets: [{{status_id: {STATUS}}}]\n"
    )


def test_online_names_a_wrong_secret_and_a_revoked_token(
    tmp_path: Path, sb: Sandbox, monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv("T_WECHAT_SECRET", "not-the-secret-at-all-000000000")
    monkeypatch.setenv("T_WEIBO_TOKEN", WEIBO_TOKEN)
    sb.expire_weibo_token(WEIBO_TOKEN)
    config = _write(tmp_path, _accounts(sb))
    assert main(["check", "-c", config]) == 0  # offline, nothing is asked
    capsys.readouterr()
    assert main(["check", "--online", "-c", config]) == 1
    err = capsys.readouterr().err.splitlines()
    assert any(line.startswith("error: account 'main-oa' (wechat): rejected on stable_token")
               for line in err), err
    assert any(line.startswith("error: account 'brand' (weibo): rejected on comments/show")
               for line in err), err
    assert err[-1] == "2 problems found"
    assert not (tmp_path / "var").exists()  # a private Redis, not the daemon's state


def test_online_accepts_working_credentials(
    tmp_path: Path, sb: Sandbox, monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv("T_WECHAT_SECRET", APP_SECRET)
    monkeypatch.setenv("T_WEIBO_TOKEN", WEIBO_TOKEN)
    config = _write(tmp_path, _accounts(sb))
    assert main(["check", "--online", "--json", "-c", config]) == 0
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    verdicts = {line["account"]: line["verdict"] for line in lines if "account" in line}
    assert verdicts == {"main-oa": "accepted", "brand": "accepted"}
    assert lines[-1]["severity"] == "summary" and lines[-1]["ok"] is True


def test_strict_fails_on_warnings_and_json_lists_them(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.delenv("T_UNSET_SECRET", raising=False)
    config = _write(tmp_path, (
        "  - name: main-oa\n    platform: wechat\n    app_id: wx1\n"
        "    app_secret: written-here-in-the-file\n"
        "    targets: [{msg_data_id: 5}, {msg_data_id: 5, index: 0}]\n"
        "  - name: brand\n    platform: weibo\n    access_token: ${T_UNSET_SECRET}\n"
    ))
    assert main(["check", "-c", config]) == 0
    capsys.readouterr()
    assert main(["check", "--strict", "--json", "-c", config]) == 1
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    warnings = {(w["field"], w["line"]): w["message"] for w in lines
                if w["severity"] == "warning"}
    assert warnings[("accounts[main-oa].app_secret", 7)].startswith(
        "app_secret is written in the file")
    assert warnings[("accounts[main-oa].targets[1]", 8)] == "target 5:0 is listed twice " \
        "(polled once)"
    assert warnings[("accounts[brand].access_token", 11)] == \
        "environment variable T_UNSET_SECRET is not set"
    assert lines[-1] == {**lines[-1], "severity": "summary", "ok": False, "warnings": 3}


def test_an_empty_secret_is_a_problem(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv("T_EMPTY_SECRET", "")
    config = _write(tmp_path, "  - name: brand\n    platform: weibo\n"
                              "    access_token: ${T_EMPTY_SECRET}\n")
    assert main(["check", "-c", config]) == 1
    assert ("accounts[brand].access_token: access_token is empty (${T_EMPTY_SECRET} is set "
            "but empty)") in capsys.readouterr().err


def test_a_tab_says_indent_with_spaces(tmp_path: Path,
                                       capsys: pytest.CaptureFixture[str]) -> None:
    config = _write(tmp_path, "  - name: brand\n\tplatform: weibo\n")
    assert main(["check", "-c", config]) == 1
    err = capsys.readouterr().err
    assert f"{config}:5: invalid YAML" in err and "indent with spaces" in err


@pytest.mark.skipif(os.geteuid() == 0, reason="root reads any directory: no permission error")
def test_an_unreadable_rule_directory_says_permission_denied(
    tmp_path: Path, capsys: pytest.CaptureFixture[str],
) -> None:
    config = _write(tmp_path, "")
    (tmp_path / "rules").chmod(0)
    try:
        assert main(["check", "-c", config]) == 1
    finally:
        (tmp_path / "rules").chmod(0o755)
    err = capsys.readouterr().err
    assert "permission denied" in err and "holds no rule file" not in err


def test_run_at_start_records_and_names_each_refused_account(
    tmp_path: Path, sb: Sandbox, monkeypatch: pytest.MonkeyPatch, redis_client: redis.Redis,
) -> None:
    monkeypatch.setenv("T_WECHAT_SECRET", "not-the-secret-at-all-000000000")
    monkeypatch.setenv("T_WEIBO_TOKEN", WEIBO_TOKEN)
    config = load_config(_write(tmp_path, _accounts(sb)))
    fresh = Freshness(redis=redis_client, keys=Keys())
    buf = io.StringIO()
    configure_logging(level="INFO", stream=buf, json=True, journal=False)
    try:
        checks = verify_at_start(config, redis=redis_client, freshness=fresh)
    finally:
        configure_logging(level="INFO", stream=sys.stdout, json=True)
    assert {c.account: c.verdict for c in checks} == {"main-oa": "rejected", "brand": "accepted"}
    events = [json.loads(line) for line in buf.getvalue().splitlines()]
    [rejected] = [e for e in events if e["event"] == "credentials_rejected"]
    assert rejected == {**rejected, "level": "error", "account": "main-oa", "errcode": 40125,
                        "config": str(tmp_path / "config.yaml"), "field": "accounts[main-oa]"}
    states = fresh.credentials()
    assert (states["main-oa"].status, states["brand"].status) == ("rejected", "accepted")
