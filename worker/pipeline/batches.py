"""Buffers for the two batched actions: WeChat blacklist (openids), Weibo destroy (comment ids).

One :class:`BatchBuffer` per (platform, account, kind). Every item id is, at any instant, in
at most one of three places, and only the scripts below move it:

::

    (nowhere) --add--> buffer --claim--> in-flight batch --complete(done)--> done
                          ^                  |    |  \\--complete(failed)--> (nowhere, reported)
                          |                  |    \\--crash: lease expires, reclaim (same batch)
                          \\----requeue / complete(unreported ids)--/

- ``add`` refuses an id that is buffered, in flight, or done for the group: an openid already
  blacklisted for an account is never sent again, whichever comment or rule asks. The id's
  *origin* (an opaque string the caller gives: which rule and comment asked) is kept beside it
  until the id is done or failed, so the outcome can be told against the rule that wanted it.
- ``claim`` moves up to 20 ids, oldest first, into a new batch with a fresh batch id, owner
  token and lease deadline, when 20 are buffered or the oldest waited ``max_wait``.
- The owner renews its lease while its calls run (``renew``, from a
  :class:`~worker.pipeline.heartbeat.Heartbeat`). A batch whose owner died (its lease
  deadline passed) is found by ``expired_batches`` and
  taken over by ``reclaim``: same batch id, same ids, new owner token and deadline. The ids
  are resent (the platform calls are idempotent), never split into two batches or lost.
- ``complete``/``requeue``/``renew`` check the owner token: a stale owner that wakes up after
  a takeover changes nothing (``None``/``False``), so an id is never in two batches at once.

Done ids are kept forever for ``blacklist`` (the rule above), and for ``destroy`` for 30 days
by default (a destroyed comment does not come back; the set would otherwise grow without
bound). Times are Unix seconds from ``clock`` (hosts sharing a Redis need synchronised clocks;
leases are tens of seconds, so NTP is plenty).
"""

from __future__ import annotations

import enum
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Literal

import redis

from worker.errors import BatchTooLargeError
from worker.pipeline._redis import Clock, LuaScript, new_token, text, text_hash, wall_clock
from worker.pipeline.heartbeat import LEASE_SECONDS
from worker.pipeline.keys import BatchGroupKeys, Keys

MAX_BATCH = 20
"""Both APIs take at most 20 ids per call (WeChat batchblacklist, Weibo destroy_batch)."""

DEFAULT_DONE_RETENTION: dict[str, float | None] = {"blacklist": None, "destroy": 30 * 86400.0}

# KEYS: buf, inflight, done, origins. ARGV[1] now, ARGV[2..] pairs of item id and origin
# ('' = none). Adds each id to the buffer unless it is buffered, in flight or done, with its
# origin. Returns the ids added.
_ADD = """
local added = {}
for i = 2, #ARGV, 2 do
  local id = ARGV[i]
  if not redis.call('ZSCORE', KEYS[3], id) and redis.call('HEXISTS', KEYS[2], id) == 0 then
    if redis.call('ZADD', KEYS[1], 'NX', ARGV[1], id) == 1 then
      added[#added + 1] = id
      if ARGV[i + 1] ~= '' then
        redis.call('HSET', KEYS[4], id, ARGV[i + 1])
      end
    end
  end
end
return added
"""

# KEYS: buf, inflight, leases, batch meta, batch ids.
# ARGV: now, max_items, threshold (= now - max_wait), deadline, batch id, owner, force.
# When max_items are buffered, or the oldest was added at or before threshold, or force:
# moves the max_items oldest ids out of the buffer into the batch (ids zset keeps each id's
# time added; inflight maps id -> batch), records owner and deadline, and returns the ids.
# Otherwise returns nil and changes nothing.
_CLAIM = """
local n = redis.call('ZCARD', KEYS[1])
if n == 0 then
  return false
end
local max_items = tonumber(ARGV[2])
if n < max_items and ARGV[7] ~= '1' then
  local oldest = redis.call('ZRANGE', KEYS[1], 0, 0, 'WITHSCORES')
  if tonumber(oldest[2]) > tonumber(ARGV[3]) then
    return false
  end
end
local items = redis.call('ZRANGE', KEYS[1], 0, max_items - 1, 'WITHSCORES')
local ids = {}
for i = 1, #items, 2 do
  redis.call('ZADD', KEYS[5], items[i + 1], items[i])
  redis.call('HSET', KEYS[2], items[i], ARGV[5])
  ids[#ids + 1] = items[i]
end
redis.call('ZREM', KEYS[1], unpack(ids))
redis.call('HSET', KEYS[4], 'owner', ARGV[6], 'created_at', ARGV[1], 'deadline', ARGV[4],
           'attempts', '1')
redis.call('ZADD', KEYS[3], ARGV[4], ARGV[5])
return ids
"""

