"""The scheduler's decisions on an injected clock: due targets, latest first, the budget."""

from __future__ import annotations

import itertools

import pytest

from worker.targets.budget import FLOOR, Budget
from worker.targets.planner import AccountBudget, Planner, PlanTarget
from worker.targets.policy import DORMANT_AFTER, PollPolicy, Temperature, after_poll, fresh

POLICY = PollPolicy(interval=60, max_interval=1800, retire_after=30 * 86400)


def test_due_targets_latest_first_retired_never() -> None:
    planner = Planner(POLICY)
    targets = [
        PlanTarget(tkey="cold", temperature=Temperature(interval=1800, last_new=0),
                   last_poll=-1750),
        PlanTarget(tkey="hot", temperature=Temperature(interval=60, last_new=90), last_poll=40),
        PlanTarget(tkey="later", temperature=Temperature(interval=60, last_new=0), last_poll=90),
        PlanTarget(tkey="new", temperature=fresh(POLICY, 0), last_poll=None),
        PlanTarget(tkey="old", temperature=Temperature(interval=1800, last_new=0, retired=True),
                   last_poll=None),
    ]
    polls = planner.plan(targets, None, now=100.0)
    # never polled first, then by how late in their own intervals (cold: 1850 s of 1800)
    assert [p.tkey for p in polls] == ["new", "cold", "hot"]
    assert [p.next_poll for p in polls] == [160.0, 1900.0, 160.0]


def test_a_tight_budget_stretches_dormant_targets_then_cold_ones_no_further_than_fixed() -> None:
    planner = Planner(POLICY)
    # 100 poll calls for the day (share 0.5 of 200): room for about one hot target at 1/864 s
    budget = Budget(limit=200, used=0, measured_at=0.0, reset_at=86400.0, share=0.5)
    targets = [
        PlanTarget(tkey="hot", temperature=fresh(POLICY, 0), last_poll=None),
        PlanTarget(tkey="cold", temperature=Temperature(interval=1800, last_new=0),
                   last_poll=None),
        PlanTarget(tkey="dormant", last_poll=-1800.0, temperature=Temperature(
            interval=1800, last_new=-DORMANT_AFTER - 1800, rated_at=-1800.0)),
    ]
    intervals = planner.intervals(targets, AccountBudget(budget=budget, spent=0, carry=5))
    assert sum(1 / i for i in intervals.values()) <= budget.rate() * 1.000001
    even = len(targets) / budget.rate()
    # the dormant one stretches furthest, the cold one to fixed polling's interval
    assert intervals["hot"] < intervals["cold"] < intervals["dormant"]
    assert intervals["cold"] == pytest.approx(even)


def test_a_simulated_day_never_spends_more_than_the_budget() -> None:
    """Twenty targets, new comments on five of them all day, a daily limit of 300 and
    re-measuring every 5 minutes as the scheduler does: polls stay within the share, and
    what remains for actions never reaches zero."""
    planner = Planner(POLICY, jitter=0.1)
    limit, share, actions = 300, 0.5, 0
    temps = {f"t{i}": fresh(POLICY, 0.0) for i in range(20)}
    last_poll: dict[str, float | None] = {k: None for k in temps}
    polls_made = 0
    measured = Budget(limit=limit, used=0, measured_at=0.0, reset_at=86400.0, share=share)
    account = AccountBudget(budget=measured, spent=0.0, carry=5.0)
    for tick in range(0, 86400, 5):
        now = float(tick)
        if tick % 300 == 0 and tick:
            used = polls_made + actions
            new = Budget(limit=limit, used=used, measured_at=now, reset_at=86400.0, share=share,
                         polled=polls_made)
            account = AccountBudget(
                budget=new, spent=0.0,
                carry=account.budget.carry(now=now, spent=account.spent),
            )
        targets = [PlanTarget(tkey=k, temperature=t, last_poll=last_poll[k])
                   for k, t in temps.items()]
        for poll in planner.plan(targets, account, now=now):
            polls_made += 1
            account = AccountBudget(budget=account.budget, spent=account.spent + 1,
                                    carry=account.carry)
            last_poll[poll.tkey] = now
            busy = int(poll.tkey[1:]) < 5
            temps[poll.tkey] = after_poll(POLICY, temps[poll.tkey], now=now,
                                          new_comments=1 if busy else 0)
            if busy:
                actions += 1  # one action per poll that finds something
        assert polls_made <= share * limit and polls_made + actions < limit
    assert polls_made > 100  # the budget was used, not starved  # the budget was used, not starved


def test_a_target_stretched_by_a_tight_budget_comes_back_when_it_recovers() -> None:
    planner = Planner(POLICY)
    target = PlanTarget(tkey="t", temperature=Temperature(interval=1800, last_new=0),
                        last_poll=0.0)
    tight = Budget(limit=20, used=0, measured_at=0.0, reset_at=86400.0, share=0.5)
    assert planner.plan([target], AccountBudget(budget=tight, spent=0, carry=5), now=1800) == []
    fresh_day = Budget(limit=20_000, used=0, measured_at=1800.0, reset_at=86400.0, share=0.5)
    polls = planner.plan([target], AccountBudget(budget=fresh_day, spent=0, carry=5), now=1800)
    assert [p.tkey for p in polls] == ["t"]


