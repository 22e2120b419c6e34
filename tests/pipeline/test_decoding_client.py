"""The state modules return str whether or not the client decodes replies itself."""

from __future__ import annotations

import redis

from worker.pipeline.audit import AuditLog
from worker.pipeline.batches import BatchBuffer
from worker.pipeline.keys import ActionKey, target_key
from worker.pipeline.ledger import ActionLedger
from worker.pipeline.rulestats import RuleStats
from worker.pipeline.seen import SeenComments
from worker.redis_server import EmbeddedRedis


def test_a_decoding_client_works_the_same(
    redis_client: redis.Redis, redis_server: EmbeddedRedis
) -> None:
    client = redis.Redis.from_url(redis_server.url, decode_responses=True)
    try:
        buffer = BatchBuffer(redis=client, platform="weibo", account="品牌", kind="destroy")
        assert buffer.add_many(["1", "2"]) == ["1", "2"]
        batch = buffer.claim(force=True)
        assert batch is not None and batch.ids == ("1", "2")
        again = buffer.get_batch(batch.batch_id)
        assert again is not None and again.owner == batch.owner
        assert buffer.complete(batch.batch_id, batch.ids, owner=batch.owner) is not None

        seen = SeenComments(redis=client)
        target = target_key(platform="weibo", account="品牌", target="1")
        seen.mark_seen(target, ["a"])
        assert seen.filter_new(target, ["a", "b"]) == ["b"]
        seen.set_cursor(target, 7)
        assert seen.get_cursor(target) == "7"

        ledger = ActionLedger(redis=client)
        key = ActionKey(platform="weibo", account="品牌", target="1", comment="a", action="reply")
        assert ledger.claim(key, ttl=5).status == "claimed"

        audit = AuditLog(redis=client)
        audit.append({"kind": "action", "action": "reply", "outcome": "ok", "detail": "好"})
        assert audit.read()[0]["detail"] == "好"

        stats = RuleStats(redis=client)
        stats.record_hit("r", "enforce", at=1.0)
        assert stats.snapshot()["rules"]["r"]["total"] == 1
    finally:
        client.close()
