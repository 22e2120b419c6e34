"""``modworker replay``: the rules over recorded comments, offline, streaming.

Input: one JSON object a line with at least ``content``; optional ``id`` (default: the line
number), ``platform`` (``wechat``), ``account``, ``target``, ``author``, ``created_at`` (Unix
seconds), ``elected``, ``replied`` (read as :mod:`worker.replay_input` says). Output: one JSON
line a comment with ``id``, ``matched`` and ``actions`` (plus ``skipped`` when there are any,
and with ``spans=True`` the original text each rule matched). Comments are decided in
``created_at`` order (so ``author.offenses`` counts what an author had done by then), sorted
within a bounded window of lines; a file further out of order gets one warning. Memory stays
bounded whatever the input size. A malformed line is reported on stderr with its line number
and skipped; an account the config does not name, once.
"""

from __future__ import annotations

import heapq
import json
import sys
import time
from collections import deque
from collections.abc import Mapping
from pathlib import Path
from typing import TextIO

from worker.comment import Comment
from worker.config import did_you_mean
from worker.replay_input import LineError, open_source, parse_line
from worker.replay_report import ReplayStats, draw_progress, write_summary
from worker.rules import InMemoryOffenseCounter, RuleSet, is_offense
from worker.rules.model import Decision
from worker.waves.state import MemoryWaveState, new_claims

__all__ = ["ORDER_WINDOW", "PAGE_SIZE", "LineError", "ReplayStats", "parse_line", "replay"]

_READ_BYTES = 1 << 16  # input read (and output written) about this much at a time
_PROGRESS_EVERY = 0.1  # seconds between progress bar redraws
#: Comments held back to be decided in ``created_at`` order: a recording listed newest first,
#: or merged from several targets, is put in time order within this many lines.
ORDER_WINDOW = 10_000
#: Comments decided together (RuleSet.evaluate_many: one automaton scan for the page).
PAGE_SIZE = 32

_quote = json.encoder.encode_basestring


class _TimeOrder:
    """Comments released in ``created_at`` order, holding back at most ``window`` of them.

    A comment without ``created_at`` keeps its place after the comment read before it. One
    older than a comment already released cannot be put in order any more: it is released
    at once and :attr:`late_line` names the first such line. While comments arrive in order
    (most recordings) they wait in a queue; from the first one out of order, in a heap (the
    queue, sorted, is one already).
    """

    def __init__(self, window: int) -> None:
        self._window = window
        self._queue: deque[tuple[float, int, Comment]] | None = deque()
        self._heap: list[tuple[float, int, Comment]] = []
        self._seq = 0
        self._last_read = float("-inf")
        self._released = float("-inf")
        self.late_line: int | None = None

    def push(self, comment: Comment, line: int) -> Comment | None:
        """Hold ``comment``; the earliest held one when more than the window are held."""
        at = comment.created_at if comment.created_at is not None else self._last_read
        if at < self._released and self.late_line is None:
            self.late_line = line
        self._seq += 1
        entry = (at, self._seq, comment)
        queue = self._queue
        if queue is not None:
            if at >= self._last_read or not queue:
                self._last_read = at
                queue.append(entry)
                return self._release(queue.popleft()) if len(queue) > self._window else None
            self._heap, self._queue = list(queue), None
        self._last_read = at
        if len(self._heap) < self._window:
            heapq.heappush(self._heap, entry)
            return None
        return self._release(heapq.heappushpop(self._heap, entry))

    def drain(self) -> list[Comment]:
        if self._queue is not None:
            held, self._queue = list(self._queue), deque()
            return [self._release(entry) for entry in held]
        return [self._release(heapq.heappop(self._heap)) for _ in range(len(self._heap))]

    def _release(self, entry: tuple[float, int, Comment]) -> Comment:
        at, _, comment = entry
        self._released = max(self._released, at)
        return comment


