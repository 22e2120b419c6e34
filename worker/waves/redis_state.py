"""Waves in Redis: one Lua call per comment records it and returns what it sees.

Comments are named ``<target>/<comment id>`` (WeChat comment ids count per article). Keys, per
(platform, account) space ``<s>`` = ``<p>:wave:<platform>:<account>``:

- ``<s>:bands`` zset, all scores 0, read by lex range: ``<band>:<value>:<name>``, one member
  per LSH band of every recorded comment (8 a comment), so a band's comments are one
  ``ZRANGEBYLEX`` and the whole space is a handful of keys, not one per band value;
- ``<s>:at`` zset: name -> created_at, every recorded comment (to trim by time);
- ``<s>:c`` hash: name -> ``author US created_at US text US bands`` (US = \\x1f): what a
  query needs, compact, since a comment of a large wave reads many of them;
- ``<s>:m`` hash: name -> the comment's text as written (cut), read only when a wave acts on
  its earlier members (:meth:`RedisWaveState.contents`);
- ``<s>:author:<author>`` zset: name -> created_at, for ``author.burst``;
- ``<s>:claimed:<rule>`` hash: name -> wave id (:meth:`RedisWaveState.claim`).

A query reads at most ``4 x at_least`` candidates (at least 20, at most ``MAX_NEIGHBOURS``):
a comment of a wave of thousands costs what one of a wave of twenty does. Every call drops (up
to 200 of) the comments a window before this one, their band members with them, and sets a
TTL of twice the window. Recording is idempotent: a comment observed twice is one member.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

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

US = "\x1f"

# KEYS: at, c, author (or ""), bands, m.   ARGV: name, t, rep_within ("" = none),
# burst_within ("" = none), compact record, ttl (s), max candidates, low, high, the burst
# windows (space-separated), burst low, burst ttl, content. The band values are the record's
# last field.
# Returns {records (name, record, name, record, ...), the author's other comments within each
# burst window (strings, in the order of the windows)}.
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
      for b in string.gmatch(string.match(rec, '[^\\31]*$'), '%S+') do
        gone[#gone + 1] = b .. ':' .. o
      end
      if #gone > 0 then redis.call('ZREM', KEYS[4], unpack(gone)) end
      redis.call('HDEL', KEYS[2], o)
      redis.call('HDEL', KEYS[5], o)
    end
    redis.call('ZREM', KEYS[1], o)
  end
  local found, ids, mine = {}, {}, {}
  for b in string.gmatch(string.match(ARGV[5], '[^\\31]*$'), '%S+') do
    if #ids < cap then
      local near = redis.call('ZRANGEBYLEX', KEYS[4], '[' .. b .. ':', '[' .. b .. ';',
                              'LIMIT', 0, cap)
      for _, m in ipairs(near) do
        local other = string.sub(m, #b + 2)
        if other ~= id and not found[other] and #ids < cap then
          found[other] = true; ids[#ids + 1] = other
        end
      end
    end
    mine[#mine + 1] = 0
    mine[#mine + 1] = b .. ':' .. id
  end
  if #mine > 0 then redis.call('ZADD', KEYS[4], unpack(mine)) end
  redis.call('ZADD', KEYS[1], ARGV[2], id)
  redis.call('HSET', KEYS[2], id, ARGV[5])
  redis.call('HSET', KEYS[5], id, ARGV[13])
  for i = 1, 5 do
    if i ~= 3 then redis.call('EXPIRE', KEYS[i], ttl) end
  end
  if #ids > 0 then
    local values = redis.call('HMGET', KEYS[2], unpack(ids))
    for i, m in ipairs(ids) do
      if values[i] then records[#records + 1] = m; records[#records + 1] = values[i] end
    end
  end
end
if ARGV[4] ~= '' and KEYS[3] ~= '' then
  redis.call('ZREMRANGEBYSCORE', KEYS[3], '-inf', '(' .. ARGV[11])
  local again = redis.call('ZSCORE', KEYS[3], id)
  local t = tonumber(ARGV[2])
  for w in string.gmatch(ARGV[10], '%S+') do
    local n = redis.call('ZCOUNT', KEYS[3], t - tonumber(w), t + tonumber(w))
    if again then n = n - 1 end
    times[#times + 1] = tostring(n)
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


@dataclass(frozen=True, slots=True)
class _Request:
    keys: list[str]
    args: list[str | int]
    at: float
    grams: frozenset[str]
    windows: tuple[float, ...]


class RedisWaveState:
    """:class:`~worker.waves.state.WaveState` shared by every worker through Redis."""

    def __init__(self, *, redis: redis.Redis, keys: Keys | None = None) -> None:
        self._keys = keys or Keys()
        self._redis = redis
        self._grams: dict[str, frozenset[str]] = {}  # texts seen again and again in a wave
        self._spaces: dict[tuple[str, str | None], str] = {}
        self._observe = LuaScript(redis, _OBSERVE)
        self._claim = LuaScript(redis, _CLAIM)

    def space(self, platform: str, account: str | None) -> str:
        found = self._spaces.get((platform, account))
        if found is None:
            found = f"{self._keys.prefix}:wave:{escape(platform)}:{escape(account or '-')}"
            self._spaces[(platform, account)] = found
        return found

    def observe(self, comment: Comment, text: str, query: WaveQuery, *, now: float) -> Observation:
        request = self._request(comment, text, query, now)
        records, counts = self._observe(request.keys, request.args)
        return self._observation(request, records, counts, query)

    def observe_many(
        self, comments: Sequence[tuple[Comment, str]], query: WaveQuery, *, now: float
    ) -> list[Observation]:
        """:meth:`observe` each, in order, in one round trip (the scripts run one after the
        other on the server, so each comment sees the ones before it)."""
        if not comments:
            return []
        requests = [self._request(c, text, query, now) for c, text in comments]
        pipe = self._redis.pipeline(transaction=False)
        for request in requests:
            self._observe.queue(pipe, request.keys, request.args)
        answers = pipe.execute()
        return [self._observation(request, records, counts, query)
                for request, (records, counts) in zip(requests, answers, strict=True)]

    def _request(self, comment: Comment, text: str, query: WaveQuery, now: float) -> _Request:
        at = when_written(comment, now)
        space = self.space(comment.platform, comment.account)
        gram_set = grams(text)
        rep, burst = query.repeated_within, query.burst_within
        band_values = bands(gram_set) if rep is not None else []
        author_key = (
            f"{space}:author:{escape(comment.author)}"
            if comment.author is not None and burst is not None else ""
        )
        record = US.join((comment.author or "", repr(at), text, " ".join(band_values)))
        cap = min(MAX_NEIGHBOURS, max(20, 4 * query.most))
        windows = query.burst_windows or ((burst,) if burst is not None else ())
        args: list[str | int] = [
            member_key(comment.target, comment.id), repr(at), "" if rep is None else repr(rep),
            "" if burst is None else repr(burst), record, _ttl(rep), cap,
            repr(at - (rep or 0.0)), repr(at + (rep or 0.0)),
            " ".join(repr(w) for w in windows), repr(at - (burst or 0.0)),
            _ttl(burst),
            comment.content[:500],
        ]
        keys = [f"{space}:at", f"{space}:c", author_key, f"{space}:bands", f"{space}:m"]
        return _Request(keys, args, at, gram_set, windows)

    def _observation(self, request: _Request, records: Any, counts: Any,
                     query: WaveQuery) -> Observation:
        near: list[Member] = []
        cache = self._grams
        for i in range(0, len(records), 2):
            author, created, other, _ = as_text(records[i + 1]).split(US)
            other_grams = cache.get(other)
            if other_grams is None:
                if len(cache) > 10_000:
                    cache.clear()
                other_grams = cache[other] = grams(other)
            sim = jaccard(request.grams, other_grams)
            if sim >= query.similarity:
                target, _, cid = as_text(records[i]).rpartition("/")
                near.append(Member(cid, None if target == "-" else target, author or None,
                                   float(created), "", sim))
        near.sort(key=lambda m: -m.created_at)
        by_window = {w: int(as_text(n)) for w, n in zip(request.windows, counts, strict=False)}
        return Observation(request.at, tuple(near), author_counts=by_window)

    def contents(
        self, *, platform: str, account: str | None, keys: Sequence[str]
    ) -> dict[str, str]:
        """The recorded texts of ``keys`` (members a wave acts on), as written."""
        if not keys:
            return {}
        values = self._redis.hmget(f"{self.space(platform, account)}:m", list(keys))
        return {k: as_text(v) for k, v in zip(keys, values, strict=True) if v is not None}

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
