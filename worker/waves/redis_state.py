"""Waves in Redis: one Lua call per page of comments records them and returns what each sees.

Comments are named ``<target>/<comment id>`` (WeChat comment ids count per article). Keys, per
(platform, account) space ``<s>`` = ``<p>:wave:<platform>:<account>``:

- ``<s>:w:<E>:<n>`` hash, one per *epoch*: the comments created in ``[n*E, (n+1)*E)``, ``E``
  the longest ``repeated`` window in whole seconds. Its fields:
  ``<band>:<value>`` -> the names sharing that LSH band value, newest first, separated by
  RS (\\x1e), at least the newest ``cap`` (cut back to ``cap`` when about twice that);
  ``r<name>`` -> the compact record a query reads (``author US created_at US text``, US =
  \\x1f); ``m<name>`` -> the text as written, read only when a wave acts on its earlier
  members (:meth:`contents`).
  A comment at ``t`` reads the 2 or 3 epochs ``[t - E, t + E]`` touches (one HMGET of its 8
  band fields each, one HMGET of the candidates' records) and writes its own (one HSET): no
  range scan, no per-comment trimming. An epoch expires ``E + window + 60`` s after its last
  write, so it lives while a query can need it; a member older than the window but still in
  a read epoch is dropped on read (its ``created_at`` is in its record);
- ``<s>:author:<author>`` zset: name -> created_at, for ``author.burst``; read by score
  range (so stale members never count), trimmed by one comment in eight;
- ``<s>:claimed:<rule>`` hash: name -> wave id (:meth:`RedisWaveState.claim`).

A query reads at most ``cap`` = ``4 x at_least`` candidates (at least 20, at most
``MAX_NEIGHBOURS``), newest epoch and newest bucket entries first: a comment of a wave of
thousands costs what one of a wave of twenty does. Recording is idempotent: a comment
observed twice (its record already in its epoch) is one member.

Changing the longest ``repeated`` window changes ``E`` and so the keys: waves start afresh
(the old epochs expire on their own).
"""

from __future__ import annotations

import math
import zlib
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
_FIELDS = 10  # ARGV values per comment in _OBSERVE
_TRIM_ONE_IN = 8  # an author's burst set is trimmed on one comment in this many

