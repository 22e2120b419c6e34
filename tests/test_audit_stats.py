"""`modworker audit` and `modworker stats` through the real entry point, on a real Redis."""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path
from typing import Any

import pytest
import redis

from worker.cli import main
from worker.commands.tables import (
    cut,
    display_width,
    format_time,
    render_table,
)
from worker.config import redact_url
from worker.pipeline.audit import AuditLog
from worker.pipeline.rulestats import Mode, RuleStats
from worker.redis_server import EmbeddedRedis

RULES = """\
version: 1
rules:
  - id: spam
    when: {content: {includes: [博彩]}}
    then: [delete, blacklist]
  - id: gambling
    when: {content: {includes: [百家乐]}}
    then: [delete]
  - id: praise
    mode: shadow
    when: {content: {includes: [写得好]}}
    then: [elect]
  - id: never
    when: {content: {includes: [绝不出现的词]}}
    then: [delete]
  - id: paused
    enabled: false
    when: {content: {includes: [关闭]}}
    then: [delete]
"""


def _config(tmp_path: Path, redis_url: str | None, rules: str = RULES) -> str:
    (tmp_path / "rules").mkdir(exist_ok=True)
    (tmp_path / "rules" / "r.yaml").write_text(rules, encoding="utf-8")
    redis_line = f"redis: {{url: '{redis_url}'}}\n" if redis_url else ""
    config = tmp_path / "config.yaml"
    config.write_text(
        redis_line + "state_dir: ./var\nrules: [rules/]\naccounts:\n"
        "  - {name: 主号, platform: wechat, app_id: wx1, app_secret: '${NO_SUCH_SECRET_X}'}\n"
        "  - {name: wb, platform: weibo, access_token: '${NO_SUCH_TOKEN_X}'}\n",
        encoding="utf-8",
    )
    return str(config)


@pytest.fixture
def config(tmp_path: Path, redis_server: EmbeddedRedis, redis_client: redis.Redis) -> str:
    return _config(tmp_path, redis_server.url)


def _on_terminal(monkeypatch: pytest.MonkeyPatch, columns: int) -> None:
    monkeypatch.setattr(sys.stdout, "isatty", lambda: True)
    monkeypatch.setenv("COLUMNS", str(columns))


def _lines(out: str) -> list[dict[str, Any]]:
    return [json.loads(line) for line in out.splitlines()]


def _seed_audit(client: redis.Redis) -> AuditLog:
    audit = AuditLog(redis=client)
    ctx = {"platform": "wechat", "account": "主号", "target": "2247483650:0"}
    audit.append({"kind": "decision", **ctx, "comment_id": "1", "rules": ["spam"],
                  "actions": [{"type": "delete", "rule": "spam"},
                              {"type": "blacklist", "rule": "spam"}],
                  "content": "博彩 注册就送\n第二行"})
    audit.append({"kind": "action", **ctx, "comment_id": "1", "action": "delete", "rule": "spam",
                  "outcome": "ok", "errcode": 0, "attempt": 1, "detail": None})
    audit.append({"kind": "action", **ctx, "comment_id": "1", "openid": "oSpam1",
                  "action": "blacklist", "rule": "spam", "outcome": "ok", "detail": "batch b1"})
    audit.append({"kind": "decision", "platform": "weibo", "account": "wb", "target": "489",
                  "comment_id": "4890000000000001", "rules": ["praise"],
                  "actions": [{"type": "elect", "rule": "praise", "mode": "shadow"}],
                  "content": "写得好"})
    audit.append({"kind": "action", **ctx, "comment_id": "2", "action": "reply",
                  "rule": "praise", "outcome": "failed", "errcode": 88003, "attempt": 1,
                  "detail": "回复内容超过长度限制" * 5})
    return audit


# -- audit ---------------------------------------------------------------------------------

