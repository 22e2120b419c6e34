"""Each target's poll bookkeeping and each account's poll budget, in Redis.

The read API (:meth:`PollBook.status`, :meth:`PollBook.statuses`, :meth:`PollBook.budget`)
is what ``modworker targets list``, ``modworker stats`` and the health endpoint show; the
scheduler writes through :meth:`PollBook.sent` and :meth:`PollBook.set_budget`, the poll
actor through :meth:`PollBook.polled`.

``<p>:tstat:<target>`` hash (``<target>`` a target key, :func:`~worker.pipeline.keys.target_key`):

- ``interval``, ``last_new``, ``retired``, ``rate``, ``rated_at``: the
  :class:`~worker.targets.policy.Temperature`;
- ``sent_at``: when the scheduler sent the last poll; ``next_poll``: when the next is due;
- ``polls``: polls done.

When the last poll ended and the comments new to a poll over the target's life are not
kept twice: they are read from the target's freshness record (``<p>:fresh:t:<target>``,
``last_ok`` and ``comments_seen``, :mod:`worker.pipeline.freshness`), which the poll actor
writes with each successful poll as it writes the temperature here.

``<p>:budget:<account>`` hash: ``limit``, ``used``, ``measured_at``, ``reset_at``, ``share``,
``polled`` (the last :class:`~worker.targets.budget.Budget` measured), ``spent`` (poll calls
since) and ``carry`` (what the bucket started with).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

import redis as redis_lib
from redis.typing import EncodableT, FieldT

from worker.pipeline._redis import text_hash
from worker.pipeline.keys import Keys
from worker.targets.budget import BURST, Budget
from worker.targets.planner import AccountBudget
from worker.targets.policy import PollPolicy, TargetState, Temperature, fresh, state_of


@dataclass(frozen=True, slots=True, kw_only=True)
class TargetStatus:
    """What is known of one target's polling (None: not yet)."""

    temperature: Temperature | None
    last_poll: float | None  # when the last poll ended
    next_poll: float | None
    seen: int
    polls: int
    sent_at: float | None = None  # when the scheduler last sent a poll

    def state(
        self, policy: PollPolicy, *, gone: bool = False, removed: bool = False
    ) -> TargetState:
        if removed:
            return "removed"
        if gone:
            return "gone"
        if self.temperature is None:
            return "hot"  # never polled: it is polled at once
        return state_of(policy, self.temperature)


def _float(raw: dict[str, str], name: str) -> float | None:
    value = raw.get(name)
    return float(value) if value not in (None, "") else None


def _temperature_fields(temperature: Temperature) -> dict[FieldT, EncodableT]:
    return {
        "interval": temperature.interval, "last_new": temperature.last_new,
        "retired": int(temperature.retired), "rate": temperature.rate,
        "rated_at": "" if temperature.rated_at is None else temperature.rated_at,
    }


def _status(hash_: Any, freshness: Any) -> TargetStatus:
    """A target's status from its ``tstat`` hash and its freshness record."""
    raw = text_hash(hash_)
    polled = text_hash(freshness)
    interval, last_new = _float(raw, "interval"), _float(raw, "last_new")
    temperature = None
    if interval is not None and last_new is not None:
        temperature = Temperature(
            interval=interval, last_new=last_new, retired=raw.get("retired") == "1",
            rate=_float(raw, "rate") or 0.0, rated_at=_float(raw, "rated_at"),
        )
    return TargetStatus(
        temperature=temperature,
        last_poll=_float(polled, "last_ok"),
        next_poll=_float(raw, "next_poll"),
        seen=int(polled.get("comments_seen") or 0),
        polls=int(raw.get("polls", 0)),
        sent_at=_float(raw, "sent_at"),
    )


