"""``modworker audit`` and ``modworker stats``: what the daemon recorded in Redis, read back.

Both read the config (secrets not needed) and connect to its Redis: ``redis.url``,
``redis.sentinel``, or the embedded server's unix socket under ``state_dir``, which exists
only while ``modworker run`` does. Output is a table when stdout is a terminal and JSON
otherwise (or with ``--json``); Chinese stays unescaped.

``stats`` flags two kinds of rules worth a moderator's look:

- **dead**: a loaded, enabled rule with no hit since statistics began (``since``, the first hit
  or outcome ever counted). A rule added after that shows as dead until it first fires.
- **noisy**: a rule with at least :data:`NOISY_MIN_HITS` hits that holds more than
  :data:`NOISY_SHARE` of all hits and more than twice an even share (``2 / n``, ``n`` the rules
  that can fire: loaded and enabled, plus removed rules that fired). Shadow hits count too:
  a shadow rule that would take over the queue is exactly what shadow mode is there to show.
  Hits are what rules matched, not how many comments were seen, so "noisy" is relative to the
  other rules.

Exit codes: 0 success, 1 invalid configuration, 2 bad usage, 3 Redis unavailable.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import shutil
import sys
import time
import unicodedata
from collections.abc import Iterable, Iterator, Mapping, Sequence
from datetime import datetime
from typing import Any, TextIO

import redis

from worker.config import Config, load_config
from worker.errors import ConfigError, StateUnavailableError
from worker.exit_codes import EXIT_CONFIG, EXIT_OK, EXIT_REDIS, EXIT_USAGE
from worker.pipeline.audit import AuditLog
from worker.pipeline.freshness import CredentialState, Freshness, TargetFreshness, stale_after
from worker.pipeline.keys import Keys
from worker.pipeline.rulestats import RuleStats
from worker.rules import RuleSet, load_rules
from worker.state_access import State, open_state
from worker.units import parse_duration

NOISY_MIN_HITS = 20
NOISY_SHARE = 0.4
DEFAULT_WIDTH = 120  # when the terminal does not say


# -- commands ------------------------------------------------------------------------------

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
        with open_state(config) as state:
            _tell(state)
            records = AuditLog(redis=state.client, keys=Keys(prefix=config.redis.key_prefix)).read(
                since=since, until=until, kind=args.kind, account=args.account, rule=args.rule,
                action=args.action, outcome=args.outcome, limit=args.limit,
            )
    except StateUnavailableError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_REDIS
    except redis.RedisError as exc:
        print(f"error: reading the audit stream failed: {exc}", file=sys.stderr)
        return EXIT_REDIS
    out = sys.stdout
    with _pipe_closed_ok():
        if args.json or not out.isatty():
            for record in records:
                out.write(json.dumps(record, ensure_ascii=False, default=str) + "\n")
        else:
            write_audit_table(records, out, width=_terminal_width())
            if len(records) == args.limit:
                print(f"(the newest {args.limit}; --limit for more)", file=sys.stderr)
    return EXIT_OK


def cmd_stats(args: argparse.Namespace) -> int:
    from worker.commands.targets import budget_rows, write_budgets  # it imports this module
    config = load_config_reporting(args.config)
    if config is None:
        return EXIT_CONFIG
    rules: RuleSet | None
    try:
        rules = load_rules(
            config.rules, accounts={a.name: a.platform for a in config.accounts},
            run_tests=False, normalize=config.normalize,
        )
    except ConfigError as exc:
        rules = None
        print(f"warning: the rules do not load ({len(exc.problems)} problem(s): see `modworker "
              "check`); listing the rules that have statistics, none marked dead or removed",
              file=sys.stderr)
    keys = Keys(prefix=config.redis.key_prefix)
    try:
        with open_state(config) as state:
            _tell(state)
            stats = RuleStats(redis=state.client, keys=keys)
            snapshot = stats.snapshot([r.id for r in rules.rules] if rules is not None else None)
            watched = configured_targets(config, state.client)
            targets = Freshness(redis=state.client, keys=keys).targets(watched)
            credentials = Freshness(redis=state.client, keys=keys).credentials()
            budgets = budget_rows(state.client, config)
    except StateUnavailableError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_REDIS
    except redis.RedisError as exc:
        print(f"error: reading the rule statistics failed: {exc}", file=sys.stderr)
        return EXIT_REDIS
    report = stats_report(snapshot, rules)
    report["targets"] = freshness_report(targets, credentials, config, now=time.time(),
                                         watched=watched)
    report["poll_budgets"] = budgets
    out = sys.stdout
    with _pipe_closed_ok():
        if args.json or not out.isatty():
            out.write(json.dumps(report, ensure_ascii=False, indent=2) + "\n")
        else:
            write_stats_table(report, out, width=_terminal_width())
            write_freshness_table(report["targets"], out, width=_terminal_width())
            write_budgets(budgets, out)
    return EXIT_OK


def load_config_reporting(path: str, *, require_secrets: bool = False) -> Config | None:
    """The config, or None after printing every problem on stderr (the command exits 1)."""
    try:
        return load_config(path, require_secrets=require_secrets)
    except ConfigError as exc:
        for problem in exc.problems:
            print(f"error: {problem}", file=sys.stderr)
        return None


def _ago(value: str | None, option: str) -> float | None:
    """``now - duration`` for a ``--since``/``--until`` value; ValueError naming the option."""
    if value is None:
        return None
    try:
        return time.time() - parse_duration(value)
    except ValueError as exc:
        raise ValueError(f"{option}: {exc}") from None


@contextlib.contextmanager
def _pipe_closed_ok() -> Iterator[None]:
    """``modworker audit | head``: a reader that stops early is not an error."""
    try:
        yield
    except BrokenPipeError:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())  # so the final flush at exit is quiet too


# -- Redis ---------------------------------------------------------------------------------

def _tell(state: State) -> None:
    if state.note is not None:
        print(f"note: {state.note}", file=sys.stderr)


# -- audit ---------------------------------------------------------------------------------

AUDIT_HEADERS = (
    "TIME", "KIND", "ACCOUNT", "TARGET", "COMMENT", "RULE", "ACTION", "OUTCOME", "ERRCODE",
    "DETAIL",
)


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
        _text(record.get("account")),
        _text(record.get("target")),
        _text(record.get("comment_id") or record.get("openid")),  # a blacklist names an openid
        _text(rule),
        _text(action),
        _text(record.get("outcome")),
        "" if errcode is None else _text(errcode),
        _text(detail),
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


# -- stats ---------------------------------------------------------------------------------

def stats_report(snapshot: Mapping[str, Any], rules: RuleSet | None) -> dict[str, Any]:
    """Per-rule figures with ``dead``/``noisy`` flags, most hits first (JSON-ready).

    ``rules`` is the rule set loaded now, or None when it could not be loaded (then no rule is
    called dead or removed: there is nothing to compare with).
    """
    recorded: Mapping[str, Any] = snapshot.get("rules", {})
    since = snapshot.get("since")
    loaded = {r.id: r for r in rules.rules} if rules is not None else {}
    total_hits = sum(int(entry["total"]) for entry in recorded.values())
    if rules is not None:
        can_fire = sum(1 for r in loaded.values() if r.enabled) + sum(
            1 for rid, e in recorded.items() if rid not in loaded and e["total"] > 0
        )
    else:
        can_fire = sum(1 for e in recorded.values() if e["total"] > 0)
    threshold = max(NOISY_SHARE, 2 / can_fire) if can_fire else 1.0
    out: list[dict[str, Any]] = []
    for rule_id, entry in recorded.items():
        rule = loaded.get(rule_id)
        total = int(entry["total"])
        share = total / total_hits if total_hits else 0.0
        if rules is None:
            status = None
        elif rule is None:
            status = "removed"
        elif not rule.enabled:
            status = "disabled"
        else:
            status = rule.mode
        out.append({
            "id": rule_id,
            "status": status,
            "removed": rules is not None and rule is None,
            "hits": dict(entry["hits"]),
            "after_stop": int(entry.get("after_stop", 0)),
            "total": total,
            "share": round(share, 4),
            "actions": entry["actions"],
            "last_hit": entry["last_hit"],
            "dead": rule is not None and rule.enabled and total == 0 and since is not None,
            "noisy": total >= NOISY_MIN_HITS and share > threshold,
        })
    out.sort(key=lambda r: (-r["total"], r["id"]))
    return {
        "since": since,
        "total_hits": total_hits,
        "noisy_when": {"min_hits": NOISY_MIN_HITS, "share_above": round(threshold, 4)},
        "rules": out,
    }


STATS_HEADERS = ("RULE", "STATUS", "ENFORCE", "SHADOW", "SHARE", "LAST HIT", "FLAGS", "ACTIONS")


def write_stats_table(report: Mapping[str, Any], out: TextIO, *, width: int) -> None:
    since = report["since"]
    if since is None:
        out.write("no statistics recorded yet: the daemon has not matched any rule\n")
    else:
        out.write(f"since {format_time(since)}: {report['total_hits']} hits\n")
    rows = []
    for entry in report["rules"]:
        flags = [name.upper() for name in ("dead", "noisy") if entry[name]]
        rows.append([
            entry["id"],
            entry["status"] or "?",
            str(entry["hits"].get("enforce", 0)),
            str(entry["hits"].get("shadow", 0))
            + (f" ({entry['after_stop']} after stop)" if entry.get("after_stop") else ""),
            f"{entry['share']:.0%}" if report["total_hits"] else "-",
            format_time(entry["last_hit"]) if entry["last_hit"] is not None else "never",
            " ".join(flags),
            format_actions(entry["actions"]),
        ])
    if rows:
        for line in render_table(STATS_HEADERS, rows, width=width, flexible=len(STATS_HEADERS) - 1,
                                 keep={0: 16, 1: 8, 5: 19, 6: 11}, right=(2, 3, 4)):
            out.write(line + "\n")
    noisy = report["noisy_when"]
    if noisy["share_above"] < 1:
        noisy_text = f">= {noisy['min_hits']} hits and > {noisy['share_above']:.0%} of all hits"
    else:
        noisy_text = "not judged with fewer than 3 rules that can fire"
    out.write(f"DEAD: enabled, no hit since statistics began. NOISY: {noisy_text}.\n")


def format_actions(actions: Mapping[str, Mapping[str, int]]) -> str:
    """``delete ok:12 failed:1; blacklist ok:3``"""
    return "; ".join(
        action + " " + " ".join(f"{outcome}:{n}" for outcome, n in sorted(outcomes.items()))
        for action, outcomes in sorted(actions.items())
    )


# -- freshness -----------------------------------------------------------------------------

def configured_targets(
    config: Config, client: redis.Redis | None = None
) -> list[tuple[str, str, str]]:
    """``(account, platform, target)`` of every configured target; with ``client``, every
    watched one: config.yaml's, a whole-account listing, the added and the discovered
    (:func:`worker.targets.store.watched`)."""
    if client is None:
        return [(a.name, a.platform, t.key) for a in config.accounts for t in a.targets]
    from worker.targets.store import TargetStore, watched

    store = TargetStore(redis=client, keys=Keys(prefix=config.redis.key_prefix))
    return [(t.account, t.platform, t.key) for t in watched(config, store)]


def freshness_report(
    targets: Sequence[TargetFreshness], credentials: Mapping[str, CredentialState],
    config: Config, *, now: float, watched: Iterable[tuple[str, str, str]] | None = None,
) -> dict[str, Any]:
    """Per target: last successful poll, last new comment, failures, and ``stale`` (no
    successful poll for ``stale_after`` seconds); per account the credentials verdict.
    ``watched``: the targets polled now (default: config.yaml's)."""
    # polling is adaptive: a healthy cold target is polled every polling.max_interval
    after = stale_after(config.polling.max_interval, config.polling.stale_after)
    configured = set(watched if watched is not None else configured_targets(config))
    rows = []
    for record in targets:
        entry = record.to_dict()
        entry["configured"] = (record.account, record.platform, record.target) in configured
        entry["stale"] = entry["configured"] and record.is_stale(now=now, after=after)
        credential = credentials.get(record.account)
        entry["credentials"] = credential.status if credential is not None else None
        rows.append(entry)
    return {
        "stale_after": after,
        "targets": rows,
        "accounts": {name: state.to_dict() for name, state in sorted(credentials.items())},
    }


FRESHNESS_HEADERS = ("ACCOUNT", "TARGET", "LAST POLL OK", "LAST NEW COMMENT", "SEEN", "FAILS",
                     "FLAGS", "LAST FAILURE")


def write_freshness_table(report: Mapping[str, Any], out: TextIO, *, width: int) -> None:
    rows = []
    for entry in report["targets"]:
        flags = []
        if entry["stale"]:
            flags.append("STALE")
        if entry["credentials"] == "rejected":
            flags.append("CREDENTIALS")
        if not entry["configured"]:
            flags.append("UNCONFIGURED")
        failure = ""
        if entry["reason"]:
            code = f" {entry['errcode']}" if entry["errcode"] is not None else ""
            failure = (f"{format_time(entry['failed_at'])} {entry['reason']}{code}: "
                       f"{entry['detail'] or ''}")
        rows.append([
            entry["account"], entry["target"],
            format_time(entry["last_ok"]) if entry["last_ok"] is not None else "never",
            format_time(entry["last_comment"]) if entry["last_comment"] is not None else "never",
            str(entry["comments_seen"]), str(entry["failures"]), " ".join(flags), failure,
        ])
    out.write("\npolling, per target:\n")
    if not rows:
        out.write("no target configured\n")
        return
    for line in render_table(FRESHNESS_HEADERS, rows, width=width,
                             flexible=len(FRESHNESS_HEADERS) - 1,
                             keep={0: 12, 1: 16, 2: 19, 3: 19, 6: 11}, right=(4, 5)):
        out.write(line + "\n")
    out.write(f"STALE: no successful poll for {report['stale_after']:.0f} s. CREDENTIALS: the "
              "platform refuses the account's credentials (see `modworker check --online`).\n")


# -- text tables ---------------------------------------------------------------------------

def format_time(ts: object) -> str:
    """Unix seconds as local ``YYYY-MM-DD HH:MM:SS``; anything else as text."""
    if isinstance(ts, int | float) and not isinstance(ts, bool):
        return datetime.fromtimestamp(ts).strftime("%Y-%m-%d %H:%M:%S")
    return _text(ts)


def _text(value: object) -> str:
    """A cell: None as empty, control characters (newlines in comments) as spaces."""
    if value is None:
        return ""
    s = str(value)
    return "".join(" " if unicodedata.category(c)[0] == "C" else c for c in s)


def display_width(s: str) -> int:
    """Terminal columns: CJK wide and full-width characters take two, combining marks none."""
    return sum(_char_width(c) for c in s)


def _char_width(c: str) -> int:
    if unicodedata.combining(c):
        return 0
    return 2 if unicodedata.east_asian_width(c) in ("W", "F") else 1


def cut(s: str, width: int) -> str:
    """``s`` cut to ``width`` columns, ending with ``…`` when something was cut."""
    if display_width(s) <= width:
        return s
    if width <= 0:
        return ""
    used, kept = 0, []
    for c in s:
        w = _char_width(c)
        if used + w > width - 1:
            break
        kept.append(c)
        used += w
    return "".join(kept) + "…"


def _pad(s: str, width: int, right: bool) -> str:
    gap = " " * max(0, width - display_width(s))
    return gap + s if right else s + gap


def render_table(
    headers: Sequence[str], rows: Iterable[Sequence[str]], *, width: int, flexible: int,
    keep: Mapping[int, int] | None = None, right: Sequence[int] = (), min_flexible: int = 20,
    gap: int = 2,
) -> list[str]:
    """Aligned lines, no wider than ``width`` where that can be done readably.

    Every column is as wide as its widest cell. When the sum is too wide: the ``flexible``
    column (free text) gives way first, down to ``min_flexible``; then the widest other column,
    a character at a time, down to its floor (``keep[i]``, or 8, and never below its header);
    then the flexible column down to 10. Past that the lines stay wider (use ``--json``).
    Cut cells end with ``…``.
    """
    table = [list(r) for r in rows]
    widths = [max([display_width(h)] + [display_width(r[i]) for r in table])
              for i, h in enumerate(headers)]
    floors = [
        min(widths[i], max(display_width(h), (keep or {}).get(i, 8)))
        for i, h in enumerate(headers)
    ]
    excess = sum(widths) + gap * (len(headers) - 1) - width

    def shrink_flexible(down_to: int) -> None:
        nonlocal excess
        give = max(0, min(excess, widths[flexible] - down_to))
        widths[flexible] -= give
        excess -= give

    shrink_flexible(max(min_flexible, floors[flexible]))
    while excess > 0:
        shrinkable = [i for i in range(len(widths)) if i != flexible and widths[i] > floors[i]]
        if not shrinkable:
            break
        widths[max(shrinkable, key=lambda i: widths[i])] -= 1
        excess -= 1
    shrink_flexible(10)
    lines = []
    for cells in [list(headers), *table]:
        parts = [_pad(cut(cell, widths[i]), widths[i], i in right)
                 for i, cell in enumerate(cells)]
        lines.append((" " * gap).join(parts).rstrip())
    return lines


def _terminal_width() -> int:
    return shutil.get_terminal_size((DEFAULT_WIDTH, 24)).columns
