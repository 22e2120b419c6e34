"""The heartbeat's own logic, on a renew function the test controls."""

from __future__ import annotations

import redis

from worker.pipeline.heartbeat import Heartbeat
from worker.subprocesses import wait_for


def test_a_renewal_that_fails_on_redis_is_tried_again_and_the_lease_kept() -> None:
    failures: list[redis.RedisError] = [redis.ConnectionError("down"), redis.TimeoutError("slow")]
    calls: list[int] = []

    def renew() -> bool:
        calls.append(1)
        if len(calls) <= len(failures):
            raise failures[len(calls) - 1]
        return True

    with Heartbeat(renew, name="test", every=0.01) as beat:
        wait_for(lambda: len(calls) >= 5, timeout=30, what="five renewals")
    assert not beat.lost


def test_a_renewal_that_finds_the_lease_taken_stops_and_says_so() -> None:
    calls: list[int] = []

    def renew() -> bool:
        calls.append(1)
        return len(calls) < 3

    with Heartbeat(renew, name="test", every=0.01) as beat:
        wait_for(lambda: beat.lost, timeout=30, what="the lease found lost")
    assert len(calls) == 3  # no renewal after the loss
