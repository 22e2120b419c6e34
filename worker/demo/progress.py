"""What the daemon did so far, read from its audit stream while the demo runs."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from worker.pipeline.audit import AuditLog

FINAL_OUTCOMES = frozenset({"ok", "already_done", "failed"})


@dataclass
class Progress:
    """The audit stream read so far, and what part of it has been reported."""

    records: list[dict[str, Any]] = field(default_factory=list)
    reported: set[str] = field(default_factory=set)

    @property
    def decisions(self) -> list[dict[str, Any]]:
        return [r for r in self.records if r.get("kind") == "decision"]

    @property
    def actions(self) -> list[dict[str, Any]]:
        return [r for r in self.records if r.get("kind") == "action"]

    def decided(self) -> int:
        """Comments decided at least once (a comment may be decided again on a full pass)."""
        return len({comment_key(r) for r in self.decisions})

    def pending_actions(self) -> int:
        """Enforced actions planned but without a final outcome yet (never below zero)."""
        planned = sum(1 for d in self.decisions for a in d.get("actions") or []
                      if isinstance(a, dict) and a.get("mode") != "shadow"
                      and a.get("type") != "notify")  # told in a digest, not acted on
        final = sum(1 for a in self.actions if a.get("outcome") in FINAL_OUTCOMES)
        return max(0, planned - final)

    def take_new(self, audit: AuditLog) -> list[dict[str, Any]]:
        """Read the stream again; the records not reported before, now marked reported."""
        self.records = read_audit(audit)
        new = [r for r in self.records if r["stream_id"] not in self.reported]
        self.reported.update(r["stream_id"] for r in new)
        return new


def comment_key(record: Mapping[str, Any]) -> tuple[str, str, str]:
    return (str(record.get("platform")), str(record.get("target")), str(record.get("comment_id")))


def read_audit(audit: AuditLog) -> list[dict[str, Any]]:
    """The whole audit stream, oldest first."""
    records = audit.read(limit=1_000_000)
    records.reverse()
    return records


def describe_new(records: Iterable[dict[str, Any]]) -> tuple[str, str]:
    """Two progress lines ("" when there is nothing to say): decisions by first rule, and
    actions done by action and outcome."""
    decided: Counter[str] = Counter()
    done: Counter[str] = Counter()
    for record in records:
        if record.get("kind") == "decision":
            rules = record.get("rules") or []
            decided[rules[0] if rules else "no rule"] += 1
        elif record.get("kind") == "action":
            done[_action_label(record)] += 1
    clean = decided.pop("no rule", 0)
    decided_text = ", ".join(f"{rule} {n}" for rule, n in decided.most_common())
    if clean:
        decided_text += (", " if decided_text else "") + f"no rule {clean}"
    done_text = ", ".join(f"{label} {n}" for label, n in done.most_common())
    return (f"decided {decided.total() + clean}: {decided_text}" if decided or clean else "",
            f"done {done.total()}: {done_text}" if done else "")


def _action_label(record: Mapping[str, Any]) -> str:
    outcome = record.get("outcome")
    label = str(record.get("action"))
    if outcome == "dry_run":
        return label + " (shadow)"
    if outcome != "ok":
        return label + f" {outcome}"
    return label
