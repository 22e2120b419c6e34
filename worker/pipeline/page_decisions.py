"""A ``moderate`` page decided together: one :meth:`RuleSet.evaluate_many` call (one automaton
scan for the page) instead of one evaluation per comment, with each comment's failure its own.

The page is recorded in the wave state first, in one round trip (:meth:`RuleSet.observe_page`);
the evaluation is given what was recorded, so nothing is recorded twice. The offense
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
from worker.waves.state import Observation, WaveState


@dataclass(frozen=True, slots=True)
class Decided:
    """One entry of a page: its position, the message's data, and its decision or failure."""

    position: int
    data: Any
    outcome: Decision | Exception


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
    decided = _evaluated(rules, comments, observations, offenses=offenses, waves=waves,
                         now=now, environmental=environmental)
    for position, data in enumerate(page):
        failure = unread.get(position)
        yield Decided(position, data, failure if failure is not None else next(decided))


def _evaluated(
    rules: RuleSet, comments: list[Comment], observations: Sequence[Observation | None], *,
    offenses: OffenseCounts, waves: WaveState, now: float,
    environmental: Callable[[BaseException], bool],
) -> Iterator[Decision | Exception]:
    """The comments' decisions in order, the page at once while that works, then one by one."""
    decisions = rules.evaluate_many(comments, offenses=offenses, now=now, waves=waves,
                                    observations=observations)
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
