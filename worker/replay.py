"""``modworker replay``: the rules over recorded comments, offline, streaming.

Input: one JSON object a line with at least ``content``; optional ``id`` (default: the line
number), ``platform`` (``wechat``), ``account``, ``author``, ``created_at`` (Unix seconds),
``elected``, ``replied``. Output: one JSON line a comment with ``id``, ``matched`` and
``actions`` (plus ``skipped`` when there are any, and with ``spans=True`` the original text
each rule matched). Memory stays constant
whatever the input size: lines are read, decided and written one at a time. A malformed line
is reported on stderr with its line number and skipped.
"""

from __future__ import annotations

import json
import os
import sys
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, BinaryIO, TextIO

from worker.errors import InputError
from worker.models import Comment
from worker.rules import InMemoryOffenseCounter, RuleSet, is_offense

_FLUSH_EVERY = 512
_PROGRESS_EVERY = 0.1  # seconds between progress bar redraws


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
    seconds: float = 0.0


class LineError(ValueError):
    """One input line cannot be used; the message says why."""


_decode = json.JSONDecoder().decode
_quote = json.encoder.encode_basestring


def parse_line(raw: bytes, line_number: int) -> Comment:
    try:
        data: Any = _decode(raw.decode("utf-8"))
    except UnicodeDecodeError as exc:
        raise LineError(f"not UTF-8: {exc}") from exc
    except json.JSONDecodeError as exc:
        raise LineError(f"invalid JSON: {exc}") from exc
    if not isinstance(data, dict):
        raise LineError("expected a JSON object")
    content = data.get("content")
    if not isinstance(content, str):
        raise LineError("'content' must be a string" if "content" in data else "no 'content'")
    platform = data.get("platform", "wechat")
    if platform not in ("wechat", "weibo"):
        raise LineError(f"'platform' must be wechat or weibo, got {platform!r}")
    created_at = data.get("created_at")
    if created_at is not None and (
        isinstance(created_at, bool) or not isinstance(created_at, int | float)
    ):
        raise LineError(f"'created_at' must be Unix seconds, got {created_at!r}")
    for flag in ("elected", "replied"):
        if flag in data and not isinstance(data[flag], bool):
            raise LineError(f"{flag!r} must be true or false, got {data[flag]!r}")
    author = data.get("author")
    account = data.get("account")
    raw_id = data.get("id", line_number)
    return Comment(
        platform=platform,
        id=str(raw_id),
        content=content,
        account=str(account) if account is not None else None,
        author=str(author) if author not in (None, "") else None,
        created_at=float(created_at) if created_at is not None else None,
        elected=bool(data.get("elected", False)),
        replied=bool(data.get("replied", False)),
    )


def _open(source: Path) -> tuple[BinaryIO, int | None]:
    if str(source) == "-":
        return sys.stdin.buffer, None
    try:
        handle = source.open("rb")
    except OSError as exc:
        raise InputError(f"cannot read {source}: {exc.strerror}") from exc
    try:
        size = os.fstat(handle.fileno()).st_size
    except OSError:
        size = None
    return handle, size


def replay(
    rules: RuleSet,
    *,
    source: Path,
    out: TextIO,
    err: TextIO,
    now: float | None = None,
    progress: bool = False,
    spans: bool = False,
) -> ReplayStats:
    stats = ReplayStats()
    offenses = InMemoryOffenseCounter()
    evaluate_at = time.time() if now is None else now
    name = "<stdin>" if str(source) == "-" else str(source)
    handle, size = _open(source)
    started = time.perf_counter()
    last_draw = started
    read_bytes = 0
    pending: list[str] = []
    dumps = json.JSONEncoder(ensure_ascii=False, separators=(", ", ": ")).encode
    try:
        for stats.lines, raw in enumerate(handle, start=1):
            read_bytes += len(raw)
            if not raw.strip():
                continue
            try:
                comment = parse_line(raw, stats.lines)
            except LineError as exc:
                stats.malformed += 1
                err.write(f"{name}:{stats.lines}: skipped: {exc}\n")
                continue
            decision = rules.evaluate(comment, offenses=offenses, now=evaluate_at)
            stats.comments += 1
            for match in decision.matches:
                (stats.shadow_hits if match.mode == "shadow" else stats.hits)[match.rule] += 1
                if match.after_stop:
                    stats.after_stop[match.rule] += 1
            for action in decision.actions:
                stats.actions[(action.rule, action.type)] += 1
            for skipped in decision.skipped:
                stats.skipped[(skipped.rule, skipped.type)] += 1
            if comment.author and is_offense(decision):
                offenses.record(
                    platform=comment.platform, account=comment.account, author=comment.author,
                    at=comment.created_at if comment.created_at is not None else evaluate_at,
                )
            if decision.matches or decision.skipped:
                pending.append(dumps(decision.to_dict(spans=spans)))
            else:  # most comments: no need to build and encode a dict
                pending.append(f'{{"id": {_quote(comment.id)}, "matched": [], "actions": []}}')
            if len(pending) >= _FLUSH_EVERY:
                out.write("\n".join(pending) + "\n")
                pending.clear()
                if progress:
                    moment = time.perf_counter()
                    if moment - last_draw >= _PROGRESS_EVERY:
                        last_draw = moment
                        _draw_progress(err, read_bytes, size, stats.comments, moment - started)
    finally:
        if pending:
            out.write("\n".join(pending) + "\n")
        out.flush()
        if handle is not sys.stdin.buffer:
            handle.close()
    stats.seconds = time.perf_counter() - started
    if progress:
        _draw_progress(err, read_bytes, size, stats.comments, stats.seconds)
        err.write("\n")
    _summary(rules, stats, err)
    return stats


def _draw_progress(
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


def _summary(rules: RuleSet, stats: ReplayStats, err: TextIO) -> None:
    rate = stats.comments / stats.seconds if stats.seconds > 0 else 0.0
    err.write(
        f"replayed {stats.comments:,} comments in {stats.seconds:.2f}s ({rate:,.0f}/s)"
        + (f"; {stats.malformed} malformed line(s) skipped" if stats.malformed else "")
        + "\n"
    )
    width = max([len(r.id) for r in rules.rules] + [4])
    err.write(f"{'rule':<{width}}  {'mode':<7}  {'hits':>8}  actions\n")
    for rule in rules.rules:
        hits = stats.hits[rule.id] + stats.shadow_hits[rule.id]
        actions = ", ".join(
            f"{kind} {count}" for (rid, kind), count in sorted(stats.actions.items())
            if rid == rule.id
        )
        skipped = ", ".join(
            f"{kind} {count}" for (rid, kind), count in sorted(stats.skipped.items())
            if rid == rule.id
        )
        if skipped:
            actions += f" (skipped: {skipped})"
        if stats.after_stop[rule.id]:
            actions += f" ({stats.after_stop[rule.id]:,} after an enforced stop)"
        err.write(f"{rule.id:<{width}}  {rule.mode:<7}  {hits:>8,}  {actions or '-'}\n")
