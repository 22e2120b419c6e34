"""Adaptive polling: each target's interval moves between hot and cold. Pure, no clock.

A poll that finds new comments makes its target hot: the next poll is ``interval`` away
(``polling.interval``, 60 s by default). Each poll that finds none multiplies the interval by
:data:`STRETCH` (2), up to ``max_interval`` (``polling.max_interval``, 30 min): from hot to cold
in five quiet polls, about an hour. A target without a new comment for ``retire_after``
(``polling.retire_after``, 30 days) since it was last found hot, or since it was added, is
retired: not polled until ``targets add`` revives it. A target whose last poll found no new
comment for :data:`DORMANT_AFTER` (2 days) since the last one is *dormant*: still polled, but a
tight budget may stretch it further than the others (:func:`~worker.targets.budget.fit`).
Times are passed in (``now``), so the scheduler, the tests and ``bench/polling_sim.py`` drive
the same code on any clock.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from typing import Literal

from worker.config import PollingConfig

TargetState = Literal["hot", "cold", "retired", "gone", "removed"]

#: Factor an interval grows by after a poll that found nothing new.
STRETCH = 2.0
#: Time constant (seconds) of a target's estimated comment rate: comments found decay with it.
RATE_WINDOW = 6 * 3600.0
#: A target's rate is taken as at least one comment per this many of its current intervals
#: (the temperature as a prior: a target just found hot is presumed active, a new one too).
PRIOR_INTERVALS = 10.0
#: A target without a new comment for this long (seconds) at its last poll is dormant: it
#: carries few comments, so a tight budget stretches it past the floor the others keep.
DORMANT_AFTER = 2 * 86400.0


@dataclass(frozen=True, slots=True, kw_only=True)
class PollPolicy:
    interval: float = 60.0
    max_interval: float = 1800.0
    retire_after: float = 30 * 86400.0
    stretch: float = STRETCH
    full_pass_interval: float = 900.0

    @classmethod
    def from_config(cls, polling: PollingConfig) -> PollPolicy:
        return cls(
            interval=polling.interval,
            max_interval=max(polling.max_interval, polling.interval),
            retire_after=polling.retire_after,
            full_pass_interval=polling.full_pass_interval,
        )


@dataclass(frozen=True, slots=True, kw_only=True)
class Temperature:
    """Where one target stands: its current interval and when it last had news."""

    interval: float
    last_new: float  # when a poll last found new comments, or when the target was added
    retired: bool = False
    rate: float = 0.0  # comments found per second, decayed over RATE_WINDOW
    rated_at: float | None = None  # when ``rate`` was last updated (None: never polled)

    def weight(self) -> float:
        """The comment rate the budget is shared by (:func:`~worker.targets.budget.fit`):
        the estimated rate, at least one comment per :data:`PRIOR_INTERVALS` intervals."""
        return max(self.rate, 1.0 / (PRIOR_INTERVALS * self.interval))

    @property
    def dormant(self) -> bool:
        """Its last poll came :data:`DORMANT_AFTER` or more after its last new comment (or
        after it was added); a target not polled since is not dormant."""
        return self.rated_at is not None and self.rated_at - self.last_new >= DORMANT_AFTER


def fresh(policy: PollPolicy, now: float) -> Temperature:
    """A target just added, discovered or revived: hot, its retirement clock started."""
    return Temperature(interval=policy.interval, last_new=now)


def after_poll(
    policy: PollPolicy, temperature: Temperature, *, now: float, new_comments: int
) -> Temperature:
    """The temperature after a poll that found ``new_comments`` new comments at ``now``."""
    rate = decayed_rate(temperature, now=now, new_comments=new_comments)
    if new_comments > 0:
        return Temperature(interval=policy.interval, last_new=now, rate=rate, rated_at=now)
    longer = max(temperature.interval, policy.interval) * policy.stretch
    stretched = min(policy.max_interval, longer)
    return replace(
        temperature,
        interval=stretched,
        retired=now - temperature.last_new >= policy.retire_after,
        rate=rate,
        rated_at=now,
    )


def decayed_rate(temperature: Temperature, *, now: float, new_comments: int) -> float:
    """The target's comment rate after a poll: the comments found so far, each weighted by
    ``exp(-age / RATE_WINDOW)``, over ``RATE_WINDOW`` (comments per second)."""
    elapsed = 0.0 if temperature.rated_at is None else max(0.0, now - temperature.rated_at)
    return temperature.rate * math.exp(-elapsed / RATE_WINDOW) + new_comments / RATE_WINDOW


def state_of(policy: PollPolicy, temperature: Temperature) -> TargetState:
    """hot while the interval is below ``max_interval``, cold at it, retired when retired."""
    if temperature.retired:
        return "retired"
    return "cold" if temperature.interval >= policy.max_interval else "hot"


def full_pass_interval(policy: PollPolicy, temperature: Temperature) -> float:
    """WeChat full passes follow the target's temperature: ``full_pass_interval`` while hot,
    stretched by as much as the poll interval is."""
    return policy.full_pass_interval * max(1.0, temperature.interval / policy.interval)
