"""Functions run in child processes (multiprocessing, spawn) by the pipeline tests."""

from __future__ import annotations

import json
import os
import time
from multiprocessing.synchronize import Barrier, Event

import redis

from worker.pipeline.batches import BatchBuffer
from worker.pipeline.lock import RenewableLock

CLAIMS_KEY = "test:claims"


def make_buffer(client: redis.Redis) -> BatchBuffer:
    """The buffer every process of the multiprocess test shares (a real clock)."""
    return BatchBuffer(redis=client, platform="wechat", account="main", kind="blacklist",
                       max_wait=0.0)


def claim_and_complete(url: str, start: Barrier) -> None:
    """Claim batches until the buffer is empty; log each claim; complete it as done."""
    client = redis.Redis.from_url(url)
    buffer = make_buffer(client)
    start.wait(60)  # all claimers start together
    idle = 0
    while idle < 3:
        batch = buffer.claim()
        if batch is None:
            idle = idle + 1 if buffer.pending_count() == 0 else 0
            time.sleep(0.001)
            continue
        idle = 0
        client.rpush(CLAIMS_KEY, json.dumps({"pid": os.getpid(), "batch": batch.batch_id,
                                             "ids": list(batch.ids)}))
        result = buffer.complete(batch.batch_id, batch.ids, owner=batch.owner)
        assert result is not None and result.done == len(batch.ids)
    client.close()


def claim_and_die(url: str) -> None:
    """Claim one batch and die without completing it (as if SIGKILLed mid-call)."""
    client = redis.Redis.from_url(url)
    buffer = make_buffer(client)
    batch = buffer.claim()
    if batch is not None:
        client.rpush(CLAIMS_KEY, json.dumps({"pid": os.getpid(), "batch": batch.batch_id,
                                             "ids": list(batch.ids), "died": True}))
    os._exit(1)


def hold_lock(url: str, key: str, ttl: float, acquired: Event) -> None:
    """Acquire the lock, renew it in the background, and wait to be killed."""
    client = redis.Redis.from_url(url)
    lock = RenewableLock(redis=client, key=key, ttl=ttl)
    if lock.acquire(blocking=True, timeout=30):
        acquired.set()
    time.sleep(120)