# The opening of a script that changes a batch (KEYS[4] its meta, ARGV[2] the caller's owner
# token): {0} if no such batch, {-1} if another owner holds it.
_OWNER_ONLY = """
local owner = redis.call('HGET', KEYS[4], 'owner')
if not owner then
  return {0}
end
if owner ~= ARGV[2] then
  return {-1}
end
"""

# The end of a batch (KEYS: buf, inflight, leases, batch meta, batch ids; ARGV[1] batch id):
# the ids still in it go back to the buffer with their original time, the batch is deleted.
# Leaves ``rest`` (id, time, id, time, ...) to count the ids requeued.
_REQUEUE_REST_AND_DELETE = """
local rest = redis.call('ZRANGE', KEYS[5], 0, -1, 'WITHSCORES')
for i = 1, #rest, 2 do
  redis.call('HDEL', KEYS[2], rest[i])
  redis.call('ZADD', KEYS[1], rest[i + 1], rest[i])
end
redis.call('DEL', KEYS[4], KEYS[5])
redis.call('ZREM', KEYS[3], ARGV[1])
"""

# KEYS: buf, inflight, leases, batch meta, batch ids, done, origins.
# ARGV: batch id, owner, now, done cutoff ('' = keep forever), n_done, done ids..., failed ids...
# Only the batch's current owner may complete it. Done ids go to the done set, failed ids
# nowhere (both lose their origin), ids of the batch named in neither go back to the buffer
# with their original time; ids not in the batch are ignored. The batch is then deleted.
# Returns {1, n_done, n_failed, n_requeued}, {0} if no such batch, {-1} if another owner.
_COMPLETE = _OWNER_ONLY + """
local n_done = tonumber(ARGV[5])
local done, failed = 0, 0
for i = 6, 5 + n_done do
  if redis.call('ZSCORE', KEYS[5], ARGV[i]) then
    redis.call('ZREM', KEYS[5], ARGV[i])
    redis.call('HDEL', KEYS[2], ARGV[i])
    redis.call('ZADD', KEYS[6], ARGV[3], ARGV[i])
    redis.call('HDEL', KEYS[7], ARGV[i])
    done = done + 1
  end
end
for i = 6 + n_done, #ARGV do
  if redis.call('ZSCORE', KEYS[5], ARGV[i]) then
    redis.call('ZREM', KEYS[5], ARGV[i])
    redis.call('HDEL', KEYS[2], ARGV[i])
    redis.call('HDEL', KEYS[7], ARGV[i])
    failed = failed + 1
  end
end
""" + _REQUEUE_REST_AND_DELETE + """
if ARGV[4] ~= '' then
  redis.call('ZREMRANGEBYSCORE', KEYS[6], '-inf', '(' .. ARGV[4])
end
return {1, done, failed, #rest / 2}
"""

# KEYS: buf, inflight, leases, batch meta, batch ids. ARGV: batch id, owner.
# Only the current owner may requeue: every id goes back to the buffer with its original
# time, the batch is deleted. Returns {1, n}, {0} if no such batch, {-1} if another owner.
_REQUEUE = _OWNER_ONLY + _REQUEUE_REST_AND_DELETE + """
return {1, #rest / 2}
"""