# One call records a run of comments of one space, in order: each sees the ones before it.
# KEYS: the epochs and the authors' keys the comments name.
# ARGV: repeated ("" = not asked), burst ("" = not asked), epoch ttl (s), cap (candidates),
# the burst windows (space-separated), burst ttl, then FIELDS values per comment: name, t,
# record, content, band fields (space-separated), the KEYS indices of the epochs to read
# (newest first, space-separated), the KEYS index of its own epoch, the KEYS index of the
# author's key (0 = none), burst low (t - the burst window), trim ("" = no).
# Returns per comment {records (name, record, name, record, ...), the creation times of the
# author's other comments within the widest burst window before and after it (at most
# 2 x MAX_NEIGHBOURS: more than enough for any at_least)}.
_OBSERVE = """
local rep, burst = ARGV[1] ~= '', ARGV[2] ~= ''
local cap = tonumber(ARGV[4])
local windows = {}
for w in string.gmatch(ARGV[5], '%S+') do windows[#windows + 1] = tonumber(w) end
local written, authors, out = {}, {}, {}
for base = 7, #ARGV, FIELDS do
  local id, at = ARGV[base], ARGV[base + 1]
  local records, counts = {}, {}
  if rep then
    local fields = {}
    for b in string.gmatch(ARGV[base + 4], '%S+') do fields[#fields + 1] = b end
    local nb = #fields
    fields[nb + 1] = 'r' .. id
    local own = tonumber(ARGV[base + 6])
    local found, n, mine = {}, 0, {}
    for k in string.gmatch(ARGV[base + 5], '%S+') do
      k = tonumber(k)
      local got = redis.call('HMGET', KEYS[k], unpack(fields))
      if k == own then mine = got end
      local names = {}
      for i = 1, nb do
        if n >= cap then break end
        if got[i] then
          for other in string.gmatch(got[i], '[^\\30]+') do
            if other ~= id and not found[other] then
              found[other] = true; n = n + 1; names[#names + 1] = 'r' .. other
              if n >= cap then break end
            end
          end
        end
      end
      if #names > 0 then
        local values = redis.call('HMGET', KEYS[k], unpack(names))
        for i = 1, #names do
          if values[i] then
            records[#records + 1] = string.sub(names[i], 2); records[#records + 1] = values[i]
          end
        end
      end
    end
    if not mine[nb + 1] then
      local set = {'r' .. id, ARGV[base + 2], 'm' .. id, ARGV[base + 3]}
      local budget = 2 * cap * (#id + 1)
      for i = 1, nb do
        local bucket, old = id, mine[i]
        if old then
          if #old > budget then  -- about twice the cap: keep the newest cap - 1, counted
            local at = 0
            for _ = 1, cap - 1 do
              at = string.find(old, '\\30', at + 1, true)
              if not at then break end
            end
            if at then old = string.sub(old, 1, at - 1) end
          end
          bucket = id .. '\\30' .. old
        end
        set[#set + 1] = fields[i]; set[#set + 1] = bucket
      end
      redis.call('HSET', KEYS[own], unpack(set))
      written[own] = true
    end
  end
  local author = tonumber(ARGV[base + 7])
  if burst and author > 0 then
    local key = KEYS[author]
    if ARGV[base + 9] ~= '' then
      redis.call('ZREMRANGEBYSCORE', key, '-inf', '(' .. ARGV[base + 8])
    end
    redis.call('ZADD', key, at, id)
    local t, widest = tonumber(at), 0
    for _, w in ipairs(windows) do widest = math.max(widest, w) end
    local got = redis.call('ZRANGEBYSCORE', key, t - widest, t + widest, 'WITHSCORES',
                           'LIMIT', 0, BURST_CAP)
    for i = 1, #got, 2 do
      if got[i] ~= id then counts[#counts + 1] = got[i + 1] end
    end
    authors[author] = true
  end
  out[#out + 1] = {records, counts}
end
for k in pairs(written) do redis.call('EXPIRE', KEYS[k], ARGV[3]) end
for k in pairs(authors) do redis.call('EXPIRE', KEYS[k], ARGV[6]) end
return out
""".replace("FIELDS", str(_FIELDS)).replace("BURST_CAP", str(2 * MAX_NEIGHBOURS + 1))

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
    """One comment's part of an ``_OBSERVE`` call, its keys named (indices come per call)."""

    space: str
    name: str
    at: float
    grams: frozenset[str]
    record: str
    content: str
    band_fields: str
    epochs: tuple[str, ...]  # the epoch keys to read, newest first
    own_epoch: str
    author_key: str  # "" = none


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
            answers = self._observe(*_call(run, query, windows))
            out.extend(self._observation(request, records, times, query)
                       for request, (records, times) in zip(run, answers, strict=True))
            start = end
        return out

    def _request(self, comment: Comment, text: str, gram_set: frozenset[str],
                 band_values: list[str], query: WaveQuery, now: float) -> _Request:
        at = when_written(comment, now)
        space = self.space(comment.platform, comment.account)
        epochs: tuple[str, ...] = ()
        own = ""
        within = query.repeated_within
        if within is not None:
            epochs = _epochs(space, within, at - within, at + within)
            own = _epochs(space, within, at, at)[0]
        author_key = (
            f"{space}:author:{escape(comment.author)}"
            if comment.author is not None and query.burst_within is not None else ""
        )
        return _Request(
            space=space, name=member_key(comment.target, comment.id), at=at, grams=gram_set,
            record=US.join((comment.author or "", repr(at), text)),
            content=comment.content[:500], band_fields=" ".join(band_values),
            epochs=epochs, own_epoch=own, author_key=author_key,
        )

    def _observation(self, request: _Request, records: Any, times: Any,
                     query: WaveQuery) -> Observation:
        near: list[Member] = []
        cache = self._grams
        within = query.repeated_within or 0.0
        for i in range(0, len(records), 2):
            author, created, other = as_text(records[i + 1]).split(US, 2)
            at = float(created)
            if abs(at - request.at) > within:
                continue  # an older member of an epoch still read: out of the window
            other_grams = cache.get(other)
            if other_grams is None:
                if len(cache) > 10_000:
                    cache.clear()
                other_grams = cache[other] = grams(other)
            sim = jaccard(request.grams, other_grams)
            if sim >= query.similarity:
                target, _, cid = as_text(records[i]).rpartition("/")
                near.append(Member(cid, None if target == "-" else target, author or None,
                                   at, "", sim))
        near.sort(key=lambda m: -m.created_at)
        return Observation(request.at, tuple(near),
                           author_times=tuple(float(as_text(t)) for t in times))

    def contents(
        self, *, platform: str, account: str | None, members: Sequence[Member], within: float
    ) -> dict[str, str]:
        """The recorded texts of ``members`` (those a wave acts on), as written; ``within``
        is the longest ``repeated`` window (it names their epochs)."""
        if not members:
            return {}
        space = self.space(platform, account)
        by_epoch: dict[str, list[str]] = {}
        for member in members:
            epoch = _epochs(space, within, member.created_at, member.created_at)[0]
            by_epoch.setdefault(epoch, []).append(member.key)
        pipe = self._redis.pipeline(transaction=False)
        for key, names in by_epoch.items():
            pipe.hmget(key, [f"m{n}" for n in names])
        out: dict[str, str] = {}
        for names, values in zip(by_epoch.values(), pipe.execute(), strict=True):
            out.update((n, as_text(v)) for n, v in zip(names, values, strict=True)
                       if v is not None)
        return out

    def claim(
        self, *, platform: str, account: str | None, rule: str, ids: Sequence[str],
        wave: str, within: float,
    ) -> tuple[str, list[str]]:
        """See :meth:`worker.waves.state.WaveState.claim`; atomic across workers."""
        if not ids:
            return wave, []
        key = f"{self.space(platform, account)}:claimed:{escape(rule)}"
        got, new = self._claim([key], [_ttl(2 * within), wave, *ids])
        return as_text(got), [as_text(i) for i in new]


