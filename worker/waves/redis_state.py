"""Waves in Redis: one Lua call per comment records it and returns what it sees.

Keys, per (platform, account) space ``<s>`` = ``<p>:wave:<platform>:<account>``:

- ``<s>:band:<band>`` zset: comment id -> created_at, one per LSH band value (16 per comment);
- ``<s>:at`` zset: comment id -> created_at, every recorded comment (to trim ``<s>:c``);
- ``<s>:c`` hash: comment id -> ``[target, author, created_at, content, text]`` (JSON);
- ``<s>:author:<author>`` zset: comment id -> created_at, for ``author.burst``;
- ``<s>:claimed:<rule>`` hash: comment id -> wave id (:meth:`RedisWaveState.claim`).

Every call trims what lies a window before the comment and sets a TTL of twice the window, so
the state of a quiet account disappears and a band nobody touches again expires. Recording is
idempotent: a comment observed twice (a redelivered message) is the same member.
"""

from __future__ import annotations

import json
from collections.abc import Sequence

import redis

from worker.models import Comment
from worker.pipeline._redis import LuaScript
from worker.pipeline._redis import text as as_text
from worker.pipeline.keys import Keys, escape
from worker.waves.minhash import bands, grams, jaccard
from worker.waves.state import MAX_NEIGHBOURS, Member, Observation, WaveQuery, when_written

# KEYS: at, c, author (or ""), band keys...   ARGV: id, t, rep_within ("" = none),
# burst_within ("" = none), record, ttl (s), max neighbours.
# Returns {records (id, record, id, record, ...), author times (strings)}.
_OBSERVE = """
local id, t = ARGV[1], tonumber(ARGV[2])
local ttl, cap = tonumber(ARGV[6]), tonumber(ARGV[7])
local records, times = {}, {}
if ARGV[3] ~= '' then
  local w = tonumber(ARGV[3])
  local low, high = ARGV[8], ARGV[9]
  local old = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', '(' .. low, 'LIMIT', 0, 200)
  if #old > 0 then
    redis.call('HDEL', KEYS[2], unpack(old))
    redis.call('ZREM', KEYS[1], unpack(old))
  end
  local found, ids = {}, {}
  for i = 4, #KEYS do
    redis.call('ZREMRANGEBYSCORE', KEYS[i], '-inf', '(' .. low)
    local near = redis.call('ZREVRANGEBYSCORE', KEYS[i], high, low, 'LIMIT', 0, cap)
    for _, m in ipairs(near) do
      if m ~= id and not found[m] then found[m] = true; ids[#ids + 1] = m end
    end
    redis.call('ZADD', KEYS[i], ARGV[2], id)
    redis.call('EXPIRE', KEYS[i], ttl)
  end
  redis.call('ZADD', KEYS[1], ARGV[2], id)
  redis.call('HSET', KEYS[2], id, ARGV[5])
  redis.call('EXPIRE', KEYS[1], ttl)
  redis.call('EXPIRE', KEYS[2], ttl)
  if #ids > 0 then
    local values = redis.call('HMGET', KEYS[2], unpack(ids))
    for i, m in ipairs(ids) do
      if values[i] then records[#records + 1] = m; records[#records + 1] = values[i] end
    end
  end
end
if ARGV[4] ~= '' and KEYS[3] ~= '' then
  local low, high = ARGV[10], ARGV[11]
  redis.call('ZREMRANGEBYSCORE', KEYS[3], '-inf', '(' .. low)
  local mine = redis.call('ZREVRANGEBYSCORE', KEYS[3], high, low, 'WITHSCORES', 'LIMIT', 0, cap)
  for i = 1, #mine, 2 do
    if mine[i] ~= id then times[#times + 1] = mine[i + 1] end
  end
  redis.call('ZADD', KEYS[3], ARGV[2], id)
  redis.call('EXPIRE', KEYS[3], ARGV[12])
end
return {records, times}
"""

# KEYS[1] claimed hash. ARGV: ttl, proposed wave id, ids...
# Returns {wave id, ids newly claimed}: the first claim of an id wins, once, across workers.
_CLAIM = """
local wave = nil
local got = redis.call('HMGET', KEYS[1], unpack(ARGV, 3))
for _, v in ipairs(got) do
  if v then wave = v; break end
end
wave = wave or ARGV[2]
local new = {}
for i = 3, #ARGV do
  if redis.call('HSETNX', KEYS[1], ARGV[i], wave) == 1 then new[#new + 1] = ARGV[i] end
end
redis.call('EXPIRE', KEYS[1], ARGV[1])
return {wave, new}
"""


class RedisWaveState:
    """:class:`~worker.waves.state.WaveState` shared by every worker through Redis."""

    def __init__(self, *, redis: redis.Redis, keys: Keys | None = None) -> None:
        self._keys = keys or Keys()
        self._observe = LuaScript(redis, _OBSERVE)
        self._claim = LuaScript(redis, _CLAIM)

    def space(self, platform: str, account: str | None) -> str:
        return f"{self._keys.prefix}:wave:{escape(platform)}:{escape(account or '-')}"

    def observe(self, comment: Comment, text: str, query: WaveQuery, *, now: float) -> Observation:
        at = when_written(comment, now)
        space = self.space(comment.platform, comment.account)
        gram_set = grams(text)
        band_keys = [f"{space}:band:{b}" for b in bands(gram_set)] if query.repeated_within else []
        author_key = (
            f"{space}:author:{escape(comment.author)}"
            if comment.author is not None and query.burst_within is not None else ""
        )
        rep = query.repeated_within
        burst = query.burst_within
        record = json.dumps(
            [comment.target, comment.author, at, comment.content[:500], text],
            ensure_ascii=False,
        )
        args: list[str | int] = [
            comment.id, repr(at), "" if rep is None else repr(rep),
            "" if burst is None else repr(burst), record, _ttl(rep), MAX_NEIGHBOURS,
            repr(at - (rep or 0.0)), repr(at + (rep or 0.0)),
            repr(at - (burst or 0.0)), repr(at + (burst or 0.0)), _ttl(burst),
        ]
        records, times = self._observe([f"{space}:at", f"{space}:c", author_key, *band_keys], args)
        near: list[Member] = []
        for i in range(0, len(records), 2):
            target, author, created, content, other = json.loads(as_text(records[i + 1]))
            sim = jaccard(gram_set, grams(other))
            if sim >= query.similarity:
                member = Member(as_text(records[i]), target, author, float(created), content, sim)
                near.append(member)
        near.sort(key=lambda m: -m.created_at)
        return Observation(at, tuple(near), tuple(float(as_text(t)) for t in times))

    def claim(
        self, *, platform: str, account: str | None, rule: str, ids: Sequence[str],
        wave: str, within: float,
    ) -> tuple[str, list[str]]:
        """See :meth:`worker.waves.state.WaveState.claim`; atomic across workers."""
        if not ids:
            return wave, []
        key = f"{self.space(platform, account)}:claimed:{escape(rule)}"
        got, new = self._claim([key], [_ttl(within), wave, *ids])
        return as_text(got), [as_text(i) for i in new]


def _ttl(window: float | None) -> int:
    return max(60, int(2 * (window or 0.0)) + 60)