# KEYS: leases, batch meta. ARGV: batch id, owner, new deadline.
# Only the current owner extends its lease. Returns 1, or 0 if not the owner / no batch.
_RENEW = """
if redis.call('HGET', KEYS[2], 'owner') ~= ARGV[2] then
  return 0
end
redis.call('HSET', KEYS[2], 'deadline', ARGV[3])
redis.call('ZADD', KEYS[1], 'XX', ARGV[3], ARGV[1])
return 1
"""

# KEYS: leases, batch meta, batch ids. ARGV: batch id, now, new owner, new deadline.
# Takes over a batch whose lease deadline is at or before now: same ids, new owner and
# deadline, attempts + 1. Of two reclaimers only the first wins (the second sees the new
# deadline). Returns {created_at, attempts, ids...}, or nil if the lease is live or no batch.
_RECLAIM = """
local deadline = redis.call('ZSCORE', KEYS[1], ARGV[1])
if not deadline or tonumber(deadline) > tonumber(ARGV[2]) then
  return false
end
redis.call('HSET', KEYS[2], 'owner', ARGV[3], 'deadline', ARGV[4])
local attempts = redis.call('HINCRBY', KEYS[2], 'attempts', 1)
redis.call('ZADD', KEYS[1], ARGV[4], ARGV[1])
local out = {redis.call('HGET', KEYS[2], 'created_at'), tostring(attempts)}
for _, id in ipairs(redis.call('ZRANGE', KEYS[3], 0, -1)) do
  out[#out + 1] = id
end
return out
"""


class _Default(enum.Enum):
    TOKEN = 0


@dataclass(frozen=True, slots=True, kw_only=True)
class Batch:
    """An in-flight batch as its owner sees it. ``ids`` are oldest first, at most 20."""

    batch_id: str
    owner: str
    ids: tuple[str, ...]
    created_at: float
    deadline: float
    attempts: int  # 1 when claimed, +1 per reclaim


@dataclass(frozen=True, slots=True, kw_only=True)
class Completion:
    done: int
    failed: int
    requeued: int  # ids of the batch reported neither done nor failed