def test_audit_json_lines_newest_first_with_filters(
    config: str, redis_client: redis.Redis, capsys: pytest.CaptureFixture[str]
) -> None:
    _seed_audit(redis_client)
    assert main(["audit", "-c", config]) == 0
    out = capsys.readouterr().out
    assert "博彩 注册就送\\n第二行" in out  # Chinese unescaped (the newline is JSON's)
    records = _lines(out)
    assert [r["kind"] for r in records] == ["action", "decision", "action", "action", "decision"]
    assert records[0]["errcode"] == 88003 and "stream_id" in records[0]

    def ids(*argv: str) -> list[Any]:
        assert main(["audit", "-c", config, *argv]) == 0
        return [(r["kind"], r.get("openid") or r.get("comment_id"))
                for r in _lines(capsys.readouterr().out)]

    assert ids("--account", "wb") == [("decision", "4890000000000001")]
    assert ids("--rule", "spam") == [("action", "oSpam1"), ("action", "1"), ("decision", "1")]
    assert ids("--action", "blacklist") == [("action", "oSpam1"), ("decision", "1")]
    assert ids("--outcome", "failed") == [("action", "2")]
    assert ids("--kind", "decision", "--limit", "1") == [("decision", "4890000000000001")]
    assert ids("--account", "主号", "--kind", "action", "--outcome", "ok") == [
        ("action", "oSpam1"), ("action", "1")]
    assert ids("--rule", "nothing-like-it") == []


def _xadd_at(client: redis.Redis, at: float, record: dict[str, Any]) -> None:
    """An audit record appended ``at`` (the stream id carries the append time)."""
    fields: dict[Any, Any] = {k: json.dumps(v, ensure_ascii=False) for k, v in record.items()}
    client.xadd("mw:audit", fields, id=f"{int(at * 1000)}-0")


def test_audit_since_and_until_are_durations_back_from_now(
    config: str, redis_client: redis.Redis, capsys: pytest.CaptureFixture[str]
) -> None:
    now = time.time()
    for ago, name in ((3 * 3600, "3h"), (1800, "30m")):
        _xadd_at(redis_client, now - ago, {"kind": "action", "comment_id": name, "ts": now - ago})
    AuditLog(redis=redis_client).append({"kind": "action", "comment_id": "now"})

    def ids(*argv: str) -> list[str]:
        assert main(["audit", "-c", config, *argv]) == 0
        return [r["comment_id"] for r in _lines(capsys.readouterr().out)]

    assert ids() == ["now", "30m", "3h"]
    assert ids("--since", "1h") == ["now", "30m"]
    assert ids("--until", "10m") == ["30m", "3h"]
    assert ids("--since", "2h", "--until", "10m") == ["30m"]
    assert ids("--since", "7d", "--until", "2h") == ["3h"]


