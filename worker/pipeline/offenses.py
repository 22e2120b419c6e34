"""Author offense counts in Redis, for the rules' ``author.offenses: {at_least: N, within: 7d}``.

One sorted set per (platform, account, author), member = one offense, score = its time.
Counting is ``ZCOUNT [now - within, now]``. Each record trims entries older than
``retention`` (default 30 days: the longest window a rule may usefully ask for), caps the
set at ``max_entries`` newest, and sets a TTL of ``retention``, so an author who stops
offending costs nothing after a month.

At-least-once delivery: pass ``comment_id`` and the offense is keyed on it, so a redelivered
message counts once (one offense per comment, however many rules matched it). Without a
comment id every call counts.
"""

from __future__ import annotations

import uuid

import redis

from worker.pipeline.keys import Keys, escape


class RedisOffenseCounter:
    """The daemon's :class:`~worker.rules.model.OffenseCounts`, in Redis."""

    def __init__(
        self,
        *,
        redis: redis.Redis,
        keys: Keys | None = None,
        retention: float = 30 * 86400.0,
        max_entries: int = 1000,
    ) -> None:
        if retention <= 0:
            raise ValueError("retention must be positive")
        if max_entries < 1:
            raise ValueError("max_entries must be at least 1")
        self._redis = redis
        self._keys = keys or Keys()
        self.retention = retention
        self.max_entries = max_entries

    def record(
        self,
        *,
        platform: str,
        account: str | None,
        author: str,
        at: float,
        rule_id: str | None = None,
        comment_id: str | None = None,
    ) -> None:
        """Count one offense by ``author`` at ``at``; idempotent per ``comment_id`` if given."""
        if comment_id is not None:
            member = f"c:{escape(comment_id)}"
        else:
            member = f"r:{escape(rule_id or '-')}:{uuid.uuid4().hex}"
        key = self._keys.offenses(platform=platform, account=account, author=author)
        pipe = self._redis.pipeline(transaction=True)
        pipe.zadd(key, {member: at}, nx=True)
        pipe.zremrangebyscore(key, "-inf", f"({at - self.retention!r}")
        pipe.zremrangebyrank(key, 0, -(self.max_entries + 1))
        pipe.expire(key, max(1, int(self.retention)))
        pipe.execute()

    def count(
        self, *, platform: str, account: str | None, author: str, within: float, now: float
    ) -> int:
        """Offenses in ``[now - within, now]`` (at most ``retention`` back)."""
        key = self._keys.offenses(platform=platform, account=account, author=author)
        return int(self._redis.zcount(key, repr(now - within), repr(now)))

    def forget(self, *, platform: str, account: str | None, author: str) -> None:
        self._redis.delete(self._keys.offenses(platform=platform, account=account, author=author))