class BatchBuffer:
    """The buffer, in-flight batches and done set of one (platform, account, kind)."""

    def __init__(
        self,
        *,
        redis: redis.Redis,
        platform: str,
        account: str,
        kind: str,
        keys: Keys | None = None,
        max_wait: float = 5.0,
        lease: float = LEASE_SECONDS,
        done_retention: float | Literal[_Default.TOKEN] | None = _Default.TOKEN,
        clock: Clock = wall_clock,
    ) -> None:
        if lease <= 0:
            raise ValueError("lease must be positive")
        if max_wait < 0:
            raise ValueError("max_wait cannot be negative")
        self._redis = redis
        self.platform = platform
        self.account = account
        self.kind = kind
        self.max_wait = max_wait
        self.lease = lease
        self.done_retention = (
            DEFAULT_DONE_RETENTION.get(kind) if done_retention is _Default.TOKEN else done_retention
        )
        self._clock = clock
        self.keys: BatchGroupKeys = (keys or Keys()).batch_group(
            platform=platform, account=account, kind=kind
        )
        self._add = LuaScript(redis, _ADD)
        self._claim = LuaScript(redis, _CLAIM)
        self._complete = LuaScript(redis, _COMPLETE)
        self._requeue = LuaScript(redis, _REQUEUE)
        self._renew = LuaScript(redis, _RENEW)
        self._reclaim = LuaScript(redis, _RECLAIM)

    # -- buffering -------------------------------------------------------------------------
    def add(self, item_id: str, *, origin: str = "", now: float | None = None) -> bool:
        """Buffer ``item_id`` with its ``origin``; False (and nothing changes) if it is
        buffered, in flight or done."""
        return bool(self.add_many({item_id: origin}, now=now))

    def add_many(
        self, items: Mapping[str, str] | Iterable[str], *, now: float | None = None
    ) -> list[str]:
        """Buffer several ids (or ids mapped to their origins) in one script; returns those
        actually added."""
        origins = items if isinstance(items, Mapping) else dict.fromkeys(items, "")
        if not origins:
            return []
        k = self.keys
        pairs = [part for pair in origins.items() for part in pair]
        reply = self._add([k.buffer, k.inflight, k.done, k.origins],
                          [repr(self._now(now)), *pairs])
        return [text(v) for v in reply]

    def origins(self, item_ids: Iterable[str]) -> dict[str, str]:
        """The origins given when these ids were added (ids without one are left out)."""
        ids = list(item_ids)
        if not ids:
            return {}
        values: list[Any] = self._redis.hmget(self.keys.origins, ids)
        return {i: text(v) for i, v in zip(ids, values, strict=True) if v is not None}

    def is_done(self, item_id: str) -> bool:
        return self._redis.zscore(self.keys.done, item_id) is not None

    def forget_done(self, item_ids: Iterable[str]) -> int:
        """Allow ids to be sent again (an operator lifted a blacklist by hand)."""
        ids = list(item_ids)
        return int(self._redis.zrem(self.keys.done, *ids)) if ids else 0

    # -- batches ---------------------------------------------------------------------------
    def claim(
        self,
        *,
        max_items: int = MAX_BATCH,
        max_wait: float | None = None,
        now: float | None = None,
        force: bool = False,
        owner: str | None = None,
    ) -> Batch | None:
        """A new in-flight batch of up to ``max_items`` oldest ids, or None if not yet due.

        Due when ``max_items`` are buffered, when the oldest id waited ``max_wait`` (default:
        the buffer's), or with ``force`` (shutdown) whenever any id is buffered.
        """
        if max_items > MAX_BATCH:
            raise BatchTooLargeError(
                f"a batch holds at most {MAX_BATCH} ids, asked for {max_items}"
            )
        if max_items < 1:
            raise ValueError("max_items must be at least 1")
        at = self._now(now)
        wait = self.max_wait if max_wait is None else max_wait
        batch_id = new_token()
        owner = owner or new_token()
        deadline = at + self.lease
        k = self.keys
        reply = self._claim(
            [k.buffer, k.inflight, k.leases, k.batch(batch_id), k.batch_ids(batch_id)],
            [repr(at), max_items, repr(at - wait), repr(deadline), batch_id, owner,
             "1" if force else "0"],
        )
        if reply is None:
            return None
        return Batch(
            batch_id=batch_id,
            owner=owner,
            ids=tuple(text(v) for v in reply),
            created_at=at,
            deadline=deadline,
            attempts=1,
        )

    def renew(self, batch_id: str, *, owner: str, now: float | None = None) -> float | None:
        """Extend the lease of a batch still owned; the new deadline, or None if lost."""
        deadline = self._now(now) + self.lease
        k = self.keys
        ok = self._renew([k.leases, k.batch(batch_id)], [batch_id, owner, repr(deadline)])
        return deadline if ok else None

    def lapse(self, batch_id: str, *, owner: str, now: float | None = None) -> bool:
        """End the lease of a batch still owned, at once: the next ``expired_batches`` lists
        it, and a reclaim takes it over (one more attempt). False if not the owner."""
        at = self._now(now)
        k = self.keys
        return bool(self._renew([k.leases, k.batch(batch_id)], [batch_id, owner, repr(at)]))

    def complete(
        self,
        batch_id: str,
        done_ids: Iterable[str],
        failed_ids: Iterable[str] = (),
        *,
        owner: str,
        now: float | None = None,
    ) -> Completion | None:
        """Finish a batch: done ids are never sent again, failed ids are dropped (the caller
        reports them), ids named in neither go back to the buffer. None if the batch is gone
        or was reclaimed by another owner: then nothing changes.
        """
        done = list(dict.fromkeys(done_ids))
        failed = list(dict.fromkeys(failed_ids))
        both = set(done) & set(failed)
        if both:
            raise ValueError(f"ids reported both done and failed: {sorted(both)}")
        at = self._now(now)
        cutoff = "" if self.done_retention is None else repr(at - self.done_retention)
        k = self.keys
        reply = self._complete(
            [k.buffer, k.inflight, k.leases, k.batch(batch_id), k.batch_ids(batch_id), k.done,
             k.origins],
            [batch_id, owner, repr(at), cutoff, len(done), *done, *failed],
        )
        if int(reply[0]) != 1:
            return None
        return Completion(done=int(reply[1]), failed=int(reply[2]), requeued=int(reply[3]))

    def requeue(self, batch_id: str, *, owner: str) -> int | None:
        """Put every id of the batch back in the buffer (a retryable failure, shutdown).

        Returns how many, or None if the batch is gone or owned by another: nothing changes.
        """
        k = self.keys
        reply = self._requeue(
            [k.buffer, k.inflight, k.leases, k.batch(batch_id), k.batch_ids(batch_id)],
            [batch_id, owner],
        )
        return int(reply[1]) if int(reply[0]) == 1 else None

    def expired_batches(self, *, now: float | None = None) -> list[Batch]:
        """In-flight batches whose lease deadline passed (their owner is presumed dead)."""
        raw: list[Any] = self._redis.zrangebyscore(
            self.keys.leases, "-inf", repr(self._now(now))
        )
        batches = (self.get_batch(text(b)) for b in raw)
        return [b for b in batches if b is not None]

    def reclaim(
        self, batch_id: str, *, owner: str | None = None, now: float | None = None
    ) -> Batch | None:
        """Take over an expired batch: same id and ids, new owner and lease.

        None if its lease is live again (another process reclaimed it first) or it is gone.
        """
        at = self._now(now)
        owner = owner or new_token()
        deadline = at + self.lease
        k = self.keys
        reply = self._reclaim(
            [k.leases, k.batch(batch_id), k.batch_ids(batch_id)],
            [batch_id, repr(at), owner, repr(deadline)],
        )
        if reply is None:
            return None
        return Batch(
            batch_id=batch_id,
            owner=owner,
            ids=tuple(text(v) for v in reply[2:]),
            created_at=float(text(reply[0])),
            deadline=deadline,
            attempts=int(text(reply[1])),
        )

    def get_batch(self, batch_id: str) -> Batch | None:
        pipe = self._redis.pipeline(transaction=True)
        pipe.hgetall(self.keys.batch(batch_id))
        pipe.zrange(self.keys.batch_ids(batch_id), 0, -1)
        meta_raw, ids = pipe.execute()
        meta = text_hash(meta_raw)
        if "owner" not in meta:
            return None
        return Batch(
            batch_id=batch_id,
            owner=meta["owner"],
            ids=tuple(text(v) for v in ids),
            created_at=float(meta["created_at"]),
            deadline=float(meta["deadline"]),
            attempts=int(meta["attempts"]),
        )

    def inflight_batches(self) -> list[Batch]:
        raw: list[Any] = self._redis.zrange(self.keys.leases, 0, -1)
        batches = (self.get_batch(text(b)) for b in raw)
        return [b for b in batches if b is not None]

    # -- gauges ----------------------------------------------------------------------------
    def pending_count(self) -> int:
        return int(self._redis.zcard(self.keys.buffer))

    def inflight_count(self) -> int:
        """Ids in in-flight batches."""
        return int(self._redis.hlen(self.keys.inflight))

    def done_count(self) -> int:
        return int(self._redis.zcard(self.keys.done))

    def oldest_age(self, *, now: float | None = None) -> float | None:
        """Seconds the oldest buffered id has waited, None if the buffer is empty."""
        oldest: list[Any] = self._redis.zrange(self.keys.buffer, 0, 0, withscores=True)
        if not oldest:
            return None
        return max(0.0, self._now(now) - float(oldest[0][1]))

    def next_due(self) -> float | None:
        """When the oldest buffered id reaches ``max_wait`` (Unix seconds), None if empty."""
        oldest: list[Any] = self._redis.zrange(self.keys.buffer, 0, 0, withscores=True)
        if not oldest:
            return None
        return float(oldest[0][1]) + self.max_wait

    def _now(self, now: float | None) -> float:
        return self._clock() if now is None else now


__all__ = ["DEFAULT_DONE_RETENTION", "MAX_BATCH", "Batch", "BatchBuffer", "Completion"]