class PollBook:
    def __init__(self, *, redis: redis_lib.Redis, keys: Keys) -> None:
        self._redis = redis
        self._keys = keys

    # -- read API ----------------------------------------------------------------------------
    def status(self, tkey: str) -> TargetStatus:
        return self.statuses([tkey])[tkey]

    def statuses(self, tkeys: list[str]) -> dict[str, TargetStatus]:
        """:meth:`status` of many targets in one round trip."""
        pipe = self._redis.pipeline(transaction=False)
        for tkey in tkeys:
            pipe.hgetall(self._keys.target_status(tkey))
            pipe.hgetall(self._keys.freshness(tkey))
        replies = pipe.execute()
        return {tkey: _status(replies[2 * n], replies[2 * n + 1]) for n, tkey in enumerate(tkeys)}

    def budget(self, account: str) -> AccountBudget | None:
        """The account's last measured budget, the poll calls spent since and the bucket's
        start, if measured."""
        raw = text_hash(self._redis.hgetall(self._keys.budget(account)))
        if "limit" not in raw:
            return None
        budget = Budget(
            limit=int(raw["limit"]), used=int(raw["used"]),
            measured_at=float(raw["measured_at"]), reset_at=float(raw["reset_at"]),
            share=float(raw["share"]), polled=float(raw.get("polled", 0)),
        )
        return AccountBudget(
            budget=budget, spent=float(raw.get("spent", 0)), carry=float(raw.get("carry", 0))
        )

    # -- writes ------------------------------------------------------------------------------
    def temperature(self, tkey: str, policy: PollPolicy, *, now: float) -> Temperature:
        """The target's temperature, a fresh one (written) when it has none yet."""
        current = self.status(tkey).temperature
        if current is None:
            current = fresh(policy, now)
            self.set_temperature(tkey, current)
        return current

    def set_temperature(self, tkey: str, temperature: Temperature) -> None:
        self._redis.hset(self._keys.target_status(tkey), mapping=_temperature_fields(temperature))

    def revive(self, tkey: str, policy: PollPolicy, *, now: float) -> None:
        """``targets add`` of a known target: hot again, polled at once."""
        self.set_temperature(tkey, fresh(policy, now))
        pipe = self._redis.pipeline(transaction=True)
        pipe.hset(self._keys.target_status(tkey), "next_poll", now)
        pipe.hdel(self._keys.target_status(tkey), "sent_at")
        pipe.execute()

    def sent(self, tkey: str, *, now: float, next_poll: float) -> None:
        """The scheduler sent a poll at ``now``; the next is due at ``next_poll``."""
        self._redis.hset(self._keys.target_status(tkey),
                         mapping={"sent_at": now, "next_poll": next_poll})

    def polled(self, tkey: str, temperature: Temperature) -> None:
        """A poll ended, leaving the target at ``temperature`` (when it ended and what it
        found are the freshness record's: :meth:`~worker.pipeline.freshness.Freshness.
        poll_succeeded`)."""
        pipe = self._redis.pipeline(transaction=True)
        key = self._keys.target_status(tkey)
        pipe.hset(key, mapping=_temperature_fields(temperature))
        pipe.hincrby(key, "polls", 1)
        pipe.execute()

    def set_budget(self, account: str, budget: Budget, *, now: float) -> AccountBudget:
        """A new measurement: the spend counts from it; the bucket starts with what the
        previous measurement left unspent (:data:`BURST` at the first, and in a new quota
        window); ``polled`` counts on within one window."""
        previous = self.budget(account)
        if previous is not None and previous.budget.reset_at == budget.reset_at:
            budget = replace(budget, polled=previous.budget.polled + previous.spent)
            carry = previous.budget.carry(now=now, spent=previous.spent)
        else:
            budget = replace(budget, polled=0.0)
            carry = min(BURST, budget.poll_calls)
        self._redis.hset(self._keys.budget(account), mapping={
            "limit": budget.limit, "used": budget.used, "measured_at": budget.measured_at,
            "reset_at": budget.reset_at, "share": budget.share, "polled": budget.polled,
            "spent": 0, "carry": carry,
        })
        return AccountBudget(budget=budget, spent=0.0, carry=carry)

    def spend(self, account: str, calls: float = 1.0) -> None:
        self._redis.hincrbyfloat(self._keys.budget(account), "spent", calls)
