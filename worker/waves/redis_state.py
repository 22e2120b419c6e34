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

from worker.comment import Comment
from worker.pipeline._redis import LuaScript
from worker.pipeline._redis import text as as_text
from worker.pipeline.keys import Keys, escape
from worker.waves.minhash import bands_many, grams, jaccard
from worker.waves.state import (
    MAX_NEIGHBOURS,
    Member,
    Observation,
    WaveQuery,
    member_key,
    when_written,
)

US = "\x1f"
_FIELDS = 7  # ARGV values per comment in _OBSERVE

# One call records a run of comments of one space, in order: each sees the ones before it.
# KEYS: at, c, bands, m, then the authors' keys (those the comments name).
# ARGV: repeated ("" = not asked), burst ("" = not asked), ttl (s), max candidates, the burst
# windows (space-separated), burst ttl, then FIELDS values per comment: name, t, low
# (t - the repeated window), compact record (its last field the band values), content,
# burst low, the index of the author's key in KEYS (0 = none).
# Returns per comment {records (name, record, name, record, ...), the author's other
# comments within each burst window (strings, in the order of the windows)}.
_OBSERVE = """
local rep, burst = ARGV[1] ~= '', ARGV[2] ~= ''
local ttl, cap = tonumber(ARGV[3]), tonumber(ARGV[4])
local windows = {}
for w in string.gmatch(ARGV[5], '%S+') do windows[#windows + 1] = tonumber(w) end
local out = {}
for base = 7, #ARGV, FIELDS do
  local id, at = ARGV[base], ARGV[base + 1]
  local records, times = {}, {}
  if rep then
    local old = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', '(' .. ARGV[base + 2],
                           'LIMIT', 0, 200)
    for _, o in ipairs(old) do
      local rec = redis.call('HGET', KEYS[2], o)
      if rec then
        local gone = {}
        for b in string.gmatch(string.match(rec, '[^\\31]*$'), '%S+') do
          gone[#gone + 1] = b .. ':' .. o
        end
        if #gone > 0 then redis.call('ZREM', KEYS[3], unpack(gone)) end
        redis.call('HDEL', KEYS[2], o)
        redis.call('HDEL', KEYS[4], o)
      end
      redis.call('ZREM', KEYS[1], o)
    end
    local found, ids, mine = {}, {}, {}
    for b in string.gmatch(string.match(ARGV[base + 3], '[^\\31]*$'), '%S+') do
      if #ids < cap then
        local near = redis.call('ZRANGEBYLEX', KEYS[3], '[' .. b .. ':', '[' .. b .. ';',
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
    if #mine > 0 then redis.call('ZADD', KEYS[3], unpack(mine)) end
    redis.call('ZADD', KEYS[1], at, id)
    redis.call('HSET', KEYS[2], id, ARGV[base + 3])
    redis.call('HSET', KEYS[4], id, ARGV[base + 4])
    if #ids > 0 then
      local values = redis.call('HMGET', KEYS[2], unpack(ids))
      for i, m in ipairs(ids) do
        if values[i] then records[#records + 1] = m; records[#records + 1] = values[i] end
      end
    end
  end
  local author = tonumber(ARGV[base + 6])
  if burst and author > 0 then
    local key = KEYS[author]
    redis.call('ZREMRANGEBYSCORE', key, '-inf', '(' .. ARGV[base + 5])
    local again = redis.call('ZSCORE', key, id)
    local t = tonumber(at)
    for _, w in ipairs(windows) do
      local n = redis.call('ZCOUNT', key, t - w, t + w)
      if again then n = n - 1 end
      times[#times + 1] = tostring(n)
    end
    redis.call('ZADD', key, at, id)
    redis.call('EXPIRE', key, ARGV[6])
  end
  out[#out + 1] = {records, times}
end
if rep then
  for i = 1, 4 do redis.call('EXPIRE', KEYS[i], ttl) end
end
return out
""".replace("FIELDS", str(_FIELDS))

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
    """One comment's part of an ``_OBSERVE`` call."""

    space: str
    author_key: str  # "" = none
    fields: list[str]  # name, t, low, record, content, burst low (the author index follows)
    at: float
    grams: frozenset[str]


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
        return self.observe_many([(comment, text)], query, now=now)[0]

    def observe_many(
        self, comments: Sequence[tuple[Comment, str]], query: WaveQuery, *, now: float
    ) -> list[Observation]:
        """:meth:`observe` each, in order: one script call for each run of comments of one
        account (a page is one), so each comment sees the ones before it."""
        if not comments:
            return []
        gram_sets = [grams(text) for _, text in comments]
        band_values = (bands_many(gram_sets) if query.repeated_within is not None
                       else [[] for _ in comments])
        requests = [self._request(c, text, g, b, query, now)
                    for (c, text), g, b in zip(comments, gram_sets, band_values, strict=True)]
        windows = _windows(query)
        out: list[Observation] = []
        start = 0
        while start < len(requests):
            end = start + 1
            while end < len(requests) and requests[end].space == requests[start].space:
                end += 1
            run = requests[start:end]
            answers = self._observe(*self._call(run, query, windows))
            out.extend(self._observation(request, records, counts, query, windows)
                       for request, (records, counts) in zip(run, answers, strict=True))
            start = end
        return out

    def _call(self, run: Sequence[_Request], query: WaveQuery,
              windows: tuple[float, ...]) -> tuple[list[str], list[str | int]]:
        space = run[0].space
        keys = [f"{space}:at", f"{space}:c", f"{space}:bands", f"{space}:m"]
        author_index: dict[str, int] = {}
        args: list[str | int] = [
            "" if query.repeated_within is None else "1",
            "" if query.burst_within is None else "1",
            _ttl(query.repeated_within), min(MAX_NEIGHBOURS, max(20, 4 * query.most)),
            " ".join(repr(w) for w in windows), _ttl(query.burst_within),
        ]
        for request in run:
            index = 0
            if request.author_key:
                index = author_index.get(request.author_key, 0)
                if not index:
                    keys.append(request.author_key)
                    index = author_index[request.author_key] = len(keys)
            args.extend(request.fields)
            args.append(index)
        return keys, args

    def _request(self, comment: Comment, text: str, gram_set: frozenset[str],
                 band_values: list[str], query: WaveQuery, now: float) -> _Request:
        at = when_written(comment, now)
        space = self.space(comment.platform, comment.account)
        rep, burst = query.repeated_within, query.burst_within
        author_key = (
            f"{space}:author:{escape(comment.author)}"
            if comment.author is not None and burst is not None else ""
        )
        record = US.join((comment.author or "", repr(at), text, " ".join(band_values)))
        fields = [
            member_key(comment.target, comment.id), repr(at), repr(at - (rep or 0.0)), record,
            comment.content[:500], repr(at - (burst or 0.0)),
        ]
        return _Request(space, author_key, fields, at, gram_set)

    def _observation(self, request: _Request, records: Any, counts: Any,
                     query: WaveQuery, windows: tuple[float, ...]) -> Observation:
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
        by_window = {w: int(as_text(n)) for w, n in zip(windows, counts, strict=False)}
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


def _windows(query: WaveQuery) -> tuple[float, ...]:
    """The burst windows counted for each comment."""
    burst = query.burst_within
    return query.burst_windows or ((burst,) if burst is not None else ())


def _ttl(window: float | None) -> int:
    return max(60, int(2 * (window or 0.0)) + 60)
