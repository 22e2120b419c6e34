"""Functions run in child processes (multiprocessing, spawn) by the wave tests."""

from __future__ import annotations

import json
from multiprocessing.synchronize import Barrier

import redis

from worker.comment import Comment
from worker.waves.redis_state import RedisWaveState
from worker.waves.state import WaveQuery

RESULTS_KEY = "test:wave-results"
QUERY = WaveQuery(repeated_within=3600.0, similarity=0.7, burst_within=600.0,
                  burst_windows=(250.0, 600.0))


def observe_many(url: str, start: Barrier, comments: list[dict[str, object]]) -> None:
    """Observe ``comments`` in order; push what each saw (near ids, author count)."""
    client = redis.Redis.from_url(url)
    state = RedisWaveState(redis=client)
    start.wait(60)
    for data in comments:
        comment = Comment.from_dict(data)
        seen = state.observe(comment, comment.content, QUERY, now=comment.created_at or 0.0)
        client.rpush(RESULTS_KEY, json.dumps({
            "id": comment.id, "near": [m.id for m in seen.near], "burst": seen.burst(within=600),
        }))
    client.close()


def claim_wave(url: str, start: Barrier, ids: list[str], wave: str) -> None:
    client = redis.Redis.from_url(url)
    state = RedisWaveState(redis=client)
    start.wait(60)
    got, new = state.claim(platform="wechat", account="main", rule="wave", ids=ids, wave=wave,
                           within=3600.0)
    client.rpush(RESULTS_KEY, json.dumps({"wave": got, "new": new}))
    client.close()
