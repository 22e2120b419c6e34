from __future__ import annotations

import json
import multiprocessing
import random
import threading
import time

import pytest
import redis

from tests.pipeline import _procs
from tests.pipeline.conftest import FakeClock
from worker.errors import BatchTooLargeError
from worker.pipeline.batches import Batch, BatchBuffer, Completion
from worker.redis_server import EmbeddedRedis


def make_buffer(
    client: redis.Redis, clock: FakeClock, *, account: str = "main", kind: str = "blacklist",
    **kwargs: float,
) -> BatchBuffer:
    return BatchBuffer(
        redis=client, platform="wechat", account=account, kind=kind, max_wait=5.0, lease=60.0,
        clock=clock, **kwargs,  # type: ignore[arg-type]
    )


@pytest.fixture
def buffer(redis_client: redis.Redis, clock: FakeClock) -> BatchBuffer:
    return make_buffer(redis_client, clock)


def ids(n: int, prefix: str = "o") -> list[str]:
    return [f"{prefix}{i:03d}" for i in range(n)]


def drain_all(buffer: BatchBuffer, clock: FakeClock) -> list[Batch]:
    """Claim and complete (as done) until nothing is due, first without then with waiting."""
    batches: list[Batch] = []
    for wait in (False, True):
        if wait:
            clock.advance(buffer.max_wait)
        while (batch := buffer.claim()) is not None:
            batches.append(batch)
            assert buffer.complete(batch.batch_id, batch.ids, owner=batch.owner) is not None
    return batches


@pytest.mark.parametrize(
    ("n", "full", "rest"),
    [(0, 0, 0), (1, 0, 1), (19, 0, 19), (20, 1, 0), (21, 1, 1), (45, 2, 5)],
)
def test_batch_sizes(buffer: BatchBuffer, clock: FakeClock, n: int, full: int, rest: int) -> None:
    added = ids(n)
    for i, item in enumerate(added):
        assert buffer.add(item, now=clock.now + i * 0.001)  # distinct times: FIFO order
    clock.advance(0.1)
    full_batches = []
    while (batch := buffer.claim()) is not None:
        full_batches.append(batch)
    assert [len(b.ids) for b in full_batches] == [20] * full
    assert buffer.pending_count() == rest
    clock.advance(5.0)
    late = buffer.claim()
    if rest:
        assert late is not None and len(late.ids) == rest
        full_batches.append(late)
    else:
        assert late is None
    assert buffer.claim() is None
    claimed = [i for b in full_batches for i in b.ids]
    assert claimed == added  # oldest first, each once
    for b in full_batches:
        assert buffer.complete(b.batch_id, b.ids, owner=b.owner) == Completion(
            done=len(b.ids), failed=0, requeued=0
        )
    assert buffer.done_count() == n
    assert buffer.inflight_count() == 0


def test_duplicate_adds(buffer: BatchBuffer, clock: FakeClock) -> None:
    assert buffer.add("a")
    assert not buffer.add("a")  # buffered
    assert buffer.add_many(["a", "b", "b", "c"]) == ["b", "c"]
    clock.advance(5)
    batch = buffer.claim()
    assert batch is not None and batch.ids == ("a", "b", "c")
    assert not buffer.add("a")  # in flight
    assert buffer.pending_count() == 0
    assert buffer.complete(batch.batch_id, ["a"], ["b"], owner=batch.owner) == Completion(
        done=1, failed=1, requeued=1
    )
    assert not buffer.add("a")  # done: never sent again
    assert buffer.add("b")  # failed: may be asked for again
    assert not buffer.add("c")  # unreported: back in the buffer
    assert buffer.pending_count() == 2


def test_blacklisted_openid_is_never_sent_again(
    redis_client: redis.Redis, clock: FakeClock
) -> None:
    first = make_buffer(redis_client, clock)
    for item in ids(20):
        first.add(item)
    batch = first.claim()
    assert batch is not None
    first.complete(batch.batch_id, batch.ids, owner=batch.owner)
    # Another process, another comment, another rule: same account, same openid.
    again = make_buffer(redis_client, clock)
    assert not again.add("o007")
    assert again.is_done("o007")
    clock.advance(10 * 365 * 86400)  # blacklist done ids do not expire
    assert again.add("new")
    clock.advance(5)
    late = again.claim()
    assert late is not None
    again.complete(late.batch_id, late.ids, owner=late.owner)
    assert not again.add("o007")
    # Another account may still blacklist it.
    assert make_buffer(redis_client, clock, account="other").add("o007")


