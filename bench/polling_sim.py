"""Polling simulation: a week in virtual time, adaptive scheduling against fixed intervals.

It drives the real scheduling code (:class:`worker.targets.planner.Planner`, the adaptive
policy :mod:`worker.targets.policy` and the budget :mod:`worker.targets.budget`, exactly as
the scheduler calls them) on a virtual clock: no sleeps, no Redis, no HTTP. What it models
in their place: when comments arrive, and what a poll of a target finds.

Workload (seeded): each day 4 WeChat articles (published 08:00-20:00) and 3 Weibo posts
(09:00-22:00), each drawing a Poisson number of comments (mean 120); 85 % of a target's
comments arrive with a half-life of 6 h after publication, 15 % with a half-life of 3 days
(the long tail). A poll lists every comment of its target created before it; a comment's
latency is from its creation to the first poll that lists it. A poll costs one call per
49 new comments, at least one.

All schedulers get the same daily list budget (``--budget`` calls a day) and watch the same
targets (those published in the last 14 days, ``discover: 14d``; the week starts in steady
state, with 14 days of articles and posts behind it):

- adaptive: the planner with the default policy (60 s hot, x2 per quiet poll up to 30 min
  cold, retired after 30 d; a tight budget shared by each target's comment rate, none
  stretched past the even interval but the dormant ones, those to three times it:
  :func:`worker.targets.budget.fit`), the budget re-measured every 5 min as
  ``quota.poll_share`` of what remains (the daily limit is ``budget / poll_share``), spread
  to the daily reset;
- fixed: every target polled at one interval from its publication until it ages out, the
  interval that spends each day's budget evenly over the target-time watched that day
  (what an operator would tune by hand, knowing the future count), 2 % kept for the extra
  pages of busy polls;
- fixed-60s: what the daemon did before: every target at ``polling.interval`` (60 s) until
  the daily limit answers 45009, then nothing until the reset.

Printed per scheduler: comments, p50 and p99 latency, calls used per day (mean, max), days
over budget (a day with a call past the budget: a 45009). Comments that arrive after their
target aged out of the window are never listed (0.5 % of them, the same for every scheduler)
and count with their wait to the end of the week. The goal: adaptive p99 no worse than
fixed, its p50 as low as that allows, no day over budget (README.md: why the issue's first
goal, p50 5x and p99 2x lower, cannot be met on this workload).

    .venv/bin/python bench/polling_sim.py
    .venv/bin/python bench/polling_sim.py --days 3 --budget 3000 --seed 2
"""

from __future__ import annotations

import argparse
import bisect
import math
import random
import statistics
from collections.abc import Iterator
from dataclasses import dataclass, field

from worker.targets.budget import Budget
from worker.targets.planner import AccountBudget, Planner, PlanTarget
from worker.targets.policy import STRETCH, PollPolicy, Temperature, after_poll, fresh

DAY = 86400.0
HOUR = 3600.0
PAGE = 49
REMEASURE = 300.0  # quota.refresh
POLL_SHARE = 0.5
TICK = 0.25  # the scheduler's tick
WINDOW = 14  # days: discover: 14d
FIXED_SPEND = 0.98  # fixed polls spend this share of the budget: the rest pays extra pages


@dataclass
class SimTarget:
    key: str
    published: float
    arrivals: list[float]  # creation times, sorted
    listed_upto: int = 0  # arrivals[:listed_upto] were listed
    latencies: list[float] = field(default_factory=list)

    def poll(self, now: float) -> tuple[int, int]:
        """(new comments, calls) of a poll at ``now``."""
        upto = bisect.bisect_right(self.arrivals, now)
        new = upto - self.listed_upto
        for created in self.arrivals[self.listed_upto:upto]:
            self.latencies.append(now - created)
        self.listed_upto = upto
        return new, max(1, math.ceil(new / PAGE))


def workload(days: int, seed: int, *, tail_share: float = 0.15,
             tail_half_life: float = 3 * DAY) -> list[SimTarget]:
    """The targets published from WINDOW days before the week to its end (the week starts
    in steady state: the account has been publishing, and discovery watches WINDOW days);
    comments before the week are taken as listed already."""
    rng = random.Random(seed)
    targets: list[SimTarget] = []
    for day in range(-WINDOW, days):
        for n, (start, end) in enumerate([(8, 20)] * 4 + [(9, 22)] * 3):
            published = day * DAY + rng.uniform(start, end) * HOUR
            count = _poisson(rng, 120)
            arrivals = sorted(
                published + rng.expovariate(math.log(2) / (
                    tail_half_life if rng.random() < tail_share else 6 * HOUR))
                for _ in range(count)
            )
            kind = "wechat" if n < 4 else "weibo"
            target = SimTarget(key=f"{kind}:{day}:{n}", published=published, arrivals=arrivals)
            target.listed_upto = bisect.bisect_right(arrivals, 0.0)
            targets.append(target)
    return targets


