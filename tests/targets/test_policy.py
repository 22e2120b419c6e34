"""Adaptive intervals and retirement, on an injected clock (the policy takes ``now``)."""

from __future__ import annotations

import math

import pytest

from worker.config import PollingConfig
from worker.targets.policy import (
    DORMANT_AFTER,
    PRIOR_INTERVALS,
    RATE_WINDOW,
    PollPolicy,
    after_poll,
    fresh,
    full_pass_interval,
    state_of,
)

POLICY = PollPolicy(interval=60, max_interval=1800, retire_after=30 * 86400,
                    full_pass_interval=900)


def test_quiet_polls_double_the_interval_up_to_cold() -> None:
    now = 1_000_000.0
    temp = fresh(POLICY, now)
    assert state_of(POLICY, temp) == "hot"
    intervals = []
    for _ in range(7):
        now += temp.interval
        temp = after_poll(POLICY, temp, now=now, new_comments=0)
        intervals.append(temp.interval)
    assert intervals == [120, 240, 480, 960, 1800, 1800, 1800]
    assert state_of(POLICY, temp) == "cold"
    assert full_pass_interval(POLICY, temp) == 900 * 30


def test_a_new_comment_makes_a_cold_target_hot() -> None:
    temp = fresh(POLICY, 0.0)
    for step in range(1, 10):
        temp = after_poll(POLICY, temp, now=step * 1800.0, new_comments=0)
    assert state_of(POLICY, temp) == "cold"
    temp = after_poll(POLICY, temp, now=20_000.0, new_comments=3)
    assert temp.interval == 60 and temp.last_new == 20_000.0
    assert state_of(POLICY, temp) == "hot"
    assert full_pass_interval(POLICY, temp) == 900


def test_retired_after_retire_after_without_news() -> None:
    temp = fresh(POLICY, 0.0)
    temp = after_poll(POLICY, temp, now=86400.0, new_comments=1)
    day = 86400.0
    temp = after_poll(POLICY, temp, now=86400 + 29 * day, new_comments=0)
    assert not temp.retired
    temp = after_poll(POLICY, temp, now=86400 + 30 * day, new_comments=0)
    assert temp.retired and state_of(POLICY, temp) == "retired"


def test_from_config() -> None:
    policy = PollPolicy.from_config(
        PollingConfig(interval=30, max_interval=600, retire_after=86400, full_pass_interval=60)
    )
    assert (policy.interval, policy.max_interval, policy.retire_after) == (30, 600, 86400)


def test_the_comment_rate_counts_what_polls_found_and_decays() -> None:
    temp = fresh(POLICY, 0.0)
    assert temp.rate == 0.0 and temp.rated_at is None
    temp = after_poll(POLICY, temp, now=60.0, new_comments=12)
    assert temp.rate == pytest.approx(12 / RATE_WINDOW) and temp.rated_at == 60.0
    temp = after_poll(POLICY, temp, now=60.0 + RATE_WINDOW, new_comments=0)
    assert temp.rate == pytest.approx(12 / RATE_WINDOW / math.e)
    temp = after_poll(POLICY, temp, now=60.0 + RATE_WINDOW, new_comments=6)
    assert temp.rate == pytest.approx((12 / math.e + 6) / RATE_WINDOW)


def test_the_weight_is_the_rate_at_least_one_comment_per_prior_intervals() -> None:
    new = fresh(POLICY, 0.0)  # never polled: presumed active, as hot as its interval
    assert new.weight() == pytest.approx(1 / (PRIOR_INTERVALS * 60))
    busy = after_poll(POLICY, new, now=60.0, new_comments=100)
    assert busy.weight() == busy.rate > new.weight()
    quiet = new
    for step in range(1, 20):
        quiet = after_poll(POLICY, quiet, now=step * 1800.0, new_comments=0)
    assert quiet.weight() == pytest.approx(1 / (PRIOR_INTERVALS * 1800))  # cold gives way


def test_dormant_once_a_poll_finds_no_new_comment_for_dormant_after() -> None:
    temp = fresh(POLICY, 0.0)
    assert not temp.dormant  # never polled
    temp = after_poll(POLICY, temp, now=3600.0, new_comments=2)
    temp = after_poll(POLICY, temp, now=3600.0 + DORMANT_AFTER - 1, new_comments=0)
    assert not temp.dormant
    temp = after_poll(POLICY, temp, now=3600.0 + DORMANT_AFTER, new_comments=0)
    assert temp.dormant and not temp.retired  # still polled
    temp = after_poll(POLICY, temp, now=4 * DORMANT_AFTER, new_comments=1)
    assert not temp.dormant  # a new comment wakes it
    assert not fresh(POLICY, 9 * DORMANT_AFTER).dormant  # and so does `targets add`