def test_destroy_done_ids_expire_after_retention(
    redis_client: redis.Redis, clock: FakeClock
) -> None:
    buffer = make_buffer(redis_client, clock, kind="destroy")
    assert buffer.done_retention == 30 * 86400
    buffer.add("c1")
    batch = buffer.claim(force=True)
    assert batch is not None
    buffer.complete(batch.batch_id, batch.ids, owner=batch.owner)
    assert not buffer.add("c1")
    clock.advance(31 * 86400)
    buffer.add("c2")
    batch = buffer.claim(force=True)
    assert batch is not None
    buffer.complete(batch.batch_id, batch.ids, owner=batch.owner)  # trims old done ids
    assert buffer.add("c1")


def test_max_wait_flush(buffer: BatchBuffer, clock: FakeClock) -> None:
    buffer.add("a")
    clock.advance(1)
    buffer.add("b")
    assert buffer.oldest_age() == 1
    assert buffer.next_due() == clock.now - 1 + 5
    clock.advance(3.9)
    assert buffer.claim() is None
    assert buffer.claim(max_wait=2) is not None  # a caller's own wait
    buffer.add("c")
    assert buffer.claim() is None
    clock.advance(5)
    batch = buffer.claim()
    assert batch is not None and batch.ids == ("c",)
    assert buffer.oldest_age() is None


def test_force_and_limits(buffer: BatchBuffer) -> None:
    assert buffer.claim(force=True) is None
    buffer.add_many(ids(3))
    with pytest.raises(BatchTooLargeError):
        buffer.claim(max_items=21)
    with pytest.raises(ValueError):
        buffer.claim(max_items=0)
    batch = buffer.claim(max_items=2)
    assert batch is not None and batch.ids == ("o000", "o001")
    batch = buffer.claim(force=True)
    assert batch is not None and batch.ids == ("o002",)


def test_dead_owner_batch_is_reclaimed_with_same_ids_and_completed_once(
    buffer: BatchBuffer, clock: FakeClock
) -> None:
    buffer.add_many(ids(25))
    dead = buffer.claim()
    assert dead is not None and len(dead.ids) == 20
    assert buffer.expired_batches() == []
    clock.advance(59)
    assert buffer.expired_batches() == []
    clock.advance(1)
    expired = buffer.expired_batches()
    assert [b.batch_id for b in expired] == [dead.batch_id]
    assert expired[0].owner == dead.owner
    new = buffer.reclaim(dead.batch_id)
    assert new is not None
    assert new.batch_id == dead.batch_id and new.ids == dead.ids
    assert new.owner != dead.owner and new.attempts == 2
    assert buffer.reclaim(dead.batch_id) is None  # a second reclaimer loses
    assert buffer.expired_batches() == []
    # The old owner wakes up: it changes nothing.
    assert buffer.complete(dead.batch_id, dead.ids, owner=dead.owner) is None
    assert buffer.requeue(dead.batch_id, owner=dead.owner) is None
    assert buffer.renew(dead.batch_id, owner=dead.owner) is None
    assert buffer.inflight_count() == 20 and buffer.pending_count() == 5
    assert buffer.complete(new.batch_id, new.ids, owner=new.owner) == Completion(
        done=20, failed=0, requeued=0
    )
    assert buffer.complete(new.batch_id, new.ids, owner=new.owner) is None  # once
    assert buffer.done_count() == 20 and buffer.inflight_count() == 0
    assert buffer.get_batch(new.batch_id) is None


