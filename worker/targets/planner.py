"""Which targets to poll now: the scheduler's decisions, on any clock. Pure.

The scheduler (every tick, on the wall clock) and ``bench/polling_sim.py`` (a simulated week
in virtual time) both call :meth:`Planner.plan` with the targets of one account, their
temperatures and next poll times, and the account's budget; it answers the polls to send now
and when each target is next due:

1. retired targets are not polled;
2. the intervals the temperatures ask for are fitted to the budget's rate (shared by each
   target's comment rate, quiet targets stretched first, none past the even interval but
   dormant ones: :func:`~worker.targets.budget.fit`), and jittered;
3. due targets are polled latest first (by how long they have waited, in their own
   intervals: busy targets cannot starve a quiet one) while the budget's allowance (a bucket
   filled at its rate, never above what the budget allows in all) holds a call; a due target
   the allowance cannot pay for stays due and goes first at a later tick.
"""

from __future__ import annotations

import zlib
from collections.abc import Sequence
from dataclasses import dataclass

from worker.targets.budget import Budget, ceiling, fit
from worker.targets.policy import PollPolicy, Temperature


@dataclass(frozen=True, slots=True, kw_only=True)
class PlanTarget:
    tkey: str
    temperature: Temperature
    last_poll: float | None  # when its last poll was sent; None: never, due now


@dataclass(frozen=True, slots=True, kw_only=True)
class Poll:
    tkey: str
    next_poll: float  # when this target is next due, as the intervals stand now


@dataclass(frozen=True, slots=True, kw_only=True)
class AccountBudget:
    budget: Budget
    spent: float  # poll calls made since the budget was measured
    carry: float  # calls left unspent from the measurement before (the bucket's start)

    def allowance(self, now: float) -> float:
        return self.budget.allowance(now=now, spent=self.spent, burst=self.carry)


class Planner:
    def __init__(self, policy: PollPolicy, *, jitter: float = 0.0) -> None:
        self.policy = policy
        self.jitter = jitter

    def intervals(
        self, targets: Sequence[PlanTarget], budget: AccountBudget | None
    ) -> dict[str, float]:
        """The interval each polled target gets: what its temperature asks, fitted to the
        budget's rate, jittered (by a fraction fixed per target and poll, so that a target's
        due time does not move from tick to tick; one at the floor only earlier)."""
        wanted = {
            t.tkey: (t.temperature.interval, t.temperature.weight())
            for t in targets if not t.temperature.retired
        }
        dormant = {t.tkey for t in targets if t.temperature.dormant}
        last = {t.tkey: t.last_poll for t in targets}
        if budget is None:
            return {key: self._jittered(interval, key, last[key])
                    for key, (interval, _) in wanted.items()}
        rate = budget.budget.rate()
        intervals: dict[str, float] = {}
        for key, interval in fit(wanted, rate, dormant).items():
            jittered = self._jittered(interval, key, last[key])
            longest = ceiling(len(wanted), rate, dormant=key in dormant)
            # a target the budget stretched to its floor is jittered earlier, never past it
            at_floor = wanted[key][0] < interval >= longest
            intervals[key] = min(jittered, longest) if at_floor else jittered
        return intervals

    def plan(
        self, targets: Sequence[PlanTarget], budget: AccountBudget | None, *, now: float
    ) -> list[Poll]:
        """The polls to send at ``now``, latest first (:func:`_overdue`). A target is due
        one interval after its last poll, the interval as the budget stands now (a target
        stretched by a tight budget comes back as soon as the budget recovers)."""
        intervals = self.intervals(targets, budget)
        due = sorted(
            (t for t in targets
             if t.tkey in intervals
             and (t.last_poll is None or t.last_poll + intervals[t.tkey] <= now)),
            key=lambda t: (-_overdue(t, intervals[t.tkey], now), intervals[t.tkey], t.tkey),
        )
        allowance = budget.allowance(now) if budget is not None else float("inf")
        polls: list[Poll] = []
        for target in due:
            if allowance < 1:
                break
            allowance -= 1
            polls.append(Poll(tkey=target.tkey, next_poll=now + intervals[target.tkey]))
        return polls

    def _jittered(self, interval: float, tkey: str, last_poll: float | None) -> float:
        if self.jitter <= 0 or interval == float("inf"):
            return interval
        spread = zlib.crc32(f"{tkey}@{last_poll}".encode()) / 0xFFFFFFFF  # 0..1, stable
        return interval * (1 + self.jitter * (2 * spread - 1))


def _overdue(target: PlanTarget, interval: float, now: float) -> float:
    """How late ``target`` is, in its own intervals: 1 when just due, 2 when it has waited
    twice its interval; a target never polled is the latest of all."""
    if target.last_poll is None:
        return float("inf")
    return (now - target.last_poll) / interval
