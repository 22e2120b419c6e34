"""`modworker check` and `modworker replay` end to end, through the real entry point."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from worker.cli import build_parser, main


def test_check_passes_on_the_example_config(
    repo_root: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("WECHAT_APP_SECRET", raising=False)
    assert main(["check", "-c", str(repo_root / "config.example.yaml")]) == 0
    out = capsys.readouterr().out
    assert "ok:" in out and "test sample(s) passed" in out
    assert "WECHAT_APP_SECRET is not set" in out  # a warning, not an error, for check


def test_check_fails_with_located_problems(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "rules").mkdir()
    (tmp_path / "rules" / "r.yaml").write_text(
        "version: 1\nrules:\n  - id: r\n    when: {content: {includes: [x]}}\n    then: [delet]\n",
        encoding="utf-8",
    )
    config = tmp_path / "config.yaml"
    config.write_text("rules: [rules/]\n", encoding="utf-8")
    assert main(["check", "-c", str(config)]) == 1
    err = capsys.readouterr().err
    assert f"{tmp_path / 'rules' / 'r.yaml'}:5: rule 'r'" in err
    assert "did you mean 'delete'" in err and "1 problem found" in err


def test_check_warns_of_an_untested_enforced_rule_and_strict_refuses_it(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "rules").mkdir()
    rule_file = tmp_path / "rules" / "r.yaml"
    rule_file.write_text(
        "version: 1\nrules:\n  - id: r\n    when: {content: {includes: [x]}}\n"
        "    then: [delete]\n",
        encoding="utf-8",
    )
    config = tmp_path / "config.yaml"
    config.write_text("rules: [rules/]\n", encoding="utf-8")
    message = (f"{rule_file}:3: rule 'r': tests: an enforced rule without tests: give it "
               "tests: {match: [...], no_match: [...]} so that `check` proves what it removes")
    assert main(["check", "-c", str(config)]) == 0
    assert f"warning: {message}" in capsys.readouterr().out.splitlines()
    assert main(["check", "--strict", "-c", str(config)]) == 1
    assert capsys.readouterr().err.splitlines() == [f"error: {message}", "1 problem found"]


def _replay_setup(tmp_path: Path) -> Path:
    (tmp_path / "rules").mkdir()
    (tmp_path / "rules" / "r.yaml").write_text(
        "version: 1\n"
        "rules:\n"
        "  - id: spam\n"
        "    when: {content: {includes: [博彩]}}\n"
        "    then: [delete, blacklist]\n"
        "  - id: thanks\n"
        "    mode: shadow\n"
        "    when: {content: {includes: [谢谢]}}\n"
        "    then: [{reply: 不客气}]\n",
        encoding="utf-8",
    )
    config = tmp_path / "config.yaml"
    config.write_text("rules: [rules/]\n", encoding="utf-8")
    return config


def test_replay_streams_decisions_and_survives_bad_lines(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = _replay_setup(tmp_path)
    source = tmp_path / "in.jsonl"
    source.write_text(
        '{"id": "a", "content": "博 彩 网站", "author": "oX"}\n'
        "not json\n"
        "\n"
        '{"content": "谢谢"}\n'
        '{"id": "c", "content": 5}\n'
        '{"id": "d", "content": "博彩", "platform": "weibo"}\n',
        encoding="utf-8",
    )
    assert main(["replay", "-c", str(config), "--input", str(source), "--spans"]) == 0
    captured = capsys.readouterr()
    lines = [json.loads(line) for line in captured.out.splitlines()]
    assert lines[0] == {
        "id": "a", "matched": ["spam"],
        "actions": [{"type": "delete", "rule": "spam"}, {"type": "blacklist", "rule": "spam"}],
        "spans": {"spam": [0, 3, "博 彩"]},
    }
    assert lines[1] == {
        "id": "4", "matched": ["thanks"],
        "actions": [{"type": "reply", "text": "不客气", "rule": "thanks", "mode": "shadow"}],
        "spans": {"thanks": [0, 2, "谢谢"]},
    }
    assert lines[2]["id"] == "d" and lines[2]["actions"] == [{"type": "delete", "rule": "spam"}]
    assert lines[2]["skipped"] == [
        {"type": "blacklist", "rule": "spam", "reason": "blacklist is not possible on weibo"}]
    assert len(lines) == 3
    assert f"{source}:2: skipped: invalid JSON" in captured.err
    assert f"{source}:5: skipped: 'content' must be a string" in captured.err
    assert "2 malformed line(s) skipped" in captured.err
    summary = [line.split() for line in captured.err.splitlines() if line.startswith("spam ")]
    assert summary == [["spam", "enforce", "2", "blacklist", "1,", "delete", "2", "(skipped:",
                        "blacklist", "1)"]]


def test_replay_reads_standard_input_through_the_console_script(tmp_path: Path) -> None:
    config = _replay_setup(tmp_path)
    result = subprocess.run(
        [sys.executable, "-m", "worker.cli", "replay", "-c", str(config), "--input", "-"],
        input='{"id": "x", "content": "博彩"}\n'.encode(),
        capture_output=True, check=True, timeout=60,
    )
    assert json.loads(result.stdout)["matched"] == ["spam"]


def test_replay_of_a_missing_file_is_a_usage_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = _replay_setup(tmp_path)
    assert main(["replay", "-c", str(config), "--input", str(tmp_path / "nope.jsonl")]) == 2
    assert "cannot read" in capsys.readouterr().err


# -- option values: argparse errors (usage, exit 2), never a traceback or a silent accept ----

@pytest.mark.parametrize(
    ("argv", "expected"),
    [
        (["run", "-c", "c.yaml", "--log-level", "FOO"],
         "--log-level: expected one of DEBUG, INFO, WARNING, ERROR, got 'FOO'"),
        (["run", "-c", "c.yaml", "--processes", "0"], "--processes: must be at least 1, got 0"),
        (["run", "-c", "c.yaml", "--processes", "-2"], "--processes: must be at least 1"),
        (["run", "-c", "c.yaml", "--processes", "two"], "--processes: expected a whole number"),
        (["run", "-c", "c.yaml", "--threads", "0"], "--threads: must be at least 1, got 0"),
        (["run", "-c", "c.yaml", "--threads", "-1"], "--threads: must be at least 1"),
        (["replay", "-c", "c.yaml", "--input", "in.jsonl", "--now", "nan"],
         "--now: expected a finite number"),
        (["replay", "-c", "c.yaml", "--input", "in.jsonl", "--now", "-5"],
         "--now: expected Unix seconds"),
        (["demo", "--duration", "-1"], "--duration: must be from 0 to 3600 seconds"),
        (["demo", "--duration", "4000"], "--duration: must be from 0 to 3600 seconds"),
        (["demo", "--duration", "inf"], "--duration: expected a finite number"),
        (["audit", "-c", "c.yaml", "--limit", "0"], "--limit: must be at least 1, got 0"),
        (["audit", "-c", "c.yaml", "--since", "soon"], "--since: expected a duration"),
        (["audit", "-c", "c.yaml", "--until=-1h"], "--until: a duration cannot be negative"),
        (["audit", "-c", "c.yaml", "--outcome", "fine"], "--outcome: invalid choice"),
    ],
)
def test_bad_option_values_are_usage_errors(
    argv: list[str], expected: str, capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    def not_reached(*_args: object, **_kwargs: object) -> int:
        raise AssertionError("the command ran with a bad option value")

    monkeypatch.setattr("worker.daemon.run_daemon", not_reached)
    with pytest.raises(SystemExit) as info:
        main(argv)
    assert info.value.code == 2
    err = capsys.readouterr().err
    assert err.startswith("usage: modworker") and expected in err


def test_good_option_values_parse() -> None:
    parser = build_parser()
    run = parser.parse_args(["run", "-c", "c.yaml", "--log-level", "debug", "--processes", "1",
                             "--threads", "32"])
    assert (run.log_level, run.processes, run.threads) == ("DEBUG", 1, 32)
    defaults = parser.parse_args(["run", "-c", "c.yaml"])
    assert (defaults.log_level, defaults.processes, defaults.threads) == ("INFO", 2, 8)
    replay = parser.parse_args(["replay", "-c", "c.yaml", "--input", "-", "--now", "1700000000"])
    assert replay.now == 1_700_000_000.0
    assert parser.parse_args(["demo", "--duration", "0"]).duration == 0.0
    audit = parser.parse_args(["audit", "-c", "c.yaml", "--since", "2h", "--limit", "1"])
    assert (audit.since, audit.until, audit.limit) == ("2h", None, 1)


# -- config problems reach the operator located ----------------------------------------------

def test_check_locates_a_missing_rules_path_in_the_config(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = _replay_setup(tmp_path)
    config.write_text("state_dir: ./var\nrules:\n  - rules/\n  - more-rules/\n",
                      encoding="utf-8")
    assert main(["check", "-c", str(config)]) == 1
    err = capsys.readouterr().err
    assert f"error: {config}:4: rules[1]: no such file or directory: more-rules/" in err
    assert "1 problem found" in err


def test_check_refuses_an_empty_rules_list(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = _replay_setup(tmp_path)
    config.write_text("rules: []\n", encoding="utf-8")
    assert main(["check", "-c", str(config)]) == 1
    err = capsys.readouterr().err
    assert f"{config}:1: rules: rules must name at least one file or directory" in err


def test_run_reports_a_bad_redis_url_as_a_config_problem(tmp_path: Path) -> None:
    config = _replay_setup(tmp_path)
    config.write_text("redis:\n  url: localhost:6379\nrules: [rules/]\n", encoding="utf-8")
    result = subprocess.run(
        [sys.executable, "-m", "worker.cli", "run", "-c", str(config)],
        capture_output=True, text=True, timeout=60, check=False,
    )
    assert result.returncode == 1, result.stderr
    assert "Traceback" not in result.stdout + result.stderr
    (line,) = [json.loads(x) for x in result.stdout.splitlines() if "config_problem" in x]
    assert line["file"] == str(config) and line["line"] == 2
    assert "redis.url: must start with redis://" in line["problem"]
    assert "write redis://localhost:6379" in line["problem"]


def _notifying_an_undeclared_channel(tmp_path: Path) -> Path:
    """A config.yaml without channels whose rule ``tell`` notifies channel ``nowhere``."""
    (tmp_path / "rules").mkdir()
    (tmp_path / "rules" / "r.yaml").write_text(
        "version: 1\nrules:\n  - id: tell\n    when: {content: {includes: [x]}}\n"
        "    then: [{notify: nowhere}]\n",
        encoding="utf-8",
    )
    config = tmp_path / "config.yaml"
    config.write_text("rules: [rules/]\n", encoding="utf-8")
    return config


def test_run_refuses_rules_that_notify_a_channel_config_does_not_have(tmp_path: Path) -> None:
    # The workers check notify channels when they load the rules; so does run before starting
    # them, rather than starting workers that cannot load the rules.
    config = _notifying_an_undeclared_channel(tmp_path)
    result = subprocess.run(
        [sys.executable, "-m", "worker.cli", "run", "-c", str(config)],
        capture_output=True, text=True, timeout=60, check=False,
    )
    assert result.returncode == 1, result.stdout + result.stderr
    problems = [json.loads(x) for x in result.stdout.splitlines() if "config_problem" in x]
    assert [p["rule"] for p in problems] == ["tell"], problems
    assert "nowhere" in problems[0]["problem"]


def test_check_names_a_notify_channel_config_does_not_have(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = _notifying_an_undeclared_channel(tmp_path)
    assert main(["check", "-c", str(config)]) == 1
    err = capsys.readouterr().err
    assert "rule 'tell'" in err and "nowhere" in err