def test_renew_keeps_a_slow_owner_from_being_reclaimed(
    buffer: BatchBuffer, clock: FakeClock
) -> None:
    buffer.add_many(ids(20))
    batch = buffer.claim()
    assert batch is not None
    clock.advance(50)
    deadline = buffer.renew(batch.batch_id, owner=batch.owner)
    assert deadline == clock.now + 60
    clock.advance(50)
    assert buffer.expired_batches() == []
    assert buffer.reclaim(batch.batch_id) is None
    got = buffer.get_batch(batch.batch_id)
    assert got is not None and got.deadline == deadline and got.owner == batch.owner


def test_requeue_restores_order(buffer: BatchBuffer, clock: FakeClock) -> None:
    for i, item in enumerate(ids(25)):
        buffer.add(item, now=clock.now + i)
    clock.advance(100)
    batch = buffer.claim()
    assert batch is not None
    assert buffer.requeue(batch.batch_id, owner=batch.owner) == 20
    assert buffer.inflight_count() == 0 and buffer.pending_count() == 25
    again = buffer.claim()
    assert again is not None and again.ids == batch.ids and again.batch_id != batch.batch_id


def test_complete_ignores_foreign_ids_and_rejects_contradictions(buffer: BatchBuffer) -> None:
    buffer.add_many(["a", "b"])
    batch = buffer.claim(force=True)
    assert batch is not None
    with pytest.raises(ValueError):
        buffer.complete(batch.batch_id, ["a"], ["a"], owner=batch.owner)
    result = buffer.complete(batch.batch_id, ["a", "b", "zzz"], owner=batch.owner)
    assert result == Completion(done=2, failed=0, requeued=0)
    assert not buffer.is_done("zzz")


def test_origins_follow_an_id_until_it_is_done_or_failed(buffer: BatchBuffer) -> None:
    assert buffer.add("a", origin="rule-a")
    assert buffer.add_many({"b": "rule-b", "c": "", "d": "rule-d"}) == ["b", "c", "d"]
    assert not buffer.add("a", origin="another rule")  # refused: the first origin stays
    assert buffer.origins(["a", "b", "c", "zzz"]) == {"a": "rule-a", "b": "rule-b"}
    batch = buffer.claim(force=True)
    assert batch is not None and batch.ids == ("a", "b", "c", "d")
    assert buffer.requeue(batch.batch_id, owner=batch.owner) == 4
    assert buffer.origins(batch.ids) == {"a": "rule-a", "b": "rule-b", "d": "rule-d"}
    batch = buffer.claim(force=True)
    assert batch is not None
    # a done, b failed, d reported neither: back in the buffer with its origin.
    assert buffer.complete(batch.batch_id, ["a", "c"], ["b"], owner=batch.owner) == Completion(
        done=2, failed=1, requeued=1
    )
    assert buffer.origins(["a", "b", "c", "d"]) == {"d": "rule-d"}
    assert buffer.origins([]) == {}


def test_forget_done(buffer: BatchBuffer) -> None:
    buffer.add("c")
    batch = buffer.claim(force=True)
    assert batch is not None
    buffer.complete(batch.batch_id, ["c"], owner=batch.owner)
    assert buffer.forget_done(["c"]) == 1
    assert buffer.add("c")


