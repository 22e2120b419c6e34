"""Which comments of a target were already handed on for moderation, and where polling stands.

The poll actor lists a page, asks :meth:`SeenComments.filter_new` which ids are new, enqueues
those for moderation, and only then calls :meth:`SeenComments.mark_seen` and moves the cursor.
A crash between the two re-delivers a page (the moderate actor and the action ledger are
idempotent) instead of losing it.

Memory is bounded per target: the seen set is a sorted set scored by the last time an id was
*listed*. :meth:`filter_new` refreshes the score of every already-seen id it is shown, so a
comment still on the platform's list never ages out and comes back as "new"; ids not listed for
``max_age`` (default 30 days) are dropped, and the whole key expires ``max_age`` after the target
was last polled. Beyond ``max_entries`` (default 20,000) the least recently listed ids are
dropped too, but never one listed within ``listed_window`` (the time a full listing pass takes
to come round again): the set never shrinks below what the article still lists, so an article
with more comments than ``max_entries`` is not re-listed and re-moderated on every poll. A
dropped id that reappears is moderated again: harmless, since every action is idempotent (done
markers, the platforms' own "already done" answers).
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass

import redis

from worker.pipeline._redis import Clock, LuaScript, text, wall_clock
from worker.pipeline.keys import Keys

# KEYS[1] seen zset; ARGV[1] now, ARGV[2] ttl seconds, ARGV[3..] ids (distinct).
# Returns the ids not in the set, in input order; refreshes the score of those that are, so
# ids still listed by the platform are never trimmed away.
_FILTER_NEW = """
local new = {}
local refreshed = 0
for i = 3, #ARGV do
  if redis.call('ZSCORE', KEYS[1], ARGV[i]) then
    redis.call('ZADD', KEYS[1], 'XX', ARGV[1], ARGV[i])
    refreshed = refreshed + 1
  else
    new[#new + 1] = ARGV[i]
  end
end
if refreshed > 0 then
  redis.call('EXPIRE', KEYS[1], ARGV[2])
end
return new
"""

# KEYS[1] seen zset; ARGV[1] now, ARGV[2] drop ids last listed before this, ARGV[3] max entries,
# ARGV[4] ids last listed before this may go to keep max entries, ARGV[5] ttl, ARGV[6..] ids.
# Records the ids as listed now, then trims: by age, then the oldest beyond max entries but
# only among those not listed recently (ranks are in score order, so the first n ranks are the
# n oldest). Returns how many ids the set holds.
_MARK_SEEN = """
for i = 6, #ARGV do
  redis.call('ZADD', KEYS[1], ARGV[1], ARGV[i])
end
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', '(' .. ARGV[2])
local size = redis.call('ZCARD', KEYS[1])
local excess = size - tonumber(ARGV[3])
if excess > 0 then
  local unlisted = redis.call('ZCOUNT', KEYS[1], '-inf', '(' .. ARGV[4])
  local n = math.min(excess, unlisted)
  if n > 0 then
    redis.call('ZREMRANGEBYRANK', KEYS[1], 0, n - 1)
    size = size - n
  end
end
redis.call('EXPIRE', KEYS[1], ARGV[5])
return size
"""

# KEYS[1] cursor; ARGV[1] a canonical non-negative decimal integer. Moves the cursor forward
# only (decimal strings compared by length, then lexically: exact beyond 2^53, unlike Lua
# numbers). Returns 1 if moved.
_ADVANCE_CURSOR = """
local cur = redis.call('GET', KEYS[1])
local new = ARGV[1]
if cur and (#cur > #new or (#cur == #new and cur >= new)) then
  return 0
end
redis.call('SET', KEYS[1], new)
return 1
"""


@dataclass(frozen=True, slots=True, kw_only=True)
class GoneTarget:
    reason: str
    at: float


class SeenComments:
    """Seen-comment sets, cursors and "gone" marks of polled targets.

    ``target_key`` is an opaque string, normally :func:`worker.pipeline.keys.target_key`.
    """

    def __init__(
        self,
        *,
        redis: redis.Redis,
        keys: Keys | None = None,
        max_entries: int = 20_000,
        max_age: float = 30 * 86400.0,
        listed_window: float = 3 * 3600.0,
        clock: Clock = wall_clock,
    ) -> None:
        """``listed_window``: ids listed this recently are still on the platform's list and
        are never trimmed for ``max_entries``; it must exceed the time between two listings of
        the whole target (a full pass), with margin."""
        if max_entries < 1:
            raise ValueError("max_entries must be at least 1")
        if max_age <= 0:
            raise ValueError("max_age must be positive")
        if listed_window < 0:
            raise ValueError("listed_window must not be negative")
        self._redis = redis
        self._keys = keys or Keys()
        self.max_entries = max_entries
        self.max_age = max_age
        self.listed_window = listed_window
        self._clock = clock
        self._filter_new = LuaScript(redis, _FILTER_NEW)
        self._advance = LuaScript(redis, _ADVANCE_CURSOR)
        self._mark_seen = LuaScript(redis, _MARK_SEEN)

    def filter_new(
        self, target_key: str, ids: Iterable[str], *, now: float | None = None
    ) -> list[str]:
        """The ids never marked seen for this target, in input order, without duplicates.

        Refreshes the last-listed time of the ids already seen (see the module docstring).
        """
        unique = list(dict.fromkeys(ids))
        if not unique:
            return []
        at = self._clock() if now is None else now
        reply = self._filter_new(
            [self._keys.seen(target_key)], [repr(at), self._ttl(), *unique]
        )
        return [text(v) for v in reply]

    def mark_seen(self, target_key: str, ids: Iterable[str], *, now: float | None = None) -> None:
        """Record ``ids`` as seen (call after they were safely enqueued), then trim the set."""
        unique = list(dict.fromkeys(ids))
        if not unique:
            return
        at = self._clock() if now is None else now
        self._mark_seen(
            [self._keys.seen(target_key)],
            [repr(at), repr(at - self.max_age), self.max_entries, repr(at - self.listed_window),
             self._ttl(), *unique],
        )

    def seen_count(self, target_key: str) -> int:
        return int(self._redis.zcard(self._keys.seen(target_key)))

    # -- cursor ----------------------------------------------------------------------------
    def get_cursor(self, target_key: str) -> str | None:
        value = self._redis.get(self._keys.cursor(target_key))
        return None if value is None else text(value)

    def set_cursor(self, target_key: str, value: str | int | float) -> None:
        """Set the cursor unconditionally (WeChat: the time of the last full listing pass)."""
        encoded = repr(value) if isinstance(value, float) else str(value)
        self._redis.set(self._keys.cursor(target_key), encoded)

    def advance_cursor(self, target_key: str, value: int) -> bool:
        """Move an integer cursor (Weibo ``since_id``) forward only; False if it was not behind.

        A late poll whose page ended before the stored cursor can never move it back.
        """
        if isinstance(value, bool) or not isinstance(value, int) or value < 0:
            raise ValueError(f"an integer cursor must be a non-negative int, got {value!r}")
        return bool(self._advance([self._keys.cursor(target_key)], [str(value)]))

    # -- targets that no longer exist ------------------------------------------------------
    def mark_target_gone(self, target_key: str, reason: str, *, now: float | None = None) -> None:
        """The article/post is gone (88001, 20101): the scheduler stops polling it."""
        at = self._clock() if now is None else now
        record = json.dumps({"reason": reason, "at": at}, ensure_ascii=False)
        self._redis.hset(self._keys.gone(), target_key, record)

    def is_target_gone(self, target_key: str) -> bool:
        return bool(self._redis.hexists(self._keys.gone(), target_key))

    def gone_targets(self) -> dict[str, GoneTarget]:
        raw = self._redis.hgetall(self._keys.gone())
        out: dict[str, GoneTarget] = {}
        for field, value in raw.items():
            data = json.loads(text(value))
            out[text(field)] = GoneTarget(reason=str(data["reason"]), at=float(data["at"]))
        return out

    def clear_target_gone(self, target_key: str) -> bool:
        """Poll the target again (an operator's decision); True if it was marked gone."""
        return bool(self._redis.hdel(self._keys.gone(), target_key))

    def forget_target(self, target_key: str) -> None:
        """Drop every piece of polling state of a target (removed from the configuration)."""
        pipe = self._redis.pipeline(transaction=True)
        pipe.delete(self._keys.seen(target_key), self._keys.cursor(target_key))
        pipe.hdel(self._keys.gone(), target_key)
        pipe.execute()

    def _ttl(self) -> int:
        return max(1, int(self.max_age))