class _Replay:
    """One run: lines in, held for time order, decided a page at a time, written out."""

    def __init__(self, rules: RuleSet, *, out: TextIO, err: TextIO, name: str,
                 now: float, spans: bool, accounts: Mapping[str, str] | None,
                 order_window: int) -> None:
        self.rules, self.out, self.err, self.name = rules, out, err, name
        self.now, self.spans, self.accounts = now, spans, accounts
        self.order_window = order_window
        self.stats = ReplayStats()
        self.offenses = InMemoryOffenseCounter()
        self.waves = MemoryWaveState() if rules.wave_query is not None else None
        self.order = _TimeOrder(order_window)
        self.page: list[Comment] = []  # comments released in order, decided a page at a time
        self.pending: list[str] = []  # output lines not written yet
        self._dumps = json.JSONEncoder(ensure_ascii=False, separators=(", ", ": ")).encode

    def take(self, lines: list[bytes], first: int) -> None:
        """Read input lines (``first`` is the first one's number) and hold their comments;
        decide a page whenever one is ready."""
        order, stats, page = self.order, self.stats, self.page
        check_accounts = self.accounts is not None
        for line, raw in enumerate(lines, start=first):
            if raw.isspace():
                continue
            try:
                comment = parse_line(raw, line)
            except LineError as exc:
                stats.malformed += 1
                self.err.write(f"{self.name}:{line}: skipped: {exc}\n")
                continue
            if check_accounts and comment.account is not None:
                self._check_account(comment, f"{self.name}:{line}")
            late_before = order.late_line
            ready = order.push(comment, line)
            if order.late_line is not None and late_before is None:
                self._warn_out_of_order(order.late_line)
            if ready is not None:
                page.append(ready)
        while len(page) >= PAGE_SIZE:  # the engine's tables stay in cache page after page
            self.decide_page()

    def finish(self) -> None:
        """Decide every comment still held."""
        self.page.extend(self.order.drain())
        while self.page:
            self.decide_page()

    def decide_page(self) -> None:
        """Decide the first PAGE_SIZE held comments (all, when fewer)."""
        page, pending = self.page[:PAGE_SIZE], self.pending
        del self.page[:PAGE_SIZE]
        observations = None
        if self.waves is not None:
            observations = self.rules.observe_page(page, self.waves, self.now)  # bands at once
            # Comments come in created_at order (a late line, warned about, sees what is left):
            # none decided from now on was written before this page.
            times = [c.created_at for c in page if c.created_at is not None]
            if times:
                self.waves.forget_before(min(times))
        decisions = self.rules.evaluate_many(
            page, offenses=self.offenses, now=self.now, observations=observations
        )
        for decision in decisions:
            if decision.matches or decision.skipped:
                self._record(decision)  # before the next decision: its offense counts there
            else:  # most comments: no need to build and encode a dict
                pending.append(
                    f'{{"id": {_quote(decision.comment.id)}, "matched": [], "actions": []}}'
                )
        self.stats.comments += len(page)

    def _record(self, decision: Decision) -> None:
        stats, comment = self.stats, decision.comment
        if self.waves is not None and decision.waves:
            _earlier_members(self.rules, self.waves, decision, stats)
        for match in decision.matches:
            (stats.shadow_hits if match.mode == "shadow" else stats.hits)[match.rule] += 1
            if match.after_stop:
                stats.after_stop[match.rule] += 1
        for action in decision.actions:
            stats.actions[(action.rule, action.type)] += 1
        for skipped in decision.skipped:
            stats.skipped[(skipped.rule, skipped.type)] += 1
        if comment.author and is_offense(decision):
            self.offenses.record(
                platform=comment.platform, account=comment.account, author=comment.author,
                at=comment.created_at if comment.created_at is not None else self.now,
            )
        self.pending.append(self._dumps(decision.to_dict(spans=self.spans)))

    def write_pending(self) -> None:
        if self.pending:
            self.out.write("\n".join(self.pending) + "\n")
            self.pending.clear()

    def _warn_out_of_order(self, line: int) -> None:
        self.stats.out_of_order = True
        self.err.write(
            f"{self.name}:{line}: warning: the file is not in created_at order "
            f"(this comment is older than one {self.order_window:,} lines or more before "
            "it); author.offenses counts such comments in file order\n"
        )

    def _check_account(self, comment: Comment, where: str) -> None:
        """Say once per name that a line names an account the config does not have."""
        account, accounts, stats = comment.account, self.accounts, self.stats
        if account is None or accounts is None or account in accounts \
                or account in stats.unknown_accounts:
            return
        stats.unknown_accounts.add(account)
        self.err.write(
            f"{where}: warning: account {account!r} is not in the config"
            f"{did_you_mean(account, set(accounts))}; rules that name accounts do not apply to "
            "its comments (reported once)\n"
        )


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
    run = _Replay(rules, out=out, err=err, now=time.time() if now is None else now,
                  name="<stdin>" if str(source) == "-" else str(source), spans=spans,
                  accounts=accounts, order_window=order_window)
    stats = run.stats
    handle, size = open_source(source)
    started = last_draw = time.perf_counter()
    read_bytes = 0
    try:
        while lines := handle.readlines(_READ_BYTES):
            run.take(lines, stats.lines + 1)
            stats.lines += len(lines)
            read_bytes += sum(map(len, lines))
            run.write_pending()
            if progress and time.perf_counter() - last_draw >= _PROGRESS_EVERY:
                last_draw = time.perf_counter()
                draw_progress(err, read_bytes, size, stats.comments, last_draw - started)
        run.finish()
    finally:
        run.write_pending()
        out.flush()
        if handle is not sys.stdin.buffer:
            handle.close()
    stats.seconds = time.perf_counter() - started
    if progress:
        draw_progress(err, read_bytes, size, stats.comments, stats.seconds)
        err.write("\n")
    write_summary(rules, stats, err)
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
