"""Adaptive intervals and retirement, on an injected clock (the policy takes ``now``)."""

from __future__ import annotations

from worker.config import PollingConfig
from worker.targets.policy import (
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