def test_a_target_past_its_interval_goes_before_a_hot_one_just_due() -> None:
    """The allowance holds one call: the target that has waited longest in its own intervals
    gets it, not the hottest, so busy targets cannot starve a quiet one."""
    planner = Planner(POLICY)
    budget = Budget(limit=200, used=0, measured_at=0.0, reset_at=86400.0, share=0.5)
    account = AccountBudget(budget=budget, spent=4.0, carry=5.0)  # one call left at now=0
    hot, quiet = fresh(POLICY, -100.0), Temperature(interval=1800, last_new=-9e5)
    intervals = planner.intervals(
        [PlanTarget(tkey="hot", temperature=hot, last_poll=None),
         PlanTarget(tkey="quiet", temperature=quiet, last_poll=None)], account)
    targets = [  # hot just due, quiet half an interval late
        PlanTarget(tkey="hot", temperature=hot, last_poll=-intervals["hot"]),
        PlanTarget(tkey="quiet", temperature=quiet, last_poll=-1.5 * intervals["quiet"]),
    ]
    assert [p.tkey for p in planner.plan(targets, account, now=0.0)] == ["quiet"]


def test_busy_targets_never_starve_a_quiet_one_past_the_floor() -> None:
    """Eight targets with three new comments at every poll and a quieter one (one comment
    every fourth poll) share a budget far below what the busy ones ask: a simulated day,
    ticking every 5 s. The quiet target is polled at least once per even interval (what
    polling all nine at one interval would give; a tick and a call's refill late at most),
    however much the busy ones would take. Before the floor it waited up to four."""
    planner = Planner(POLICY)
    share, limit = 0.5, 1200  # 600 poll calls a day
    temps = {f"busy{i}": fresh(POLICY, 0.0) for i in range(8)}
    temps["quiet"] = fresh(POLICY, 0.0)
    last_poll: dict[str, float | None] = dict.fromkeys(temps, None)
    quiet_polls: list[float] = []
    longest_even = 0.0
    used = 0
    account = AccountBudget(
        budget=Budget(limit=limit, used=0, measured_at=0.0, reset_at=86400.0, share=share),
        spent=0.0, carry=5.0,
    )
    for tick in range(0, 86400, 5):
        now = float(tick)
        if tick % 300 == 0 and tick:
            measured = Budget(limit=limit, used=used, measured_at=now, reset_at=86400.0,
                              share=share, polled=used)
            account = AccountBudget(budget=measured, spent=0.0,
                                    carry=account.budget.carry(now=now, spent=account.spent))
        if account.budget.rate() > 0:
            longest_even = max(longest_even, len(temps) / account.budget.rate())
        targets = [PlanTarget(tkey=k, temperature=t, last_poll=last_poll[k])
                   for k, t in temps.items()]
        for poll in planner.plan(targets, account, now=now):
            used += 1
            account = AccountBudget(budget=account.budget, spent=account.spent + 1,
                                    carry=account.carry)
            last_poll[poll.tkey] = now
            new = 3
            if poll.tkey == "quiet":
                quiet_polls.append(now)
                new = int(len(quiet_polls) % 4 == 0)
            temps[poll.tkey] = after_poll(POLICY, temps[poll.tkey], now=now, new_comments=new)
    gaps = [b - a for a, b in itertools.pairwise(quiet_polls)]
    assert used <= share * limit
    assert not temps["quiet"].dormant and len(quiet_polls) > 3
    assert max(gaps) <= FLOOR * longest_even + 5 + 86400 / (share * limit)


def test_jitter_never_takes_a_target_past_the_floor() -> None:
    planner = Planner(POLICY, jitter=0.5)
    budget = Budget(limit=200, used=0, measured_at=0.0, reset_at=86400.0, share=0.5)
    account = AccountBudget(budget=budget, spent=0, carry=5)
    targets = [PlanTarget(tkey=f"t{n}", temperature=fresh(POLICY, 0.0), last_poll=n * 7.0)
               for n in range(20)]
    intervals = planner.intervals(targets, account)
    even = len(targets) / budget.rate()
    assert max(intervals.values()) <= FLOOR * even
    assert min(intervals.values()) < 0.9 * even  # jittered, earlier


def test_a_loose_budget_keeps_the_wanted_intervals_jittered_both_ways() -> None:
    planner = Planner(POLICY, jitter=0.5)
    budget = Budget(limit=10_000_000, used=0, measured_at=0.0, reset_at=86400.0, share=0.5)
    targets = [PlanTarget(tkey=f"t{n}", temperature=Temperature(interval=1800, last_new=0),
                          last_poll=n * 7.0) for n in range(20)]
    intervals = planner.intervals(targets, AccountBudget(budget=budget, spent=0, carry=5))
    assert min(intervals.values()) < 1800 < max(intervals.values())
