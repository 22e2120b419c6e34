"""What ``modworker replay`` counts and tells on stderr: the progress line and the summary."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import TextIO

from worker.rules import RuleSet


@dataclass
class ReplayStats:
    lines: int = 0
    comments: int = 0
    malformed: int = 0
    hits: Counter[str] = field(default_factory=Counter)
    shadow_hits: Counter[str] = field(default_factory=Counter)
    after_stop: Counter[str] = field(default_factory=Counter)  # shadow hits after an enforced stop
    actions: Counter[tuple[str, str]] = field(default_factory=Counter)  # (rule, action)
    skipped: Counter[tuple[str, str]] = field(default_factory=Counter)
    wave_members: Counter[str] = field(default_factory=Counter)  # earlier members acted on
    unknown_accounts: set[str] = field(default_factory=set)
    out_of_order: bool = False  # a comment older than one already decided, beyond the window
    seconds: float = 0.0


def draw_progress(
    err: TextIO, done: int, total: int | None, comments: int, seconds: float
) -> None:
    rate = comments / seconds if seconds > 0 else 0.0
    if total:
        fraction = min(done / total, 1.0)
        filled = int(fraction * 30)
        bar = "#" * filled + "-" * (30 - filled)
        err.write(f"\r[{bar}] {fraction:6.1%} {comments:,} comments {rate:,.0f}/s")
    else:
        err.write(f"\r{comments:,} comments {rate:,.0f}/s")
    err.flush()


def write_summary(rules: RuleSet, stats: ReplayStats, err: TextIO) -> None:
    """The run's rate and, a line each, every rule's mode, hits and actions."""
    rate = stats.comments / stats.seconds if stats.seconds > 0 else 0.0
    err.write(
        f"replayed {stats.comments:,} comments in {stats.seconds:.2f}s ({rate:,.0f}/s)"
        + (f"; {stats.malformed} malformed line(s) skipped" if stats.malformed else "")
        + "\n"
    )
    width = max([len(r.id) for r in rules.rules] + [4])
    err.write(f"{'rule':<{width}}  {'mode':<8}  {'hits':>8}  actions\n")
    for rule in rules.rules:
        if not rule.enabled:
            err.write(f"{rule.id:<{width}}  {'disabled':<8}  {'-':>8}  -\n")
            continue
        hits = stats.hits[rule.id] + stats.shadow_hits[rule.id]
        err.write(f"{rule.id:<{width}}  {rule.mode:<8}  {hits:>8,}  "
                  f"{_rule_actions(rule.id, stats) or '-'}\n")


def _rule_actions(rule_id: str, stats: ReplayStats) -> str:
    """A rule's actions by type with counts, and what was skipped or acted on beside them."""
    actions = ", ".join(
        f"{kind} {count}" for (rid, kind), count in sorted(stats.actions.items())
        if rid == rule_id
    )
    skipped = ", ".join(
        f"{kind} {count}" for (rid, kind), count in sorted(stats.skipped.items())
        if rid == rule_id
    )
    if skipped:
        actions += f" (skipped: {skipped})"
    if stats.after_stop[rule_id]:
        actions += f" ({stats.after_stop[rule_id]:,} after an enforced stop)"
    if stats.wave_members[rule_id]:
        actions += f" (incl. {stats.wave_members[rule_id]:,} earlier wave members)"
    return actions
