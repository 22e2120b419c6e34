from __future__ import annotations

import threading
import time

import pytest
import redis

from tests.pipeline.conftest import FakeClock
from worker.pipeline.keys import ActionKey, Keys
from worker.pipeline.ledger import ActionLedger

KEY = ActionKey(platform="wechat", account="main", target="1:0", comment="42", action="delete")


@pytest.fixture
def ledger(redis_client: redis.Redis, clock: FakeClock) -> ActionLedger:
    return ActionLedger(redis=redis_client, retention=30 * 86400.0, clock=clock)


def test_claim_then_done(ledger: ActionLedger) -> None:
    first = ledger.claim(KEY, ttl=30)
    assert first and first.status == "claimed" and first.lease is not None
    second = ledger.claim(KEY, ttl=30)
    assert not second and second.status == "busy"
    assert not ledger.is_done(KEY)
    assert ledger.mark_done(KEY, "ok", lease=first.lease)
    assert ledger.is_done(KEY)
    third = ledger.claim(KEY, ttl=30)
    assert not third and third.status == "done"


def test_done_marker_kept_for_the_retention(
    ledger: ActionLedger, redis_client: redis.Redis, clock: FakeClock
) -> None:
    ledger.mark_done(KEY, "already_done", detail={"errcode": 88008})
    record = ledger.get_done(KEY)
    assert record is not None
    assert record.outcome == "already_done" and record.at == clock.now
    ttl = redis_client.ttl(Keys().done(KEY))
    assert 29 * 86400 < ttl <= 30 * 86400


def test_first_done_marker_wins(ledger: ActionLedger) -> None:
    assert ledger.mark_done(KEY, "ok")
    assert not ledger.mark_done(KEY, "already_done")
    record = ledger.get_done(KEY)
    assert record is not None and record.outcome == "ok"


def test_release_lets_another_delivery_claim(ledger: ActionLedger) -> None:
    result = ledger.claim(KEY, ttl=30)
    assert result.lease is not None
    assert ledger.release(result.lease)
    assert not ledger.release(result.lease)
    assert ledger.claim(KEY, ttl=30)


def test_lease_of_a_dead_holder_expires(ledger: ActionLedger) -> None:
    dead = ledger.claim(KEY, ttl=0.05)
    assert dead.lease is not None
    deadline = time.monotonic() + 10
    while not (taken := ledger.claim(KEY, ttl=30)):
        assert time.monotonic() < deadline, "the lease never expired"
        time.sleep(0.01)
    # The dead holder wakes up: it can neither release nor extend the new lease.
    assert not ledger.release(dead.lease)
    assert not ledger.renew(dead.lease, ttl=30)
    assert ledger.claim(KEY, ttl=30).status == "busy"
    # But its confirmed effect is still recorded, and the new holder's lease is left alone.
    assert ledger.mark_done(KEY, "ok", lease=dead.lease)
    assert taken.lease is not None and ledger.release(taken.lease)


def test_renew_extends_a_held_lease(ledger: ActionLedger, redis_client: redis.Redis) -> None:
    result = ledger.claim(KEY, ttl=1)
    assert result.lease is not None
    assert ledger.renew(result.lease, ttl=100)
    assert redis_client.pttl(Keys().lease(KEY)) > 50_000


def test_twenty_threads_one_winner(redis_client: redis.Redis, redis_server: object) -> None:
    ledger = ActionLedger(redis=redis_client)
    barrier = threading.Barrier(20)
    results: list[str] = []
    lock = threading.Lock()

    def contend() -> None:
        barrier.wait()
        status = ledger.claim(KEY, ttl=30).status
        with lock:
            results.append(status)

    threads = [threading.Thread(target=contend) for _ in range(20)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(results) == ["busy"] * 19 + ["claimed"]


def test_lease_of_another_key_is_refused(ledger: ActionLedger) -> None:
    result = ledger.claim(KEY, ttl=30)
    assert result.lease is not None
    other = ActionKey(platform="wechat", account="main", target="1:0", comment="43",
                      action="delete")
    with pytest.raises(ValueError):
        ledger.mark_done(other, "ok", lease=result.lease)


def test_disabled_actions(ledger: ActionLedger) -> None:
    assert not ledger.is_disabled("main", "blacklist")
    ledger.disable_action("main", "blacklist", "48001 api unauthorized")
    ledger.disable_action("a:b", "reply", "88000 没有留言权限")
    assert ledger.is_disabled("main", "blacklist")
    assert not ledger.is_disabled("main", "reply")
    assert not ledger.is_disabled("a", "b:reply")
    listed = ledger.disabled_actions()
    assert [(d.account, d.action, d.reason) for d in listed] == [
        ("a:b", "reply", "88000 没有留言权限"),
        ("main", "blacklist", "48001 api unauthorized"),
    ]
    assert ledger.clear_disabled() == 2
    assert not ledger.is_disabled("main", "blacklist")
    assert ledger.disabled_actions() == []