def test_threads_never_share_an_id_nor_exceed_twenty(redis_client: redis.Redis) -> None:
    """8 claimers (some abandoning batches, as if killed) race a producer and a reaper."""
    buffer = BatchBuffer(
        redis=redis_client, platform="weibo", account="brand", kind="destroy",
        max_wait=0.0, lease=0.2,
    )
    all_ids = ids(600, "c")
    stop = threading.Event()
    guard = threading.Lock()
    claims: list[Batch] = []
    completed: list[str] = []
    errors: list[BaseException] = []

    def record(batch: Batch) -> None:
        with guard:
            claims.append(batch)

    def finish(batch: Batch) -> None:
        result = buffer.complete(batch.batch_id, batch.ids, owner=batch.owner)
        if result is not None:
            assert result.done == len(batch.ids)
            with guard:
                completed.extend(batch.ids)

    def producer() -> None:
        for i in range(0, len(all_ids), 7):
            buffer.add_many(all_ids[i : i + 7])

    def claimer(seed: int) -> None:
        rng = random.Random(seed)
        try:
            while not stop.is_set():
                batch = buffer.claim(max_items=rng.choice([20, 20, 13]))
                if batch is None:
                    time.sleep(0.001)
                    continue
                record(batch)
                assert 1 <= len(batch.ids) <= 20
                if rng.random() < 0.1:
                    continue  # "dies": the lease expires, the reaper resumes the batch
                finish(batch)
        except BaseException as exc:
            errors.append(exc)
            raise

    def reaper() -> None:
        try:
            while not stop.is_set():
                for expired in buffer.expired_batches():
                    batch = buffer.reclaim(expired.batch_id)
                    if batch is not None:
                        assert batch.ids == expired.ids
                        finish(batch)
                time.sleep(0.02)
        except BaseException as exc:
            errors.append(exc)
            raise

    threads = [threading.Thread(target=claimer, args=(s,)) for s in range(8)]
    threads += [threading.Thread(target=producer), threading.Thread(target=reaper)]
    for t in threads:
        t.start()
    deadline = time.monotonic() + 30
    while len(set(completed)) < len(all_ids) and not errors and time.monotonic() < deadline:
        time.sleep(0.01)
    stop.set()
    for t in threads:
        t.join()
    assert not errors
    assert sorted(completed) == sorted(all_ids)  # each id completed exactly once
    by_batch: dict[str, tuple[str, ...]] = {}
    for batch in claims:
        by_batch[batch.batch_id] = batch.ids
    seen: set[str] = set()
    for batch_ids in by_batch.values():
        assert len(batch_ids) <= 20
        assert not seen & set(batch_ids), "an id was in two batches"
        seen |= set(batch_ids)
    assert buffer.pending_count() == 0 and buffer.inflight_count() == 0


def test_processes_never_share_an_id(
    redis_client: redis.Redis, redis_server: EmbeddedRedis
) -> None:
    """Three claimer processes and one that dies holding a batch; the batch is reclaimed."""
    buffer = _procs.make_buffer(redis_client)
    all_ids = ids(1000, "p")
    buffer.add_many(all_ids)
    ctx = multiprocessing.get_context("spawn")
    dying = ctx.Process(target=_procs.claim_and_die, args=(redis_server.url,))
    dying.start()
    dying.join(30)
    assert dying.exitcode == 1
    start = ctx.Barrier(3)
    workers = [
        ctx.Process(target=_procs.claim_and_complete, args=(redis_server.url, start))
        for _ in range(3)
    ]
    for w in workers:
        w.start()
    for w in workers:
        w.join(60)
        assert w.exitcode == 0
    claims = [json.loads(raw) for raw in redis_client.lrange(_procs.CLAIMS_KEY, 0, -1)]
    died = [c for c in claims if c.get("died")]
    assert len(died) == 1 and len(died[0]["ids"]) == 20
    flat = [i for c in claims for i in c["ids"]]
    assert len(flat) == len(set(flat)) == 1000  # disjoint, all covered
    assert all(len(c["ids"]) <= 20 for c in claims)
    # The dead process's batch is still in flight; once its lease is past, resume it.
    assert buffer.done_count() == 980
    expired = buffer.expired_batches(now=time.time() + buffer.lease + 1)
    assert [b.batch_id for b in expired] == [died[0]["batch"]]
    batch = buffer.reclaim(died[0]["batch"], now=time.time() + buffer.lease + 1)
    assert batch is not None and list(batch.ids) == died[0]["ids"]
    assert buffer.complete(batch.batch_id, batch.ids, owner=batch.owner) is not None
    assert buffer.done_count() == 1000 and buffer.inflight_count() == 0


def test_lapse_lets_the_next_flush_take_the_batch_over_at_once(
    buffer: BatchBuffer, clock: FakeClock
) -> None:
    buffer.add_many(ids(3))
    batch = buffer.claim(force=True)
    assert batch is not None
    assert not buffer.lapse(batch.batch_id, owner="someone else")
    assert buffer.expired_batches() == []
    assert buffer.lapse(batch.batch_id, owner=batch.owner)
    assert [b.batch_id for b in buffer.expired_batches()] == [batch.batch_id]
    again = buffer.reclaim(batch.batch_id)
    assert again is not None and again.ids == batch.ids and again.attempts == 2
