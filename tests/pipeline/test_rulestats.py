from __future__ import annotations

import pytest
import redis

from tests.pipeline.conftest import FakeClock
from worker.pipeline.rulestats import Hit, RuleStats


@pytest.fixture
def stats(redis_client: redis.Redis, clock: FakeClock) -> RuleStats:
    return RuleStats(redis=redis_client, clock=clock)


def test_hits_outcomes_and_last_hit(stats: RuleStats, clock: FakeClock) -> None:
    stats.record_hit("spam", "enforce", at=100.0)
    stats.record_hit("spam", "enforce", at=300.5)
    stats.record_hit("spam", "shadow", at=200.0)  # out of order: last_hit stays 300.5
    stats.record_outcome("spam", "delete", "ok")
    stats.record_outcome("spam", "delete", "ok")
    stats.record_outcome("spam", "delete", "failed")
    stats.record_outcome("spam", "blacklist", "deferred")
    snap = stats.snapshot()
    assert snap["since"] == 100.0
    assert snap["rules"]["spam"] == {
        "hits": {"enforce": 2, "shadow": 1},
        "after_stop": 0,
        "total": 3,
        "last_hit": 300.5,
        "actions": {"delete": {"ok": 2, "failed": 1}, "blacklist": {"deferred": 1}},
    }


def test_dead_rules_are_listed_with_zero_hits(stats: RuleStats) -> None:
    stats.record_hit("noisy", "shadow", at=1.0)
    snap = stats.snapshot(["noisy", "dead"])
    assert snap["rules"]["dead"] == {
        "hits": {"enforce": 0, "shadow": 0}, "after_stop": 0, "total": 0, "last_hit": None,
        "actions": {},
    }
    assert snap["rules"]["noisy"]["total"] == 1
    # A rule removed from the files keeps its counters until reset.
    assert set(stats.snapshot([])["rules"]) == {"noisy"}


def test_shadow_hits_after_an_enforced_stop_are_counted_apart(stats: RuleStats) -> None:
    stats.record_hit("trial", "shadow", at=1.0)
    stats.record_hit("trial", "shadow", at=2.0, after_stop=True)
    entry = stats.snapshot()["rules"]["trial"]
    assert entry["hits"] == {"enforce": 0, "shadow": 2}
    assert entry["after_stop"] == 1 and entry["total"] == 2


def test_bad_mode_and_reset(stats: RuleStats) -> None:
    with pytest.raises(ValueError):
        stats.record_hit("r", "loud", at=1.0)  # type: ignore[arg-type]
    stats.record_hit("r:1", "enforce", at=1.0)
    stats.record_outcome("r:1", "reply", "dry_run")
    assert stats.snapshot()["rules"]["r:1"]["actions"] == {"reply": {"dry_run": 1}}
    stats.reset()
    assert stats.snapshot() == {"since": None, "rules": {}}


def test_a_page_of_hits_counts_as_one_call_each(stats: RuleStats) -> None:
    stats.record_hits([Hit("spam", "enforce", 300.5), Hit("spam", "enforce", 100.0),
                       Hit("trial", "shadow", 50.0, after_stop=True), Hit("spam", "shadow", 200.0)])
    stats.record_hits([])
    snap = stats.snapshot()
    assert snap["since"] == 300.5  # the first hit recorded
    assert snap["rules"]["spam"]["hits"] == {"enforce": 2, "shadow": 1}
    assert snap["rules"]["spam"]["last_hit"] == 300.5
    assert snap["rules"]["trial"]["after_stop"] == 1 and snap["rules"]["trial"]["total"] == 1
    with pytest.raises(ValueError, match="mode"):
        stats.record_hits([Hit("r", "enforce", 1.0), Hit("r", "loud", 1.0)])  # type: ignore[arg-type]
    assert snap == stats.snapshot()  # nothing of a refused page is counted
