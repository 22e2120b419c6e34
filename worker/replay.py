"""``modworker replay``: the rules over recorded comments, offline, streaming.

Input: one JSON object a line with at least ``content``; optional ``id`` (default: the line
number), ``platform`` (``wechat``), ``account``, ``author``, ``created_at`` (Unix seconds),
``elected``, ``replied``. Output: one JSON line a comment with ``id``, ``matched`` and
``actions`` (plus ``skipped`` when there are any, and with ``spans=True`` the original text
each rule matched). Comments are decided in ``created_at`` order (so ``author.offenses``
counts what an author had done by then), sorted within a bounded window of lines; a file
further out of order gets one warning. Memory stays bounded whatever the input size. A
malformed line is reported on stderr with its line number and skipped; an account the config
does not name, once.
"""

from __future__ import annotations

import heapq
import json
import math
import os
import sys
import time
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, BinaryIO, TextIO

from worker.comment import Comment
from worker.config import did_you_mean
from worker.errors import InputError
from worker.platform_specs import PLATFORM_NAMES
from worker.rules import InMemoryOffenseCounter, RuleSet, is_offense
from worker.rules.model import Decision
from worker.textclean import without_lone_surrogates
from worker.waves.state import MemoryWaveState, new_claims

_FLUSH_EVERY = 512
_PROGRESS_EVERY = 0.1  # seconds between progress bar redraws
#: Comments held back to be decided in ``created_at`` order: a recording listed newest first,
#: or merged from several targets, is put in time order within this many lines.
ORDER_WINDOW = 10_000
#: Comments decided together (RuleSet.evaluate_many: one automaton scan for the page).
PAGE_SIZE = 32


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


class LineError(ValueError):
    """One input line cannot be used; the message says why."""


_decode = json.JSONDecoder().decode
_quote = json.encoder.encode_basestring


def parse_line(raw: bytes, line_number: int) -> Comment:
    """The comment of one input line; :class:`LineError` (never anything else) when the line
    cannot be used, so one bad line is skipped, not the run aborted."""
    try:
        return _parse_line(raw, line_number)
    except LineError:
        raise
    except RecursionError as exc:
        raise LineError("nested too deeply") from exc
    except (ValueError, OverflowError) as exc:  # e.g. a number of more than 4,300 digits
        raise LineError(f"unusable value: {exc}") from exc


def _parse_line(raw: bytes, line_number: int) -> Comment:
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
    if platform not in PLATFORM_NAMES:
        raise LineError(
            f"'platform' must be {' or '.join(PLATFORM_NAMES)}, got {_shown(platform)}"
        )
    seconds = _unix_seconds(data.get("created_at"))
    for flag in ("elected", "replied"):
        if flag in data and not isinstance(data[flag], bool):
            raise LineError(f"{flag!r} must be true or false, got {_shown(data[flag])}")
    comment_id = str(data.get("id", line_number))
    if without_lone_surrogates(comment_id) != comment_id:
        # An output line must name its input: an id cannot be written out altered.
        raise LineError(f"'id' holds a lone surrogate: {ascii(comment_id)[:80]}")
    author = data.get("author")
    account = data.get("account")
    return Comment(
        platform=platform,
        id=comment_id,
        # As the daemon sees platform text: a lone surrogate (a cut emoji) becomes U+FFFD.
        content=without_lone_surrogates(content),
        account=without_lone_surrogates(str(account)) if account is not None else None,
        author=without_lone_surrogates(str(author)) if author not in (None, "") else None,
        created_at=seconds,
        elected=bool(data.get("elected", False)),
        replied=bool(data.get("replied", False)),
    )


def _unix_seconds(value: Any) -> float | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise LineError(f"'created_at' must be Unix seconds, got {_shown(value)}")
    try:
        seconds = float(value)
    except OverflowError as exc:
        raise LineError("'created_at' is too large to be Unix seconds") from exc
    if not math.isfinite(seconds):
        raise LineError(f"'created_at' must be Unix seconds, got {seconds}")
    return seconds


def _shown(value: Any) -> str:
    """A value quoted in a message: its repr, cut, ASCII only (stderr may not take the rest)."""
    shown = ascii(value)
    return shown if len(shown) <= 80 else shown[:77] + "..."


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


class _TimeOrder:
    """Comments released in ``created_at`` order, holding back at most ``window`` of them.

    A comment without ``created_at`` keeps its place after the comment read before it. One
    older than a comment already released cannot be put in order any more: it is released
    at once and :attr:`late_line` names the first such line.
    """

    def __init__(self, window: int) -> None:
        self._window = window
        self._heap: list[tuple[float, int, Comment]] = []
        self._seq = 0
        self._last_read = float("-inf")
        self._released = float("-inf")
        self.late_line: int | None = None

    def push(self, comment: Comment, line: int) -> Comment | None:
        """Hold ``comment``; the earliest held one when more than the window are held."""
        at = comment.created_at if comment.created_at is not None else self._last_read
        self._last_read = at
        if at < self._released and self.late_line is None:
            self.late_line = line
        self._seq += 1
        if len(self._heap) < self._window:
            heapq.heappush(self._heap, (at, self._seq, comment))
            return None
        at, _, earliest = heapq.heappushpop(self._heap, (at, self._seq, comment))
        self._released = max(self._released, at)
        return earliest

    def drain(self) -> list[Comment]:
        return [self._pop() for _ in range(len(self._heap))]

    def _pop(self) -> Comment:
        at, _, comment = heapq.heappop(self._heap)
        self._released = max(self._released, at)
        return comment


