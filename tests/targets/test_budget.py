"""The poll budget: a share of what remains, spread to the reset; quiet targets stretch first."""

from __future__ import annotations

import pytest

from worker.targets.budget import DORMANT_CAP, FLOOR, Budget, fit


def test_rate_spreads_the_share_of_what_remains() -> None:
    budget = Budget(limit=10_000, used=2_000, measured_at=0.0, reset_at=8 * 3600.0, share=0.5)
    assert budget.remaining == 8_000 and budget.poll_calls == 4_000
    assert budget.rate() == pytest.approx(4_000 / (8 * 3600))


def test_allowance_never_exceeds_the_budget() -> None:
    budget = Budget(limit=100, used=0, measured_at=0.0, reset_at=1000.0, share=0.5)
    assert budget.allowance(now=0.0, spent=0) == 5  # the burst
    assert budget.allowance(now=100.0, spent=5) == pytest.approx(5.0)  # 0.05/s * 100 s
    assert budget.allowance(now=10_000.0, spent=0) == 50  # never more than the share
    assert budget.allowance(now=10_000.0, spent=50) == 0
    empty = Budget(limit=100, used=100, measured_at=0.0, reset_at=1000.0, share=0.5)
    assert empty.allowance(now=500.0, spent=0) == 0


def test_fit_keeps_intervals_the_budget_allows() -> None:
    wanted = {"a": (60.0, 1e-3), "b": (1800.0, 1e-5)}
    assert fit(wanted, rate=1.0) == {"a": 60.0, "b": 1800.0}


def test_fit_shares_a_tight_budget_by_comment_rate_quiet_targets_first() -> None:
    # a busy target (a comment a minute), two quiet ones and a dormant one: the rate has room
    # for less than the wanted intervals ask
    wanted = {"busy": (60.0, 1 / 60), "q1": (60.0, 1 / 6000), "q2": (1800.0, 1 / 6000),
              "dormant": (1800.0, 1 / 18000)}
    rate = 1 / 200
    got = fit(wanted, rate, dormant={"dormant"})
    assert sum(1 / i for i in got.values()) == pytest.approx(rate)
    assert got["busy"] < got["q1"] < got["dormant"]  # the quiet ones gave way
    even = len(wanted) / rate
    assert got["q1"] == pytest.approx(FLOOR * even)  # but no further than fixed polling
    assert got["q2"] == 1800.0 > even  # one that asks for longer keeps it
    assert got["dormant"] <= DORMANT_CAP * even  # nor a dormant one unboundedly
    assert fit(wanted, rate=0) == {k: float("inf") for k in wanted}


def test_fit_never_stretches_a_target_that_is_not_dormant_past_the_even_interval() -> None:
    """Nine quiet targets and a busy one on a tight budget. Before the floor, the quiet ones
    went to four even intervals (their comments waited up to four times what fixed polling
    would make them wait) so that the busy one got the rest."""
    rate = 1 / 100
    wanted = {"busy": (60.0, 1.0), **{f"q{n}": (60.0, 1e-9) for n in range(9)}}
    got = fit(wanted, rate)
    even = len(wanted) / rate
    assert max(got.values()) <= FLOOR * even * (1 + 1e-9)
    assert sum(1 / i for i in got.values()) == pytest.approx(rate)


def test_fit_shares_what_dormant_targets_free_as_the_inverse_comment_rate() -> None:
    """Below the floor, the busy targets share the rate the dormant ones give up, each
    interval as the inverse of its comment rate."""
    dormant = {f"d{n}": (1800.0, 1e-9) for n in range(6)}
    wanted = {"a": (60.0, 3e-3), "b": (60.0, 1.5e-3), "c": (60.0, 2e-3), **dormant}
    got = fit(wanted, rate=1 / 1000, dormant=set(dormant))
    assert got["b"] / got["a"] == pytest.approx(2.0)
    assert got["c"] / got["a"] == pytest.approx(1.5)
    assert max(got["a"], got["b"], got["c"]) < FLOOR * len(wanted) * 1000
    assert sum(1 / i for i in got.values()) == pytest.approx(1 / 1000)


def test_fit_caps_the_dormant_targets_and_gives_the_rest_to_the_busy_ones() -> None:
    rate = 1 / 100
    wanted = {"busy": (60.0, 1.0), **{f"q{n}": (60.0, 1e-9) for n in range(9)}}
    got = fit(wanted, rate, dormant={f"q{n}" for n in range(9)})
    cap = DORMANT_CAP * len(wanted) / rate
    assert all(got[f"q{n}"] == pytest.approx(cap) for n in range(9))  # never unbounded
    assert sum(1 / i for i in got.values()) == pytest.approx(rate)
    assert got["busy"] == pytest.approx(1 / (rate - 9 / cap))