def _call(run: Sequence[_Request], query: WaveQuery,
          windows: tuple[float, ...]) -> tuple[list[str], list[str | int]]:
    """The KEYS and ARGV of one ``_OBSERVE`` call for a run of one space's comments."""
    keys: list[str] = []
    index: dict[str, int] = {}

    def key_index(key: str) -> int:
        found = index.get(key)
        if found is None:
            keys.append(key)
            found = index[key] = len(keys)
        return found

    rep, burst = query.repeated_within, query.burst_within
    epoch_ttl = 0 if rep is None else _ttl(_epoch_width(rep) + rep)  # written at its start
    args: list[str | int] = [
        "" if rep is None else "1", "" if burst is None else "1", epoch_ttl,
        min(MAX_NEIGHBOURS, max(20, 4 * query.most)),
        " ".join(repr(w) for w in windows), _ttl(2 * (burst or 0.0)),
    ]
    for r in run:
        reads = " ".join(str(key_index(k)) for k in r.epochs)
        trim = "1" if zlib.crc32(r.name.encode()) % _TRIM_ONE_IN == 0 else ""
        args.extend((
            r.name, repr(r.at), r.record, r.content, r.band_fields, reads,
            key_index(r.own_epoch) if r.own_epoch else 0,
            key_index(r.author_key) if r.author_key else 0,
            repr(r.at - (burst or 0.0)), trim,
        ))
    return keys, args


def _windows(query: WaveQuery) -> tuple[float, ...]:
    """The burst windows counted for each comment."""
    burst = query.burst_within
    return query.burst_windows or ((burst,) if burst is not None else ())


def _epoch_width(window: float) -> int:
    """The span of one epoch hash: the longest ``repeated`` window, whole seconds."""
    return max(1, math.ceil(window))


def _epochs(space: str, window: float, low: float, high: float) -> tuple[str, ...]:
    """The keys of the epochs holding comments created in ``[low, high]``, newest first."""
    width = _epoch_width(window)
    return tuple(f"{space}:w:{width}:{n}"
                 for n in range(math.floor(high / width), math.floor(low / width) - 1, -1))


def _ttl(needed: float) -> int:
    """Seconds a key outlives its last write: what a later query can still need, and a
    minute to spare."""
    return max(60, int(needed) + 60)
