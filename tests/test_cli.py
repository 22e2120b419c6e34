"""`modworker check` and `modworker replay` end to end, through the real entry point."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from worker.cli import main


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
    assert len(lines) == 3
    assert f"{source}:2: skipped: invalid JSON" in captured.err
    assert f"{source}:5: skipped: 'content' must be a string" in captured.err
    assert "2 malformed line(s) skipped" in captured.err
    summary = [line.split() for line in captured.err.splitlines() if line.startswith("spam ")]
    assert summary == [["spam", "enforce", "2", "blacklist", "1,", "delete", "2"]]


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
