"""The scheduler's decisions on an injected clock: due targets, hottest first, the budget."""

from __future__ import annotations

from worker.targets.budget import Budget
from worker.targets.planner import AccountBudget, Planner, PlanTarget
from worker.targets.policy import PollPolicy, Temperature, after_poll, fresh

POLICY = PollPolicy(interval=60, max_interval=1800, retire_after=30 * 86400)


def test_due_targets_hottest_first_retired_never() -> None:
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
    assert [p.tkey for p in polls] == ["new", "hot", "cold"]  # hottest first
    assert [p.next_poll for p in polls] == [160.0, 160.0, 1900.0]


def test_a_tight_budget_stretches_cold_targets_and_holds_the_rest() -> None:
    planner = Planner(POLICY)
    # 100 poll calls for the day (share 0.5 of 200): room for about one hot target at 1/864 s
    budget = Budget(limit=200, used=0, measured_at=0.0, reset_at=86400.0, share=0.5)
    targets = [
        PlanTarget(tkey="hot", temperature=fresh(POLICY, 0), last_poll=None),
        PlanTarget(tkey="cold", temperature=Temperature(interval=1800, last_new=0),
                   last_poll=None),
    ]
    intervals = planner.intervals(targets, AccountBudget(budget=budget, spent=0, carry=5))
    assert sum(1 / i for i in intervals.values()) <= budget.rate() * 1.000001
    assert intervals["hot"] < intervals["cold"]


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
