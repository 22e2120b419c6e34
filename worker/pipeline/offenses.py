"""Author offense counts in Redis, for the rules' ``author.offenses: {at_least: N, within: 7d}``.

One sorted set per (platform, account, author), member = one offense, score = its time.
Counting is ``ZCOUNT [now - within, now]``. Each record trims entries older than
``retention`` (default 30 days: the longest window a rule may usefully ask for), caps the
set at ``max_entries`` newest, and sets a TTL of ``retention``, so an author who stops
offending costs nothing after a month.

At-least-once delivery: pass ``comment_id`` and the offense is keyed on it, so a redelivered
message counts once (one offense per comment, however many rules matched it). Without a
comment id every call counts.

A ``moderate`` page reads its counts through :class:`PageOffenseCounts`: every count the
page's evaluation may ask for in one round trip, instead of one ``ZCOUNT`` per comment.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Sequence

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

    def count_many(self, questions: Sequence[OffenseQuestion]) -> list[int]:
        """:meth:`count` of each question, in one round trip."""
        pipe = self._redis.pipeline(transaction=False)
        for platform, account, author, within, now in questions:
            key = self._keys.offenses(platform=platform, account=account, author=author)
            pipe.zcount(key, repr(now - within), repr(now))
        return [int(n) for n in pipe.execute()]

    def forget(self, *, platform: str, account: str | None, author: str) -> None:
        self._redis.delete(self._keys.offenses(platform=platform, account=account, author=author))


#: The arguments of one :meth:`RedisOffenseCounter.count`: platform, account, author, within, now.
OffenseQuestion = tuple[str, str | None, str, float, float]
_Author = tuple[str, str | None, str]


class PageOffenseCounts:
    """A page's view of the counter (an :class:`~worker.rules.model.OffenseCounts`): the counts
    :meth:`expect` announces are read together, in one round trip, when the first count is
    asked (a page whose rules never ask reads nothing).

    Counts stay exact within the page: :meth:`record` writes through and drops what was read
    for that author, so a later comment of the page asks Redis again and sees the offense
    (as when each comment read its own count). A count not announced is read on its own.
    """

    def __init__(self, counter: RedisOffenseCounter) -> None:
        self._counter = counter
        self._expected: dict[OffenseQuestion, None] = {}  # ordered, without duplicates
        self._answers: dict[_Author, dict[tuple[float, float], int]] = {}

    def expect(self, questions: Iterable[OffenseQuestion]) -> None:
        """Counts the page's evaluation may ask for (read at the first :meth:`count`)."""
        self._expected.update(dict.fromkeys(questions))

    def count(
        self, *, platform: str, account: str | None, author: str, within: float, now: float
    ) -> int:
        if self._expected:
            self._read_expected()  # the first count asked: every announced one, together
        known = self._answers.setdefault((platform, account, author), {})
        if (within, now) not in known:  # not announced, or its author offended since
            known[(within, now)] = self._counter.count(
                platform=platform, account=account, author=author, within=within, now=now
            )
        return known[(within, now)]

    def record(
        self, *, platform: str, account: str | None, author: str, at: float,
        rule_id: str | None = None, comment_id: str | None = None,
    ) -> None:
        self._counter.record(platform=platform, account=account, author=author, at=at,
                             rule_id=rule_id, comment_id=comment_id)
        self._answers.pop((platform, account, author), None)  # announced, unread: read later

    def _read_expected(self) -> None:
        questions = list(self._expected)
        self._expected = {}
        for (platform, account, author, within, now), answer in zip(
            questions, self._counter.count_many(questions), strict=True
        ):
            self._answers.setdefault((platform, account, author), {})[(within, now)] = answer
