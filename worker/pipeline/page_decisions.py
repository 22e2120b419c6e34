"""A ``moderate`` page decided together: one :meth:`RuleSet.evaluate_many` call (one automaton
scan for the page) instead of one evaluation per comment, with each comment's failure its own.

The page is recorded in the wave state first, in one round trip (:meth:`RuleSet.observe_page`);
the evaluation then reads what was recorded through :class:`RecordedObservations`. The offense
counts the rules may ask for are announced to the page's :class:`PageOffenseCounts`, which
reads them in one round trip. Decisions are made one by one as the caller takes them, so an
offense the caller records (through the same ``offenses``) for one comment counts for the
comments after it. A comment that cannot be read (:meth:`Comment.from_dict`)
or evaluated gives its exception instead of a decision; when the page's evaluation fails, the
rest of the page is evaluated a comment at a time, so only a comment's own failure is told
against it. A failure of the surroundings (Redis unreachable) is raised: it fails the whole
message, to be retried.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from worker.comment import Comment
from worker.pipeline.offenses import PageOffenseCounts
from worker.rules import RuleSet
from worker.rules.model import Decision, OffenseCounts
from worker.waves.state import Member, Observation, WaveQuery, WaveState


@dataclass(frozen=True, slots=True)
class Decided:
    """One entry of a page: its position, the message's data, and its decision or failure."""

    position: int
    data: Any
    outcome: Decision | Exception


class RecordedObservations:
    """The wave state as the evaluation of a page sees it: the page's comments are already
    recorded (``observe_page``), so :meth:`observe` answers what was recorded for each (by
    identity) instead of recording it again; anything else goes to the wave state itself."""

    def __init__(self, state: WaveState, comments: Sequence[Comment],
                 observations: Sequence[Observation | None]) -> None:
        self._state = state
        self._seen = {id(c): o for c, o in zip(comments, observations, strict=True)
                      if o is not None}

    def observe(self, comment: Comment, text: str, query: WaveQuery, *, now: float) -> Observation:
        seen = self._seen.get(id(comment))
        if seen is not None:
            return seen
        return self._state.observe(comment, text, query, now=now)  # not one of the page's

    def observe_many(
        self, comments: Sequence[tuple[Comment, str]], query: WaveQuery, *, now: float
    ) -> list[Observation]:
        return [self.observe(c, text, query, now=now) for c, text in comments]

    def claim(
        self, *, platform: str, account: str | None, rule: str, ids: Sequence[str],
        wave: str, within: float,
    ) -> tuple[str, list[str]]:
        return self._state.claim(platform=platform, account=account, rule=rule, ids=ids,
                                 wave=wave, within=within)

    def contents(
        self, *, platform: str, account: str | None, members: Sequence[Member], within: float
    ) -> dict[str, str]:
        return self._state.contents(platform=platform, account=account, members=members,
                                    within=within)


def decide_page(
    rules: RuleSet, page: Sequence[Any], *, offenses: PageOffenseCounts, waves: WaveState,
    now: float, environmental: Callable[[BaseException], bool],
) -> Iterator[Decided]:
    """Each entry of ``page`` (a ``moderate`` message's comments), in order, with its decision
    or the exception that stopped it; ``environmental`` says which exceptions to raise."""
    parsed: list[tuple[int, Comment]] = []
    unread: dict[int, Exception] = {}
    for position, data in enumerate(page):
        try:
            parsed.append((position, Comment.from_dict(data)))
        except Exception as exc:  # noqa: BLE001 - told as this comment's failure, in its turn
            unread[position] = exc
    comments = [c for _, c in parsed]
    offenses.expect(rules.offense_questions(comments, now))
    observations: Sequence[Observation | None] = (
        rules.observe_page(comments, waves, now) if rules.wave_query is not None
        else [None] * len(comments)
    )
    recorded = RecordedObservations(waves, comments, observations)
    decided = _evaluated(rules, comments, observations, offenses=offenses, waves=recorded,
                         now=now, environmental=environmental)
    for position, data in enumerate(page):
        failure = unread.get(position)
        yield Decided(position, data, failure if failure is not None else next(decided))


def _evaluated(
    rules: RuleSet, comments: list[Comment], observations: Sequence[Observation | None], *,
    offenses: OffenseCounts, waves: RecordedObservations, now: float,
    environmental: Callable[[BaseException], bool],
) -> Iterator[Decision | Exception]:
    """The comments' decisions in order, the page at once while that works, then one by one."""
    decisions = rules.evaluate_many(comments, offenses=offenses, now=now, waves=waves)
    done = 0
    while done < len(comments):
        try:
            decision = next(decisions)
        except Exception as exc:
            if environmental(exc):
                raise
            break  # the page's scan or this comment: tell them apart one at a time
        done += 1
        yield decision
    for comment, observation in zip(comments[done:], observations[done:], strict=True):
        try:
            yield rules.evaluate(comment, offenses=offenses, now=now, waves=waves,
                                 observation=observation)
        except Exception as exc:
            if environmental(exc):
                raise
            yield exc
