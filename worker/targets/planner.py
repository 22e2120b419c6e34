"""Which targets to poll now: the scheduler's decisions, on any clock. Pure.

The scheduler (every tick, on the wall clock) and ``bench/polling_sim.py`` (a simulated week
in virtual time) both call :meth:`Planner.plan` with the targets of one account, their
temperatures and next poll times, and the account's budget; it answers the polls to send now
and when each target is next due:

1. retired targets are not polled;
2. the intervals the temperatures ask for are fitted to the budget's rate (cold targets
   stretched first, :func:`~worker.targets.budget.fit`), and jittered;
3. due targets are polled hottest first while the budget's allowance (a bucket filled at its
   rate, never above what the budget allows in all) holds a call; a due target the allowance
   cannot pay for stays due and goes first at a later tick.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import dataclass

from worker.targets.budget import Budget, fit
from worker.targets.policy import PollPolicy, Temperature, state_of


@dataclass(frozen=True, slots=True, kw_only=True)
class PlanTarget:
    tkey: str
    temperature: Temperature
    next_poll: float | None  # None: never scheduled, due now


@dataclass(frozen=True, slots=True, kw_only=True)
class Poll:
    tkey: str
    next_poll: float  # when this target is next due, this poll included


@dataclass(frozen=True, slots=True, kw_only=True)
class AccountBudget:
    budget: Budget
    spent: float  # poll calls made since the budget was measured
    carry: float  # calls left unspent from the measurement before (the bucket's start)

    def allowance(self, now: float) -> float:
        return self.budget.allowance(now=now, spent=self.spent, burst=self.carry)


class Planner:
    def __init__(self, policy: PollPolicy, *, jitter: float = 0.0,
                 rng: random.Random | None = None) -> None:
        self.policy = policy
        self.jitter = jitter
        self.rng = rng or random.Random()

    def intervals(
        self, targets: Sequence[PlanTarget], budget: AccountBudget | None
    ) -> dict[str, float]:
        """The interval each polled target gets: what its temperature asks, fitted to the
        budget's rate."""
        wanted = {
            t.tkey: (t.temperature.interval, state_of(self.policy, t.temperature) == "hot")
            for t in targets if not t.temperature.retired
        }
        if budget is None:
            return {key: interval for key, (interval, _) in wanted.items()}
        return fit(wanted, budget.budget.rate())

    def plan(
        self, targets: Sequence[PlanTarget], budget: AccountBudget | None, *, now: float
    ) -> list[Poll]:
        """The polls to send at ``now``, hottest (shortest interval) first."""
        intervals = self.intervals(targets, budget)
        due = sorted(
            (t for t in targets
             if t.tkey in intervals and (t.next_poll is None or t.next_poll <= now)),
            key=lambda t: (intervals[t.tkey], t.next_poll or 0.0, t.tkey),
        )
        allowance = budget.allowance(now) if budget is not None else float("inf")
        polls: list[Poll] = []
        for target in due:
            if allowance < 1:
                break
            allowance -= 1
            next_poll = now + self._jittered(intervals[target.tkey])
            polls.append(Poll(tkey=target.tkey, next_poll=next_poll))
        return polls

    def _jittered(self, interval: float) -> float:
        if self.jitter <= 0 or interval == float("inf"):
            return interval
        return interval * (1 + self.rng.uniform(-self.jitter, self.jitter))