def replay(
    rules: RuleSet,
    *,
    source: Path,
    out: TextIO,
    err: TextIO,
    now: float | None = None,
    progress: bool = False,
    spans: bool = False,
    accounts: Mapping[str, str] | None = None,
    order_window: int = ORDER_WINDOW,
) -> ReplayStats:
    """Decide every comment of ``source``; ``accounts`` (name -> platform) are the config's.

    Comments are decided (and written) in ``created_at`` order within ``order_window`` lines,
    so ``author.offenses`` counts what each author had done by then, as the daemon would have.
    """
    stats = ReplayStats()
    offenses = InMemoryOffenseCounter()
    waves = MemoryWaveState() if rules.wave_query is not None else None
    evaluate_at = time.time() if now is None else now
    name = "<stdin>" if str(source) == "-" else str(source)
    handle, size = _open(source)
    started = time.perf_counter()
    last_draw = started
    read_bytes = 0
    pending: list[str] = []
    dumps = json.JSONEncoder(ensure_ascii=False, separators=(", ", ": ")).encode
    order = _TimeOrder(order_window)

    page: list[Comment] = []  # comments released in order, decided a page at a time

    def decide_page() -> None:
        decisions = rules.evaluate_many(page, offenses=offenses, now=evaluate_at, waves=waves)
        for comment, decision in zip(page, decisions, strict=True):
            record(comment, decision)  # before the next decision: its offense counts there
        page.clear()

    def record(comment: Comment, decision: Decision) -> None:
        if waves is not None and decision.waves:
            _earlier_members(rules, waves, decision, stats)
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
            if accounts is not None and comment.account is not None:
                _check_account(comment, accounts, stats, err, f"{name}:{stats.lines}")
            late_before = order.late_line
            ready = order.push(comment, stats.lines)
            if ready is not None:
                page.append(ready)
                if len(page) >= PAGE_SIZE:
                    decide_page()
            if order.late_line is not None and late_before is None:
                stats.out_of_order = True
                err.write(
                    f"{name}:{order.late_line}: warning: the file is not in created_at order "
                    f"(this comment is older than one {order_window:,} lines or more before "
                    "it); author.offenses counts such comments in file order\n"
                )
            if len(pending) >= _FLUSH_EVERY:
                out.write("\n".join(pending) + "\n")
                pending.clear()
                if progress:
                    moment = time.perf_counter()
                    if moment - last_draw >= _PROGRESS_EVERY:
                        last_draw = moment
                        _draw_progress(err, read_bytes, size, stats.comments, moment - started)
        for ready in order.drain():
            page.append(ready)
            if len(page) >= PAGE_SIZE:
                decide_page()
        decide_page()
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


def _earlier_members(
    rules: RuleSet, waves: MemoryWaveState, decision: Decision, stats: ReplayStats
) -> None:
    """Keep in ``decision.waves`` only the earlier members this comment's wave rule acts on
    (those no earlier comment of the wave acted on), as the daemon does, and count them."""
    within = rules.wave_query.repeated_within if rules.wave_query is not None else None
    for rule, members in list(decision.waves.items()):
        _, fresh = new_claims(waves, decision.comment, rule, members, within or 0.0)
        decision.waves[rule] = tuple(fresh)
        stats.wave_members[rule] += len(fresh)
        for action in rules.rule(rule).then:
            stats.actions[(rule, action.type)] += len(fresh)
        if not fresh:
            del decision.waves[rule]


def _check_account(
    comment: Comment, accounts: Mapping[str, str], stats: ReplayStats, err: TextIO, where: str
) -> None:
    """Say once per name that a line names an account the config does not have."""
    account = comment.account
    if account is None or account in accounts or account in stats.unknown_accounts:
        return
    stats.unknown_accounts.add(account)
    err.write(
        f"{where}: warning: account {account!r} is not in the config"
        f"{did_you_mean(account, set(accounts))}; rules that name accounts do not apply to "
        "its comments (reported once)\n"
    )


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
    err.write(f"{'rule':<{width}}  {'mode':<8}  {'hits':>8}  actions\n")
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
        if stats.wave_members[rule.id]:
            actions += f" (incl. {stats.wave_members[rule.id]:,} earlier wave members)"
        if not rule.enabled:
            err.write(f"{rule.id:<{width}}  {'disabled':<8}  {'-':>8}  -\n")
            continue
        err.write(f"{rule.id:<{width}}  {rule.mode:<8}  {hits:>8,}  {actions or '-'}\n")