def _poisson(rng: random.Random, mean: float) -> int:
    return max(0, round(rng.gauss(mean, math.sqrt(mean))))


@dataclass
class Result:
    name: str
    latencies: list[float]
    calls_per_day: list[int]
    budget: int
    note: str = ""

    def line(self) -> tuple[str, float, float]:
        lat = sorted(self.latencies)
        p50 = lat[len(lat) // 2]
        p99 = lat[min(len(lat) - 1, int(len(lat) * 0.99))]
        over = sum(1 for c in self.calls_per_day if c > self.budget)
        return (
            f"{self.name:9s} comments {len(lat):6d}  p50 {_fmt(p50):>8s}  p99 {_fmt(p99):>8s}  "
            f"calls/day mean {statistics.mean(self.calls_per_day):7.0f} max "
            f"{max(self.calls_per_day):6d}  days over budget {over}"
        ), p50, p99


def _fmt(seconds: float) -> str:
    if seconds < 120:
        return f"{seconds:.0f}s"
    if seconds < 4 * HOUR:
        return f"{seconds / 60:.1f}min"
    return f"{seconds / HOUR:.1f}h"


def run_adaptive(targets: list[SimTarget], days: int, budget: int, seed: int,
                 policy: PollPolicy) -> Result:
    planner = Planner(policy, jitter=0.1)
    limit = int(budget / POLL_SHARE)
    temps: dict[str, Temperature] = {}
    last_poll: dict[str, float | None] = {}
    next_poll: dict[str, float | None] = {}
    by_key = {t.key: t for t in targets}
    pending = sorted((t for t in targets if t.published > 0), key=lambda t: t.published)
    for target in targets:
        if target.published <= 0:  # watched before the week: as the last quiet poll left it
            before = target.arrivals[:target.listed_upto]
            last = before[-1] if before else target.published
            temps[target.key] = Temperature(
                interval=min(policy.max_interval, max(policy.interval, -last)), last_new=last
            )
            next_poll[target.key] = None
            last_poll[target.key] = None
    calls_per_day = [0] * days
    account: AccountBudget | None = None
    measured_at = -REMEASURE
    now = 0.0
    end = days * DAY
    while now < end:
        day = int(now // DAY)
        while pending and pending[0].published <= now:
            target = pending.pop(0)  # `targets add` right after the mass send
            temps[target.key] = fresh(policy, now)
            next_poll[target.key] = None
            last_poll[target.key] = None
        for key in [k for k in temps if by_key[k].published < now - WINDOW * DAY]:
            del temps[key], next_poll[key], last_poll[key]  # aged out of the discovery window
        if now - measured_at >= REMEASURE or account is None or int(measured_at // DAY) != day:
            new = Budget(limit=limit, used=calls_per_day[day], measured_at=now,
                         reset_at=(day + 1) * DAY, share=POLL_SHARE, polled=calls_per_day[day])
            carry = (5.0 if account is None or int(measured_at // DAY) != day
                     else account.budget.carry(now=now, spent=account.spent))
            account = AccountBudget(budget=new, spent=0.0, carry=carry)
            measured_at = now
        plan_targets = [PlanTarget(tkey=k, temperature=temps[k], last_poll=last_poll[k])
                        for k in temps]
        for poll in planner.plan(plan_targets, account, now=now):
            found, calls = by_key[poll.tkey].poll(now)
            calls_per_day[day] += calls
            account = AccountBudget(budget=account.budget, spent=account.spent + calls,
                                    carry=account.carry)
            next_poll[poll.tkey] = poll.next_poll
            last_poll[poll.tkey] = now
            temps[poll.tkey] = after_poll(policy, temps[poll.tkey], now=now,
                                          new_comments=found)
        intervals = planner.intervals(
            [PlanTarget(tkey=k, temperature=temps[k], last_poll=last_poll[k]) for k in temps],
            account,
        )
        for key, interval in intervals.items():
            polled_at = last_poll[key]
            next_poll[key] = None if polled_at is None else polled_at + interval
        now = _next_tick(now, next_poll, pending, measured_at, account)
    return Result("adaptive", _latencies(targets, end), calls_per_day, budget)


def _next_tick(
    now: float, next_poll: dict[str, float | None], pending: list[SimTarget],
    measured_at: float, account: AccountBudget,
) -> float:
    """The next tick at which anything can happen (the scheduler ticks every TICK; the ticks
    in between would change nothing, so they are skipped)."""
    candidates = [measured_at + REMEASURE, (now // DAY + 1) * DAY]
    if pending:
        candidates.append(pending[0].published)
    due = [t for t in next_poll.values() if t is not None and t != math.inf]
    if any(t is None for t in next_poll.values()):
        due.append(now)
    if due:
        soonest = min(due)
        allowance = account.allowance(now)
        if allowance < 1 and account.budget.rate() > 0:
            soonest = max(soonest, now + (1 - allowance) / account.budget.rate())
        candidates.append(soonest)
    step = max(TICK, min(candidates) - now)
    return now + math.ceil(step / TICK) * TICK


def run_fixed(targets: list[SimTarget], days: int, budget: int) -> Result:
    """Every watched target polled at one interval, each at its own phase from its
    publication, until it ages out of the window as under adaptive: the interval that spends
    each day's budget evenly over the target-time watched that day (what an operator would
    tune by hand, knowing the future count), spending :data:`FIXED_SPEND` of it (the rest
    pays the extra pages of busy polls)."""
    calls_per_day = [0] * days
    intervals: list[float] = []
    end = days * DAY
    for day in range(days):
        start, stop = day * DAY, (day + 1) * DAY
        spans = {t.key: (max(start, t.published), min(stop, t.published + WINDOW * DAY))
                 for t in targets}
        live = [t for t in targets if spans[t.key][0] < spans[t.key][1]]
        watched = sum(spans[t.key][1] - spans[t.key][0] for t in live)
        if not live:
            continue
        interval = watched / (budget * FIXED_SPEND)
        intervals.append(interval)
        for target in live:
            first_at, last_at = spans[target.key]
            steps = math.ceil((first_at - target.published) / interval)
            for at in _frange(target.published + steps * interval, min(last_at, end), interval):
                _, calls = target.poll(at)
                calls_per_day[day] += calls
    note = f"fixed interval {statistics.mean(intervals) / 60:.1f} min (mean of the days)"
    return Result("fixed", _latencies(targets, end), calls_per_day, budget, note)


def run_fixed_until_limit(
    targets: list[SimTarget], days: int, budget: int, interval: float
) -> Result:
    """What the daemon did before this scheduler: every target at ``polling.interval`` until
    the daily limit answers 45009, then nothing until the reset (the quota pause)."""
    calls_per_day = [0] * days
    end = days * DAY
    for day in range(days):
        start, stop = day * DAY, (day + 1) * DAY
        events: list[tuple[float, int]] = []
        live = [t for t in targets if (day - WINDOW) * DAY <= t.published < stop]
        for n, target in enumerate(live):
            first = target.published + math.ceil(
                max(0.0, start - target.published) / interval) * interval
            aged_out = target.published + WINDOW * DAY
            events.extend((t, n) for t in _frange(first, min(stop, end, aged_out), interval))
        events.sort()
        for at, n in events:
            if calls_per_day[day] >= budget:
                calls_per_day[day] += 1  # the call answered 45009: paused until the reset
                break
            _, calls = live[n].poll(at)
            calls_per_day[day] += calls
    return Result("fixed-60s", _latencies(targets, end), calls_per_day, budget)


def _frange(start: float, stop: float, step: float) -> Iterator[float]:
    t = start
    while t < stop:
        yield t
        t += step


def _latencies(targets: list[SimTarget], end: float) -> list[float]:
    """Listed comments' latencies, and for comments never listed the time to the end."""
    out: list[float] = []
    for target in targets:
        out.extend(target.latencies)
        out.extend(end - created for created in target.arrivals[target.listed_upto:]
                   if 0 <= created < end)
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--days", type=int, default=7)
    parser.add_argument("--budget", type=int, default=2000, help="list calls a day")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--stretch", type=float, default=STRETCH)
    parser.add_argument("--tail-share", type=float, default=0.15,
                        help="share of comments in the long tail (default 0.15)")
    parser.add_argument("--tail-half-life", type=float, default=3.0,
                        help="the long tail's half-life in days (default 3)")
    parser.add_argument("--max-interval", type=float, default=1800.0)
    args = parser.parse_args(argv)
    policy = PollPolicy(stretch=args.stretch, max_interval=args.max_interval)
    print(f"{args.days} days, 4 WeChat articles + 3 Weibo posts a day, budget "
          f"{args.budget} list calls a day, seed {args.seed}")
    tail = {"tail_share": args.tail_share, "tail_half_life": args.tail_half_life * DAY}
    adaptive = run_adaptive(workload(args.days, args.seed, **tail), args.days, args.budget,
                            args.seed, policy)
    fixed = run_fixed(workload(args.days, args.seed, **tail), args.days, args.budget)
    until_limit = run_fixed_until_limit(workload(args.days, args.seed, **tail), args.days,
                                        args.budget, policy.interval)
    a_line, a50, a99 = adaptive.line()
    print(a_line)
    for other in (fixed, until_limit):
        line, p50, p99 = other.line()
        print(line)
    print(fixed.note)
    for other in (fixed, until_limit):
        _, p50, p99 = other.line()
        print(f"adaptive vs {other.name}: p50 {p50 / a50:.2f}x lower, "
              f"p99 {a99 / p99:.2f} of {other.name}'s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
