"""A model-based test of BatchBuffer: every step is checked against a plain-Python model."""

from __future__ import annotations

import redis
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    invariant,
    precondition,
    rule,
    run_state_machine_as_test,
)

from tests.pipeline.conftest import FakeClock
from worker.pipeline.batches import Batch, BatchBuffer, Completion

POOL = [f"o{i:02d}" for i in range(45)]
MAX_WAIT = 5.0
LEASE = 30.0


def test_batch_buffer_state_machine(redis_client: redis.Redis) -> None:
    class BatchMachine(RuleBasedStateMachine):
        def __init__(self) -> None:
            super().__init__()
            redis_client.flushdb()
            self.clock = FakeClock(1000.0)
            self.buffer = BatchBuffer(
                redis=redis_client, platform="wechat", account="a", kind="blacklist",
                max_wait=MAX_WAIT, lease=LEASE, clock=self.clock,
            )
            self.buffered: dict[str, float] = {}  # id -> time added
            # batch id -> batch as its owner holds it, in claim order: batch ids are random,
            # so steps pick batches by position to keep hypothesis's draws reproducible.
            self.inflight: dict[str, Batch] = {}
            self.added_at: dict[str, float] = {}  # in-flight id -> time added
            self.stale: list[Batch] = []  # batches as a replaced owner still holds them
            self.done: set[str] = set()
            self.history: list[tuple[str, str]] = []  # ("add" | "done" | "failed", id)

        def in_flight_ids(self) -> set[str]:
            return {i for b in self.inflight.values() for i in b.ids}

        @rule(item=st.sampled_from(POOL))
        def add(self, item: str) -> None:
            expected = (
                item not in self.buffered
                and item not in self.in_flight_ids()
                and item not in self.done
            )
            assert self.buffer.add(item) == expected
            if expected:
                self.buffered[item] = self.clock.now
                self.history.append(("add", item))

        @rule(seconds=st.sampled_from([0.0, 0.5, 2.0, 5.0, 10.0]))
        def tick(self, seconds: float) -> None:
            self.clock.advance(seconds)

        @rule(max_items=st.integers(1, 20), force=st.booleans())
        def claim(self, max_items: int, force: bool) -> None:
            order = sorted(self.buffered, key=lambda i: (self.buffered[i], i))
            due = bool(order) and (
                force
                or len(order) >= max_items
                or self.buffered[order[0]] <= self.clock.now - MAX_WAIT
            )
            batch = self.buffer.claim(max_items=max_items, force=force)
            assert (batch is not None) == due
            if batch is None:
                return
            assert list(batch.ids) == order[:max_items]
            assert len(batch.ids) <= 20
            for item in batch.ids:
                self.added_at[item] = self.buffered.pop(item)
            self.inflight[batch.batch_id] = batch

        @precondition(lambda self: self.inflight)
        @rule(data=st.data())
        def complete(self, data: st.DataObject) -> None:
            batch = self.inflight[data.draw(st.sampled_from(list(self.inflight)))]
            fates = data.draw(
                st.lists(
                    st.sampled_from(["done", "failed", "unreported"]),
                    min_size=len(batch.ids), max_size=len(batch.ids),
                )
            )
            done = [i for i, f in zip(batch.ids, fates, strict=True) if f == "done"]
            failed = [i for i, f in zip(batch.ids, fates, strict=True) if f == "failed"]
            rest = [i for i, f in zip(batch.ids, fates, strict=True) if f == "unreported"]
            result = self.buffer.complete(batch.batch_id, done, failed, owner=batch.owner)
            assert result == Completion(done=len(done), failed=len(failed), requeued=len(rest))
            del self.inflight[batch.batch_id]
            self.done.update(done)
            self.history += [("done", i) for i in done] + [("failed", i) for i in failed]
            for item in rest:
                self.buffered[item] = self.added_at[item]
            for item in batch.ids:
                del self.added_at[item]

        @precondition(lambda self: self.inflight)
        @rule(data=st.data())
        def requeue(self, data: st.DataObject) -> None:
            batch = self.inflight.pop(data.draw(st.sampled_from(list(self.inflight))))
            assert self.buffer.requeue(batch.batch_id, owner=batch.owner) == len(batch.ids)
            for item in batch.ids:
                self.buffered[item] = self.added_at.pop(item)

        @precondition(lambda self: self.inflight)
        @rule(data=st.data())
        def owner_dies_and_batch_is_reclaimed(self, data: st.DataObject) -> None:
            batch = self.inflight[data.draw(st.sampled_from(list(self.inflight)))]
            live = [b.batch_id for b in self.buffer.expired_batches()]
            assert batch.batch_id not in live or batch.deadline <= self.clock.now
            self.clock.now = max(self.clock.now, batch.deadline)
            expired = {b.batch_id: b for b in self.buffer.expired_batches()}
            assert batch.batch_id in expired
            assert expired[batch.batch_id].ids == batch.ids
            new = self.buffer.reclaim(batch.batch_id)
            assert new is not None
            assert new.ids == batch.ids and new.batch_id == batch.batch_id
            assert new.attempts == batch.attempts + 1
            assert self.buffer.reclaim(batch.batch_id) is None
            self.stale.append(batch)
            self.inflight[batch.batch_id] = new

        @precondition(lambda self: self.stale)
        @rule(data=st.data(), how=st.sampled_from(["complete", "requeue", "renew"]))
        def replaced_owner_wakes_up(self, data: st.DataObject, how: str) -> None:
            batch = data.draw(st.sampled_from(self.stale))
            if how == "complete":
                assert self.buffer.complete(batch.batch_id, batch.ids, owner=batch.owner) is None
            elif how == "requeue":
                assert self.buffer.requeue(batch.batch_id, owner=batch.owner) is None
            else:
                assert self.buffer.renew(batch.batch_id, owner=batch.owner) is None

        @invariant()
        def redis_matches_the_model(self) -> None:
            in_flight = [i for b in self.inflight.values() for i in b.ids]
            assert len(in_flight) == len(set(in_flight)), "an id in two batches"
            assert self.buffer.pending_count() == len(self.buffered)
            assert self.buffer.inflight_count() == len(in_flight)
            assert self.buffer.done_count() == len(self.done)
            places = [set(self.buffered), set(in_flight), self.done]
            assert sum(len(p) for p in places) == len(set().union(*places)), "id in two places"
            stored = {b.batch_id: b for b in self.buffer.inflight_batches()}
            assert set(stored) == set(self.inflight)
            for batch_id, batch in self.inflight.items():
                assert stored[batch_id].ids == batch.ids
                assert stored[batch_id].owner == batch.owner
                assert len(batch.ids) <= 20

        @invariant()
        def every_added_id_ends_once(self) -> None:
            # Each add is matched by at most one terminal event (done or failed), and an id
            # that is done is never added again.
            open_adds: dict[str, int] = {}
            done_once: set[str] = set()
            for event, item in self.history:
                if event == "add":
                    assert item not in done_once
                    open_adds[item] = open_adds.get(item, 0) + 1
                    assert open_adds[item] == 1
                else:
                    assert open_adds.get(item) == 1
                    open_adds[item] = 0
                    if event == "done":
                        done_once.add(item)

    run_state_machine_as_test(
        BatchMachine,
        settings=settings(
            max_examples=60,
            stateful_step_count=40,
            deadline=None,
            suppress_health_check=[HealthCheck.too_slow],
        ),
    )
