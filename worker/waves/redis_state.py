"""Waves in Redis: one Lua call per comment records it and returns what it sees.

Keys, per (platform, account) space ``<s>`` = ``<p>:wave:<platform>:<account>``:

Comments are named ``<target>/<comment id>`` (WeChat comment ids count per article).

- ``<s>:bands`` zset, all scores 0, read by lex range: ``<band>:<value>:<name>``, one
  member per LSH band of every recorded comment (16 a comment), so a band's comments are one
  ``ZRANGEBYLEX`` and the whole space is a handful of keys, not one per band value;
- ``<s>:at`` zset: comment id -> created_at, every recorded comment (to trim by time);
- ``<s>:c`` hash: name -> ``[target, author, created_at, content, text, bands, id]`` (JSON);
- ``<s>:author:<author>`` zset: comment id -> created_at, for ``author.burst``;
- ``<s>:claimed:<rule>`` hash: comment id -> wave id (:meth:`RedisWaveState.claim`).

Every call drops (up to 200 of) the comments a window before this one, their band members
with them, and sets a TTL of twice the window, so the state of a quiet account disappears.
Recording is idempotent: a comment observed twice (a redelivered message) is the same member.
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
from worker.waves.state import (
    MAX_NEIGHBOURS,
    Member,
    Observation,
    WaveQuery,
    member_key,
    when_written,
)

# KEYS: at, c, author (or ""), bands.   ARGV: id, t, rep_within ("" = none), burst_within
# ("" = none), record, ttl (s), max neighbours, low, high, burst low, burst high, burst ttl,
# then the comment's band values.
# Returns {records (id, record, id, record, ...), author times (strings)}.
_OBSERVE = """
local id = ARGV[1]
local ttl, cap = tonumber(ARGV[6]), tonumber(ARGV[7])
local records, times = {}, {}
if ARGV[3] ~= '' then
  local old = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', '(' .. ARGV[8], 'LIMIT', 0, 200)
  for _, o in ipairs(old) do
    local rec = redis.call('HGET', KEYS[2], o)
    if rec then
      local gone = {}
      for _, b in ipairs(cjson.decode(rec)[6]) do gone[#gone + 1] = b .. ':' .. o end
      if #gone > 0 then redis.call('ZREM', KEYS[4], unpack(gone)) end
      redis.call('HDEL', KEYS[2], o)
    end
    redis.call('ZREM', KEYS[1], o)
  end
  local found, ids, mine = {}, {}, {}
  for i = 13, #ARGV do
    local b = ARGV[i]
    local near = redis.call('ZRANGEBYLEX', KEYS[4], '[' .. b .. ':', '[' .. b .. ';',
                            'LIMIT', 0, cap)
    for _, m in ipairs(near) do
      local other = string.sub(m, #b + 2)
      if other ~= id and not found[other] then found[other] = true; ids[#ids + 1] = other end
    end
    mine[#mine + 1] = 0
    mine[#mine + 1] = b .. ':' .. id
  end
  if #mine > 0 then redis.call('ZADD', KEYS[4], unpack(mine)) end
  redis.call('ZADD', KEYS[1], ARGV[2], id)
  redis.call('HSET', KEYS[2], id, ARGV[5])
  redis.call('EXPIRE', KEYS[1], ttl)
  redis.call('EXPIRE', KEYS[2], ttl)
  redis.call('EXPIRE', KEYS[4], ttl)
  if #ids > 0 then
    local values = redis.call('HMGET', KEYS[2], unpack(ids))
    for i, m in ipairs(ids) do
      if values[i] then records[#records + 1] = m; records[#records + 1] = values[i] end
    end
  end
end
if ARGV[4] ~= '' and KEYS[3] ~= '' then
  redis.call('ZREMRANGEBYSCORE', KEYS[3], '-inf', '(' .. ARGV[10])
  local seen = redis.call('ZREVRANGEBYSCORE', KEYS[3], ARGV[11], ARGV[10], 'WITHSCORES',
                          'LIMIT', 0, cap)
  for i = 1, #seen, 2 do
    if seen[i] ~= id then times[#times + 1] = seen[i + 1] end
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
        rep, burst = query.repeated_within, query.burst_within
        band_values = bands(gram_set) if rep is not None else []
        author_key = (
            f"{space}:author:{escape(comment.author)}"
            if comment.author is not None and burst is not None else ""
        )
        record = json.dumps(
            [comment.target, comment.author, at, comment.content[:500], text, band_values,
             comment.id],
            ensure_ascii=False,
        )
        args: list[str | int] = [
            member_key(comment.target, comment.id), repr(at), "" if rep is None else repr(rep),
            "" if burst is None else repr(burst), record, _ttl(rep), MAX_NEIGHBOURS,
            repr(at - (rep or 0.0)), repr(at + (rep or 0.0)),
            repr(at - (burst or 0.0)), repr(at + (burst or 0.0)), _ttl(burst), *band_values,
        ]
        records, times = self._observe(
            [f"{space}:at", f"{space}:c", author_key, f"{space}:bands"], args
        )
        near: list[Member] = []
        for i in range(0, len(records), 2):
            target, author, created, content, other, _, cid = json.loads(as_text(records[i + 1]))
            sim = jaccard(gram_set, grams(other))
            if sim >= query.similarity:
                member = Member(str(cid), target, author, float(created), content, sim)
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