def test_audit_usage_errors(config: str, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exited:  # argparse's usage error
        main(["audit", "-c", config, "--since", "2 hours"])
    assert exited.value.code == 2
    assert "--since: expected a duration" in capsys.readouterr().err
    assert main(["audit", "-c", config, "--since", "10m", "--until", "1h"]) == 2
    assert "--since must reach further back than --until" in capsys.readouterr().err
    with pytest.raises(SystemExit) as exited:
        main(["audit", "-c", config, "--limit", "0"])
    assert exited.value.code == 2
    assert "--limit: must be at least 1" in capsys.readouterr().err


def test_audit_table_on_a_terminal(
    config: str, redis_client: redis.Redis, capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    _seed_audit(redis_client)
    first = AuditLog(redis=redis_client).read(limit=5)[-1]
    _on_terminal(monkeypatch, 200)
    assert main(["audit", "-c", config]) == 0
    lines = capsys.readouterr().out.splitlines()
    header, rows = lines[0], lines[1:]
    assert header.split() == ["TIME", "KIND", "ACCOUNT", "TARGET", "COMMENT", "RULE", "ACTION",
                              "OUTCOME", "ERRCODE", "DETAIL"]
    assert len(rows) == 5
    failed, *_, decision = rows
    assert "reply" in failed and "failed" in failed and "88003" in failed
    blacklisted = next(row for row in rows if "blacklist" in row.split())
    assert "openid oSpam1; batch b1" in blacklisted  # and the comment that asked for it
    assert decision.startswith(format_time(first["ts"]))  # local time, to the second
    assert "delete,blacklist" in decision
    assert "博彩 注册就送 第二行" in decision  # a newline in a comment does not break the table
    assert "elect(shadow)" in rows[1] and "4890000000000001" in rows[1]
    assert "oSpam1" in rows[2] and "blacklist" in rows[2]
    # Aligned in terminal columns, the account's CJK characters counting two each.
    column = display_width(header[: header.index("OUTCOME")])
    assert display_width(failed[: failed.index("failed")]) == column
    assert display_width(rows[3][: rows[3].index("ok")]) == column


def test_audit_table_cuts_to_the_terminal_width(
    config: str, redis_client: redis.Redis, capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    _seed_audit(redis_client)
    _on_terminal(monkeypatch, 150)
    assert main(["audit", "-c", config]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert all(display_width(line) <= 150 for line in lines)
    assert lines[1].endswith("…")  # the long failure detail was cut
    assert "4890000000000001" in lines[2]  # ids are not


def test_audit_json_flag_on_a_terminal(
    config: str, redis_client: redis.Redis, capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    _seed_audit(redis_client)
    _on_terminal(monkeypatch, 200)
    assert main(["audit", "-c", config, "--json", "--limit", "2"]) == 0
    assert [r["kind"] for r in _lines(capsys.readouterr().out)] == ["action", "decision"]


def test_no_state_at_all_is_said_plainly(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = _config(tmp_path, None)
    for command in ("audit", "stats"):
        assert main([command, "-c", config]) == 3
        err = capsys.readouterr().err
        assert err.startswith(f"error: no state under {tmp_path / 'var'} (state_dir)"), err


def test_a_socket_left_by_a_dead_daemon_reads_its_data_from_a_copy(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = _config(tmp_path, None)
    (tmp_path / "var").mkdir()
    (tmp_path / "var" / "redis.sock").write_text("")
    assert main(["audit", "-c", config]) == 0
    captured = capsys.readouterr()
    assert "read from a copy" in captured.err and captured.out == ""


def test_the_embedded_redis_is_found_under_state_dir(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = _config(tmp_path, None)
    with EmbeddedRedis(state_dir=tmp_path / "var", appendonly=False) as server:
        client = redis.Redis.from_url(server.url)
        AuditLog(redis=client).append({"kind": "action", "comment_id": "x", "outcome": "ok"})
        client.close()
        assert main(["audit", "-c", config]) == 0
    assert _lines(capsys.readouterr().out)[0]["comment_id"] == "x"


def test_an_unreachable_redis_url_is_reported_without_its_password(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = _config(tmp_path, "redis://:hunter2@127.0.0.1:1/0")
    assert main(["stats", "-c", config]) == 3
    err = capsys.readouterr().err
    assert "cannot reach Redis at redis://***@127.0.0.1:1/0" in err
    assert "hunter2" not in err


def test_a_redis_error_while_reading_is_exit_3_naming_what_failed(
    config: str, redis_client: redis.Redis, capsys: pytest.CaptureFixture[str]
) -> None:
    redis_client.set("mw:audit", "not a stream")  # any read of it answers WRONGTYPE
    assert main(["audit", "-c", config]) == 3
    err = capsys.readouterr().err
    assert "error: reading the audit stream failed:" in err and "WRONGTYPE" in err


def test_an_invalid_config_is_exit_1(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    config = tmp_path / "config.yaml"
    config.write_text("redis: {urll: x}\n", encoding="utf-8")
    assert main(["audit", "-c", str(config)]) == 1
    assert "did you mean 'url'" in capsys.readouterr().err


# -- stats ---------------------------------------------------------------------------------

def _seed_stats(client: redis.Redis, hits: dict[str, int], t0: float = 1_700_000_000.0) -> None:
    stats = RuleStats(redis=client)
    for rule, count in hits.items():
        mode: Mode = "shadow" if rule == "praise" else "enforce"
        for i in range(count):
            stats.record_hit(rule, mode, at=t0 + i)


def _stats(config: str, capsys: pytest.CaptureFixture[str]) -> dict[str, Any]:
    assert main(["stats", "-c", config]) == 0
    report: dict[str, Any] = json.loads(capsys.readouterr().out)
    return report


def test_stats_json_flags_dead_noisy_disabled_and_removed_rules(
    config: str, redis_client: redis.Redis, capsys: pytest.CaptureFixture[str]
) -> None:
    _seed_stats(redis_client, {"spam": 30, "gambling": 5, "praise": 3, "retired": 2})
    stats = RuleStats(redis=redis_client)
    for _ in range(28):
        stats.record_outcome("spam", "delete", "ok")
    stats.record_outcome("spam", "delete", "failed")
    stats.record_outcome("praise", "elect", "dry_run")
    report = _stats(config, capsys)
    assert report["since"] == 1_700_000_000.0 and report["total_hits"] == 40
    rules = {r["id"]: r for r in report["rules"]}
    assert [r["id"] for r in report["rules"]] == [
        "spam", "gambling", "praise", "retired", "never", "paused"]
    spam = rules["spam"]
    assert spam["status"] == "enforce" and spam["hits"] == {"enforce": 30, "shadow": 0}
    assert spam["share"] == 0.75 and spam["noisy"] and not spam["dead"]
    assert spam["actions"] == {"delete": {"ok": 28, "failed": 1}}
    assert spam["last_hit"] == 1_700_000_029.0
    assert rules["praise"]["status"] == "shadow" and rules["praise"]["hits"]["shadow"] == 3
    assert rules["praise"]["actions"] == {"elect": {"dry_run": 1}}
    assert rules["never"]["dead"] and rules["never"]["last_hit"] is None
    assert rules["paused"]["status"] == "disabled" and not rules["paused"]["dead"]
    assert rules["retired"]["removed"] and rules["retired"]["status"] == "removed"
    assert not rules["retired"]["dead"]
    assert not any(r["noisy"] for r in report["rules"] if r["id"] != "spam")
    assert report["noisy_when"] == {"min_hits": 20, "share_above": 0.4}


def test_a_large_share_of_few_hits_is_not_noisy(
    config: str, redis_client: redis.Redis, capsys: pytest.CaptureFixture[str]
) -> None:
    _seed_stats(redis_client, {"spam": 19, "gambling": 1})
    assert not any(r["noisy"] for r in _stats(config, capsys)["rules"])


def test_noisy_means_more_than_twice_an_even_share(
    tmp_path: Path, redis_server: EmbeddedRedis, redis_client: redis.Redis,
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch,
) -> None:
    two_rules = RULES.split("  - id: praise")[0]  # spam and gambling only: an even share is 50 %
    config = _config(tmp_path, redis_server.url, rules=two_rules)
    _seed_stats(redis_client, {"spam": 90, "gambling": 10})
    report = _stats(config, capsys)
    assert report["noisy_when"]["share_above"] == 1.0
    assert not any(r["noisy"] for r in report["rules"])
    _on_terminal(monkeypatch, 120)
    assert main(["stats", "-c", config]) == 0
    assert "NOISY: not judged with fewer than 3 rules" in capsys.readouterr().out


def test_stats_before_anything_was_counted(
    config: str, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    report = _stats(config, capsys)
    assert report["since"] is None and report["total_hits"] == 0
    assert not any(r["dead"] for r in report["rules"])  # nothing ran yet: nothing is dead
    _on_terminal(monkeypatch, 120)
    assert main(["stats", "-c", config]) == 0
    assert "no statistics recorded yet" in capsys.readouterr().out


def test_stats_table_on_a_terminal(
    config: str, redis_client: redis.Redis, capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    _seed_stats(redis_client, {"spam": 30, "gambling": 5, "retired": 2})
    RuleStats(redis=redis_client).record_outcome("spam", "delete", "ok")
    _on_terminal(monkeypatch, 120)
    assert main(["stats", "-c", config]) == 0
    lines = capsys.readouterr().out.splitlines()
    lines = lines[:next(i for i, line in enumerate(lines) if line.startswith("DEAD: ")) + 1]
    assert lines[0] == f"since {format_time(1_700_000_000.0)}: 37 hits"
    assert lines[1].split() == ["RULE", "STATUS", "ENFORCE", "SHADOW", "SHARE", "LAST", "HIT",
                                "FLAGS", "ACTIONS"]
    by_rule = {line.split()[0]: line for line in lines[2:-1]}
    assert by_rule["spam"].split()[:5] == ["spam", "enforce", "30", "0", "81%"]
    assert "NOISY" in by_rule["spam"] and "delete ok:1" in by_rule["spam"]
    assert "removed" in by_rule["retired"]
    assert "never" in by_rule["never"] and "DEAD" in by_rule["never"]
    assert "disabled" in by_rule["paused"] and "DEAD" not in by_rule["paused"]
    assert lines[-1].startswith("DEAD: ")


def test_stats_show_shadow_hits_after_an_enforced_stop(
    config: str, redis_client: redis.Redis, capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    stats = RuleStats(redis=redis_client)
    stats.record_hit("praise", "shadow", at=1_700_000_000.0)
    stats.record_hit("praise", "shadow", at=1_700_000_001.0, after_stop=True)
    praise = {r["id"]: r for r in _stats(config, capsys)["rules"]}["praise"]
    assert praise["hits"]["shadow"] == 2 and praise["after_stop"] == 1
    _on_terminal(monkeypatch, 160)
    assert main(["stats", "-c", config]) == 0
    line = next(x for x in capsys.readouterr().out.splitlines() if x.startswith("praise"))
    assert line.split()[:6] == ["praise", "shadow", "0", "2", "(1", "after"]


def test_stats_when_the_rules_do_not_load(
    tmp_path: Path, redis_server: EmbeddedRedis, redis_client: redis.Redis,
    capsys: pytest.CaptureFixture[str],
) -> None:
    config = _config(tmp_path, redis_server.url, rules="version: 1\nrules:\n  - id: x\n")
    _seed_stats(redis_client, {"spam": 3})
    assert main(["stats", "-c", config]) == 0
    captured = capsys.readouterr()
    assert "the rules do not load" in captured.err
    (spam,) = json.loads(captured.out)["rules"]
    assert spam["id"] == "spam" and spam["status"] is None and not spam["removed"]


# -- text helpers --------------------------------------------------------------------------

def test_cut_and_widths_count_terminal_columns() -> None:
    assert display_width("写得好ab") == 8
    assert cut("写得太好了", 5) == "写得…"
    assert cut("写得太好了", 10) == "写得太好了"
    assert cut("abcdef", 4) == "abc…"


def test_render_table_gives_the_free_text_column_way_first() -> None:
    rows = [["2024-01-01 00:00:00", "x" * 30, "y" * 60]]
    lines = render_table(["TIME", "ID", "TEXT"], rows, width=80, flexible=2, keep={0: 19})
    assert all(display_width(line) <= 80 for line in lines)
    assert "x" * 30 in lines[1] and lines[1].endswith("…")


def test_redact_url() -> None:
    assert redact_url("redis://user:pw@host:6379/0") == "redis://***@host:6379/0"
    assert redact_url("unix:///tmp/redis.sock?db=0") == "unix:///tmp/redis.sock?db=0"
