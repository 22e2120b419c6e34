"""Leases of actions and batches: kept by a heartbeat while a call runs, reported by one holder
only, released after any failure, and every attempt counted.

The real actors run on a StubBroker (with a real dramatiq worker where retries matter);
state is in a real Redis and the platform is the sandbox over loopback HTTP.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import dramatiq
import pytest
from dramatiq.brokers.stub import StubBroker
from dramatiq.middleware import CurrentMessage

from tests.pipeline.wechat_runtime import APP, ARTICLE, TARGET, wechat_runtime
from worker.config import ActionsConfig
from worker.pipeline.actors import Pipeline
from worker.pipeline.actors import act as act_actor
from worker.pipeline.actors import flush as flush_actor
from worker.pipeline.keys import ActionKey
from worker.pipeline.runtime import WorkerRuntime
from worker.platforms import WechatClient
from worker.redis_server import EmbeddedRedis
from worker.sandbox import Sandbox
from worker.subprocesses import wait_for

SHORT_LEASE = 1.0  # seconds: calls below take several times as long
SLOW_CALL = 3.0


@pytest.fixture
def runtime(
    tmp_path: Path, sandbox: Sandbox, redis_server: EmbeddedRedis, redis_client: Any,
    stub_actors: StubBroker,
) -> Iterator[WorkerRuntime]:
    actions = ActionsConfig(max_retries=2, batch_max_wait=0.0)
    with wechat_runtime(tmp_path, sandbox, redis_server.url, actions=actions) as rt:
        client = rt.client("oa")
        assert isinstance(client, WechatClient)
        client.list_comments(TARGET, begin=0, count=10)  # the token, fetched before calls slow
        yield rt


def delete_key(comment_id: int) -> ActionKey:
    return ActionKey(platform="wechat", account="oa", target=TARGET, comment=str(comment_id),
                     action="delete")


def action_records(rt: WorkerRuntime) -> list[dict[str, Any]]:
    return rt.audit.read(kind="action", limit=100)


def start_slow_delete(
    pipeline: Pipeline, sandbox: Sandbox, comment_id: int
) -> threading.Thread:
    """An act delivery whose call outlives the lease many times; returns once it holds it."""
    rt = pipeline.runtime
    sandbox.faults.latency = SLOW_CALL
    holder = threading.Thread(target=pipeline.act,
                              args=("oa", TARGET, str(comment_id), "delete", None, "spam"))
    holder.start()
    lease = rt.keys.lease(delete_key(comment_id))
    wait_for(lambda: rt.redis.exists(lease) == 1, timeout=30, what="the first delivery's lease")
    return holder


def test_a_call_longer_than_the_lease_keeps_it_and_a_redelivery_waits(
    runtime: WorkerRuntime, pipeline: Pipeline, sandbox: Sandbox, stub_actors: StubBroker,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(act_actor, "LEASE_SECONDS", SHORT_LEASE)
    cid = sandbox.add_wechat_comment(APP, ARTICLE, content="加v：abc12345", openid="oA")
    holder = start_slow_delete(pipeline, sandbox, cid)
    time.sleep(2 * SHORT_LEASE)  # the lease would have expired twice without its heartbeat

    pipeline.act("oa", TARGET, str(cid), "delete", None, "spam")  # a second delivery
    holder.join(timeout=60)

    assert len(sandbox.calls("comment/delete")) == 1
    assert stub_actors.queues["act.DQ"].qsize() == 1  # the redelivery looks again later
    assert [(r["action"], r["outcome"]) for r in action_records(runtime)] == [("delete", "ok")]
    assert runtime.ledger.is_done(delete_key(cid))


def test_a_stale_holder_audits_nothing_another_holder_recorded(
    runtime: WorkerRuntime, pipeline: Pipeline, sandbox: Sandbox, stub_actors: StubBroker,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(act_actor, "LEASE_SECONDS", SHORT_LEASE)
    cid = sandbox.add_wechat_comment(APP, ARTICLE, content="加v：abc12345", openid="oA")
    holder = start_slow_delete(pipeline, sandbox, cid)
    # The lease is lost during the call (as through a Redis outage longer than the lease),
    # another delivery takes the action over and records it first.
    runtime.redis.delete(runtime.keys.lease(delete_key(cid)))
    other = runtime.ledger.claim(delete_key(cid), ttl=60)
    assert other.lease is not None
    runtime.ledger.mark_done(delete_key(cid), "already_done", lease=other.lease)
    holder.join(timeout=60)

    assert len(sandbox.calls("comment/delete")) == 1
    assert action_records(runtime) == []  # the other holder reports it
    record = runtime.ledger.get_done(delete_key(cid))
    assert record is not None and record.outcome == "already_done"


def test_a_stale_batch_owner_completes_and_audits_nothing(
    runtime: WorkerRuntime, pipeline: Pipeline, sandbox: Sandbox, stub_actors: StubBroker
) -> None:
    buffer = runtime.buffer("oa")
    buffer.add_many({"oA": "", "oB": ""})
    batch = buffer.claim(force=True)
    assert batch is not None
    # Another flush finds the lease expired (its owner seemed dead) and takes the batch over.
    taken = buffer.reclaim(batch.batch_id, now=time.time() + buffer.lease + 1)
    assert taken is not None

    flush_actor._send_batch(pipeline, "oa", batch.batch_id, list(batch.ids), batch.owner)

    assert action_records(runtime) == []
    # Still in flight for the new owner, still marked attempted so that it asks the platform
    # before sending again.
    assert buffer.get_batch(batch.batch_id) == taken
    attempted = runtime.keys.attempted("oa")
    assert runtime.redis.smembers(attempted) == {b"oA", b"oB"}


def test_an_exception_not_from_the_platform_is_retried_max_retries_times_then_failed(
    runtime: WorkerRuntime, pipeline: Pipeline, sandbox: Sandbox, stub_actors: StubBroker,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    cid = sandbox.add_wechat_comment(APP, ARTICLE, content="加v：abc12345", openid="oA")
    calls: list[str] = []

    def unreadable(target: str, comment_id: str) -> Any:
        calls.append(comment_id)
        raise LookupError("an answer this client does not understand")

    monkeypatch.setattr(runtime.client("oa"), "delete_comment", unreadable)
    stub_actors.add_middleware(CurrentMessage())
    worker = dramatiq.Worker(stub_actors, worker_threads=1, worker_timeout=50)
    worker.start()
    try:
        pipeline.actors.act.send_with_options(  # retried after 10 ms, not 15 s
            args=("oa", TARGET, str(cid), "delete", None, "spam"), min_backoff=10, max_backoff=50,
        )
        stub_actors.join("act", timeout=30_000)
    finally:
        worker.stop()

    assert calls == [str(cid)] * 3  # the first attempt and max_retries (2) retries
    records = action_records(runtime)
    assert [(r["outcome"], r["attempt"]) for r in records] == [("failed", 3)]
    assert records[0]["detail"] == (
        "gave up: LookupError: an answer this client does not understand"
    )
    assert not runtime.redis.exists(runtime.keys.lease(delete_key(cid)))
    assert not runtime.ledger.is_done(delete_key(cid))


def test_a_batch_failing_without_a_platform_answer_is_failed_after_max_retries(
    runtime: WorkerRuntime, pipeline: Pipeline, sandbox: Sandbox, stub_actors: StubBroker,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    calls: list[list[str]] = []

    def unreadable(openids: list[str]) -> Any:
        calls.append(list(openids))
        raise LookupError("an answer this client does not understand")

    client = runtime.client("oa")
    monkeypatch.setattr(client, "blacklist", unreadable)
    runtime.buffer("oa").add_many({"oA": "", "oB": ""})
    for _ in range(10):  # the flushes the scheduler and dramatiq's retries would send
        try:
            pipeline.flush("oa")
        except LookupError:
            continue
        break

    assert calls == [["oA", "oB"]] * 3  # the first attempt and max_retries (2) retries
    records = action_records(runtime)
    assert sorted((r["openid"], r["outcome"]) for r in records) == [
        ("oA", "failed"), ("oB", "failed"),
    ]
    assert records[0]["detail"] == (
        "gave up after 3 attempts without a platform answer (the sender failed, see "
        "batch_error, or died)"
    )
    assert runtime.buffer("oa").inflight_batches() == []
    assert runtime.buffer("oa").pending_count() == 0
