"""Reply decoding shared by the state modules: the same ``str`` whichever way the client was
built (``decode_responses`` False or True)."""

from __future__ import annotations

import pytest
import redis

from worker.pipeline._redis import text, text_hash
from worker.redis_server import EmbeddedRedis


@pytest.mark.parametrize("decode_responses", [False, True])
def test_a_hash_reads_back_as_text_either_way(
    redis_server: EmbeddedRedis, redis_client: redis.Redis, decode_responses: bool
) -> None:
    redis_client.hset("h", mapping={"名": "值", "failures": 3, "at": repr(1.5)})
    client = redis.Redis.from_url(redis_server.url, decode_responses=decode_responses)
    try:
        assert text_hash(client.hgetall("h")) == {"名": "值", "failures": "3", "at": "1.5"}
        assert text_hash(client.hgetall("absent")) == {}
        value = client.hget("h", "名")
        assert value is not None and text(value) == "值"
    finally:
        client.close()
