"""``modworker audit``: the recent audit records the daemon wrote to its Redis stream, read back.

It reads the config (secrets not needed) and connects to its Redis: ``redis.url``,
``redis.sentinel``, or the embedded server's unix socket under ``state_dir`` (a copy of its
append-only file when the daemon is stopped, :mod:`worker.state_access`). Output is a table
when stdout is a terminal and JSON lines otherwise (or with ``--json``); Chinese stays
unescaped.

Exit codes: 0 success, 1 invalid configuration, 2 bad usage, 3 Redis unavailable.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Mapping, Sequence
from typing import Any, TextIO

from worker.commands.console import load_config_reporting, open_state_for, pipe_closed_ok
from worker.commands.tables import cell_text, format_time, render_table, terminal_width
from worker.errors import StateUnavailableError
from worker.exit_codes import EXIT_CONFIG, EXIT_OK, EXIT_REDIS, EXIT_USAGE
from worker.pipeline.audit import AuditLog
from worker.pipeline.keys import Keys
from worker.units import parse_duration

AUDIT_HEADERS = (
    "TIME", "KIND", "ACCOUNT", "TARGET", "COMMENT", "RULE", "ACTION", "OUTCOME", "ERRCODE",
    "DETAIL",
)


def cmd_audit(args: argparse.Namespace) -> int:
    try:
        since = _ago(args.since, "--since")
        until = _ago(args.until, "--until")
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    if since is not None and until is not None and since > until:
        print("error: --since must reach further back than --until", file=sys.stderr)
        return EXIT_USAGE
    if args.limit < 1:
        print("error: --limit must be at least 1", file=sys.stderr)
        return EXIT_USAGE
    config = load_config_reporting(args.config)
    if config is None:
        return EXIT_CONFIG
    try:
        with open_state_for(config, doing="reading the audit stream") as state:
            records = AuditLog(redis=state.client, keys=Keys(prefix=config.redis.key_prefix)).read(
                since=since, until=until, kind=args.kind, account=args.account, rule=args.rule,
                action=args.action, outcome=args.outcome, limit=args.limit,
            )
    except StateUnavailableError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_REDIS
    out = sys.stdout
    with pipe_closed_ok():
        if args.json or not out.isatty():
            for record in records:
                out.write(json.dumps(record, ensure_ascii=False, default=str) + "\n")
        else:
            write_audit_table(records, out, width=terminal_width())
            if len(records) == args.limit:
                print(f"(the newest {args.limit}; --limit for more)", file=sys.stderr)
    return EXIT_OK


def _ago(value: str | None, option: str) -> float | None:
    """``now - duration`` for a ``--since``/``--until`` value; ValueError naming the option."""
    if value is None:
        return None
    try:
        return time.time() - parse_duration(value)
    except ValueError as exc:
        raise ValueError(f"{option}: {exc}") from None


def audit_row(record: Mapping[str, Any]) -> list[str]:
    """One record as table cells (a decision's detail is the comment's content)."""
    kind = str(record.get("kind", ""))
    if kind == "decision":
        rules = record.get("rules")
        rule = ",".join(map(str, rules)) if isinstance(rules, list) else ""
        action = ",".join(_planned(a) for a in record.get("actions") or [])
        detail = record.get("detail") or record.get("content")  # why it failed, if it did
    else:
        rule = record.get("rule") or ""
        action = record.get("action") or ""
        detail = record.get("detail")
        if record.get("openid") and record.get("comment_id"):  # a blacklist, and who asked
            detail = f"openid {record['openid']}" + (f"; {detail}" if detail else "")
    errcode = record.get("errcode")
    return [
        format_time(record.get("ts", _stream_time(record.get("stream_id")))),
        kind,
        cell_text(record.get("account")),
        cell_text(record.get("target")),
        cell_text(record.get("comment_id") or record.get("openid")),  # a blacklist: an openid
        cell_text(rule),
        cell_text(action),
        cell_text(record.get("outcome")),
        "" if errcode is None else cell_text(errcode),
        cell_text(detail),
    ]


def _stream_time(stream_id: object) -> float | str | None:
    """The append time of a stream id (``<ms>-<seq>``): for a record without ``ts``."""
    ms, _, _ = str(stream_id).partition("-")
    return int(ms) / 1000 if ms.isdigit() else None


def _planned(action: object) -> str:
    if not isinstance(action, Mapping):
        return str(action)
    name = str(action.get("type", "?"))
    return f"{name}(shadow)" if action.get("mode") == "shadow" else name


def write_audit_table(records: Sequence[Mapping[str, Any]], out: TextIO, *, width: int) -> None:
    if not records:
        out.write("no audit record matches\n")
        return
    rows = [audit_row(r) for r in records]
    # Times, kinds, outcomes and codes stay whole, and ids as far as 16 characters (a Weibo id).
    whole = {0: 19, 1: 8, 7: 12, 8: 7, 3: 16, 4: 16}
    table = render_table(AUDIT_HEADERS, rows, width=width, flexible=len(AUDIT_HEADERS) - 1,
                         keep=whole)
    for line in table:
        out.write(line + "\n")
