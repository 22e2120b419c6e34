"""Entries -> digest messages: per rule the count and a few examples, then the events.

An entry is a JSON-able dict: ``{"kind": "rule", "rule", "mode", "dry_run", "platform",
"account", "target", "comment_id", "author", "content", "actions", "wave"}`` for a
``{notify: CHANNEL}`` action, ``{"kind": "event", "event", "detail", ...}`` for an
operational event. Shadow rules and dry_run are marked: they changed nothing on the platforms.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from worker.notify.robots import MAX_BYTES

#: What happened to an entry's actions so far: action -> outcome (ok, failed, ...).
OutcomeLookup = Callable[[dict[str, Any]], dict[str, str]]

EXAMPLE_CHARS = 60


@dataclass(frozen=True, slots=True)
class Message:
    title: str
    text: str
    entries: int


def _mark(entry: dict[str, Any]) -> str:
    if entry.get("mode") == "shadow":
        return " [shadow rule: nothing was changed]"
    if entry.get("dry_run"):
        return " [dry_run: nothing was changed]"
    return ""


def _cut(text: object, limit: int = EXAMPLE_CHARS) -> str:
    flat = " ".join(str(text or "").split())
    return flat if len(flat) <= limit else flat[:limit - 1] + "…"


def _example(entry: dict[str, Any], outcomes: dict[str, str]) -> str:
    actions = ", ".join(
        f"{action} {outcomes[action]}" if action in outcomes else action
        for action in entry.get("actions", []) if action != "notify"
    )
    wave = f" (wave {entry['wave']})" if entry.get("wave") else ""
    return (f"- {entry.get('account') or '-'} / {entry.get('target') or '-'} · "
            f"{entry.get('author') or 'unknown author'}: “{_cut(entry.get('content'))}”"
            f"{' → ' + actions if actions else ''}{wave}")


def digest(
    entries: Sequence[dict[str, Any]], *, examples: int, outcome_of: OutcomeLookup | None = None,
    max_bytes: int = MAX_BYTES,
) -> list[Message]:
    """The messages telling ``entries``, each at most ``max_bytes`` of UTF-8."""
    rules: dict[tuple[str, str], list[dict[str, Any]]] = {}
    events: dict[str, list[dict[str, Any]]] = {}
    for entry in entries:
        if entry.get("kind") == "event":
            events.setdefault(str(entry.get("event")), []).append(entry)
        else:
            rules.setdefault((str(entry.get("rule")), _mark(entry)), []).append(entry)
    comments = sum(len(v) for v in rules.values())
    happened = sum(len(v) for v in events.values())
    title = f"modworker: {comments} comment{'s' * (comments != 1)}"
    if happened:
        title += f", {happened} event{'s' * (happened != 1)}"
    lines: list[str] = []
    for (rule, mark), found in rules.items():
        lines.append(f"**{rule}**: {len(found)} comment{'s' * (len(found) != 1)}{mark}")
        for entry in found[:examples]:
            outcomes = outcome_of(entry) if outcome_of is not None else {}
            lines.append(_example(entry, outcomes))
        if len(found) > examples:
            lines.append(f"- … and {len(found) - examples} more")
    for event, found in events.items():
        lines.append(f"**{event}**: {len(found)}")
        for entry in found[:examples]:
            where = " / ".join(str(entry[k]) for k in ("account", "target", "comment_id")
                               if entry.get(k))
            lines.append(f"- {where + ': ' if where else ''}{_cut(entry.get('detail'), 120)}")
        if len(found) > examples:
            lines.append(f"- … and {len(found) - examples} more")
    return _pack(title, lines, len(entries), max_bytes)


def _pack(title: str, lines: list[str], entries: int, max_bytes: int) -> list[Message]:
    chunks: list[list[str]] = [[]]
    size = len(title.encode()) + 2
    for line in lines:
        cost = len(line.encode()) + 1
        if chunks[-1] and size + cost > max_bytes - 16:  # room for " (2/3)"
            chunks.append([])
            size = len(title.encode()) + 2
        chunks[-1].append(line if cost < max_bytes - 64 else _cut(line, 500))
        size += cost
    if len(chunks) == 1:
        return [Message(title, f"{title}\n\n" + "\n".join(chunks[0]), entries)]
    out = []
    for number, chunk in enumerate(chunks, 1):
        head = f"{title} ({number}/{len(chunks)})"
        out.append(Message(head, f"{head}\n\n" + "\n".join(chunk), entries if number == 1 else 0))
    return out
