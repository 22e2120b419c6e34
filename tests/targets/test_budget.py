"""The poll budget: a share of what remains, spread to the reset; cold targets stretch first."""

from __future__ import annotations

import pytest

from worker.targets.budget import COLD_STRETCH, Budget, fit


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
    wanted = {"a": (60.0, True), "b": (1800.0, False)}
    assert fit(wanted, rate=1.0) == {"a": 60.0, "b": 1800.0}


def test_fit_stretches_cold_targets_first() -> None:
    wanted = {"hot": (60.0, True), "c1": (1800.0, False), "c2": (1800.0, False)}
    rate = 1 / 60 + 1 / 1800  # room for the hot one and half the cold demand
    got = fit(wanted, rate)
    assert got["hot"] == 60.0
    assert got["c1"] == pytest.approx(3600) and got["c2"] == got["c1"]
    assert sum(1 / i for i in got.values()) == pytest.approx(rate)


def test_fit_stretches_everything_once_cold_targets_are_stretched_enough() -> None:
    wanted = {"h1": (60.0, True), "h2": (60.0, True), "c": (1800.0, False)}
    got = fit(wanted, rate=1 / 120)
    assert sum(1 / i for i in got.values()) == pytest.approx(1 / 120)
    assert got["h1"] == got["h2"] > 60
    assert got["c"] / 1800 == pytest.approx(COLD_STRETCH * got["h1"] / 60)  # not starved
    assert fit(wanted, rate=0) == {k: float("inf") for k in wanted}
