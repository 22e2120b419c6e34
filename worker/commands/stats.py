"""``modworker stats``: per rule hits, actions by outcome and last hit, read back from Redis;
then per target polling freshness (:mod:`worker.commands.freshness_report`) and each
account's poll budget.

It reads the config (secrets not needed) and the deployment's Redis as ``modworker audit``
does; a table on a terminal, JSON otherwise (or with ``--json``). It flags two kinds of rules
worth a moderator's look:

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
import json
import sys
import time
from collections.abc import Mapping
from typing import Any, TextIO

from worker.commands.console import load_config_reporting, open_state_for, pipe_closed_ok
from worker.commands.freshness_report import (
    configured_targets,
    freshness_report,
    write_freshness_table,
)
from worker.commands.tables import format_time, render_table, terminal_width
from worker.commands.targets import budget_rows, write_budgets
from worker.config import Config
from worker.errors import ConfigError, StateUnavailableError
from worker.exit_codes import EXIT_CONFIG, EXIT_OK, EXIT_REDIS
from worker.pipeline.freshness import Freshness
from worker.pipeline.keys import Keys
from worker.pipeline.rulestats import RuleStats
from worker.rules import RuleSet, load_rules

NOISY_MIN_HITS = 20
NOISY_SHARE = 0.4


def cmd_stats(args: argparse.Namespace) -> int:
    config = load_config_reporting(args.config)
    if config is None:
        return EXIT_CONFIG
    rules = _rules_or_none(config)
    keys = Keys(prefix=config.redis.key_prefix)
    try:
        with open_state_for(config, doing="reading the rule statistics") as state:
            stats = RuleStats(redis=state.client, keys=keys)
            snapshot = stats.snapshot([r.id for r in rules.rules] if rules is not None else None)
            watched = configured_targets(config, state.client)
            targets = Freshness(redis=state.client, keys=keys).targets(watched)
            credentials = Freshness(redis=state.client, keys=keys).credentials()
            budgets = budget_rows(state.client, config)
    except StateUnavailableError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_REDIS
    report = stats_report(snapshot, rules)
    report["targets"] = freshness_report(targets, credentials, config, now=time.time(),
                                         watched=watched)
    report["poll_budgets"] = budgets
    out = sys.stdout
    with pipe_closed_ok():
        if args.json or not out.isatty():
            out.write(json.dumps(report, ensure_ascii=False, indent=2) + "\n")
        else:
            write_stats_table(report, out, width=terminal_width())
            write_freshness_table(report["targets"], out, width=terminal_width())
            write_budgets(budgets, out)
    return EXIT_OK


def _rules_or_none(config: Config) -> RuleSet | None:
    """The rules loaded now, or None (with a warning) when they do not load: the statistics
    are still worth showing, only nothing can be called dead or removed."""
    try:
        return load_rules(
            config.rules, accounts={a.name: a.platform for a in config.accounts},
            run_tests=False, normalize=config.normalize,
        )
    except ConfigError as exc:
        print(f"warning: the rules do not load ({len(exc.problems)} problem(s): see `modworker "
              "check`); listing the rules that have statistics, none marked dead or removed",
              file=sys.stderr)
        return None


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
