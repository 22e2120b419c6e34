"""`modworker replay` as a moderator explores rules: time order, drafts, what will not happen."""

from __future__ import annotations

import io
import json
import textwrap
from pathlib import Path

import pytest

from worker.cli import main
from worker.replay import replay
from worker.rules import load_rules

RULES = """
    version: 1
    rules:
      - id: abuse
        priority: 50
        when: {content: {includes: [傻逼]}}
        then: [delete]
        tests: {match: [傻逼], no_match: [你好]}
      - id: repeat-offender
        priority: 40
        when: {author: {offenses: {at_least: 2, within: 7d}}}
        then: [delete]
        tests: {match: [{content: hi, offenses: 2}], no_match: [{content: hi, offenses: 1}]}
      - id: paused
        enabled: false
        when: {content: {includes: [x]}}
        then: [delete]
      - id: main-only
        accounts: [main-oa]
        when: {content: {includes: [广告]}}
        then: [delete]
        tests: {match: [广告]}
"""


def _setup(tmp_path: Path, rules: str = RULES) -> Path:
    (tmp_path / "rules").mkdir()
    (tmp_path / "rules" / "r.yaml").write_text(textwrap.dedent(rules).lstrip(), "utf-8")
    config = tmp_path / "config.yaml"
    config.write_text(textwrap.dedent("""
        rules: [rules/]
        accounts:
          - name: main-oa
            platform: wechat
            app_id: wx0123456789abcdef
            app_secret: {env: H5_TEST_SECRET}
            targets: [{msg_data_id: 1}]
    """).lstrip(), "utf-8")
    return config


def _lines(path: Path, rows: list[dict[str, object]]) -> Path:
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), "utf-8")
    return path


# Two removed comments, then a harmless one, by the same author: newest first in the file.
NEWEST_FIRST = [
    {"id": "later", "content": "今天天气不错", "author": "oR", "created_at": 1_000_300},
    {"id": "second", "content": "傻逼", "author": "oR", "created_at": 1_000_200},
    {"id": "first", "content": "傻逼", "author": "oR", "created_at": 1_000_100},
]


def test_offenses_are_counted_in_created_at_order_not_file_order(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = _setup(tmp_path)
    source = _lines(tmp_path / "in.jsonl", NEWEST_FIRST)
    assert main(["replay", "-c", str(config), "--input", str(source), "--now", "1000400"]) == 0
    captured = capsys.readouterr()
    decided = [json.loads(line) for line in captured.out.splitlines()]
    assert [d["id"] for d in decided] == ["first", "second", "later"]  # decided in time order
    assert decided[2]["matched"] == ["repeat-offender"]
    assert "not in created_at order" not in captured.err


def test_a_file_out_of_order_beyond_the_window_is_said_once(tmp_path: Path) -> None:
    config_dir = _setup(tmp_path).parent
    rules = load_rules([config_dir / "rules"])
    rows = [{"id": str(i), "content": "x", "created_at": 1_000_000 - i} for i in range(6)]
    source = _lines(tmp_path / "in.jsonl", rows)
    out, err = io.StringIO(), io.StringIO()
    stats = replay(rules, source=source, out=out, err=err, now=1_000_000, order_window=2)
    assert stats.out_of_order and stats.comments == 6
    warnings = [line for line in err.getvalue().splitlines() if "warning" in line]
    assert warnings == [
        f"{source}:4: warning: the file is not in created_at order (this comment is older "
        "than one 2 lines or more before it); author.offenses counts such comments in file "
        "order",
    ]


def test_an_unknown_account_is_reported_once_and_a_disabled_rule_is_marked(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = _setup(tmp_path)
    source = _lines(tmp_path / "in.jsonl", [
        {"content": "广告", "account": "main-oa"},
        {"content": "广告", "account": "mian-oa"},
        {"content": "广告", "account": "mian-oa"},
    ])
    assert main(["replay", "-c", str(config), "--input", str(source)]) == 0
    captured = capsys.readouterr()
    assert [json.loads(line)["matched"] for line in captured.out.splitlines()] == [
        ["main-only"], [], []]
    unknown = [line for line in captured.err.splitlines() if "mian-oa" in line]
    assert unknown == [
        f"{source}:2: warning: account 'mian-oa' is not in the config (did you mean "
        "'main-oa'?); rules that name accounts do not apply to its comments (reported once)",
    ]
    table = {line.split()[0]: line.split()[1:] for line in captured.err.splitlines()
             if line.split() and line.split()[0] in ("paused", "main-only")}
    assert table == {"paused": ["disabled", "-", "-"], "main-only": ["enforce", "1", "delete", "1"]}


def test_a_draft_with_failing_tests_replays_only_when_allowed(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = _setup(tmp_path, RULES.replace("tests: {match: [傻逼], no_match: [你好]}",
                                            "tests: {match: [傻逼, 笨蛋]}"))
    source = _lines(tmp_path / "in.jsonl", [{"id": "a", "content": "傻逼"}])
    rule_file = tmp_path / "rules" / "r.yaml"
    failure = f"{rule_file}:7: rule 'abuse': tests.match: tests.match sample '笨蛋' did not match"
    assert main(["replay", "-c", str(config), "--input", str(source)]) == 1
    captured = capsys.readouterr()
    assert captured.out == "" and f"error: {failure}" in captured.err
    assert main(["replay", "-c", str(config), "--input", str(source),
                 "--allow-failing-tests"]) == 0
    captured = capsys.readouterr()
    assert json.loads(captured.out)["matched"] == ["abuse"]
    err = captured.err.splitlines()
    assert err[:2] == [f"failing test: {failure}",
                       "1 failing test sample(s); replaying anyway (--allow-failing-tests)"]
