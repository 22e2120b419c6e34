"""Each target's poll bookkeeping and each account's poll budget, in Redis.

The read API (:meth:`PollBook.status`, :meth:`PollBook.budget`) is what ``modworker targets
list``, ``modworker stats`` and the health endpoint show; the scheduler and the poll actor
write through :meth:`PollBook.scheduled` and :meth:`PollBook.polled`.

``<p>:tstat:<target>`` hash (``<target>`` a target key, :func:`~worker.pipeline.keys.target_key`):

- ``interval``, ``last_new``, ``retired``: the :class:`~worker.targets.policy.Temperature`;
- ``last_poll``: when the last poll ended; ``next_poll``: when the next is due;
- ``seen``: comments new to a poll, counted over the target's life; ``polls``: polls done.

``<p>:budget:<account>`` hash: ``limit``, ``used``, ``measured_at``, ``reset_at``, ``share``
(the last :class:`~worker.targets.budget.Budget` measured) and ``spent`` (poll calls since).
"""

from __future__ import annotations

from dataclasses import dataclass

import redis as redis_lib

from worker.pipeline.keys import Keys
from worker.targets.budget import BURST, Budget
from worker.targets.planner import AccountBudget
from worker.targets.policy import PollPolicy, TargetState, Temperature, fresh, state_of


@dataclass(frozen=True, slots=True, kw_only=True)
class TargetStatus:
    """What is known of one target's polling (None: not yet)."""

    temperature: Temperature | None
    last_poll: float | None
    next_poll: float | None
    seen: int
    polls: int

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


class PollBook:
    def __init__(self, *, redis: redis_lib.Redis, keys: Keys) -> None:
        self._redis = redis
        self._keys = keys

    # -- read API ----------------------------------------------------------------------------
    def status(self, tkey: str) -> TargetStatus:
        raw = {
            (k.decode() if isinstance(k, bytes) else k): (v.decode() if isinstance(v, bytes) else v)
            for k, v in self._redis.hgetall(self._keys.target_status(tkey)).items()
        }
        interval, last_new = _float(raw, "interval"), _float(raw, "last_new")
        temperature = None
        if interval is not None and last_new is not None:
            temperature = Temperature(
                interval=interval, last_new=last_new, retired=raw.get("retired") == "1"
            )
        return TargetStatus(
            temperature=temperature,
            last_poll=_float(raw, "last_poll"),
            next_poll=_float(raw, "next_poll"),
            seen=int(raw.get("seen", 0)),
            polls=int(raw.get("polls", 0)),
        )

    def budget(self, account: str) -> AccountBudget | None:
        """The account's last measured budget, the poll calls spent since and the bucket's
        start, if measured."""
        raw = {
            (k.decode() if isinstance(k, bytes) else k): (v.decode() if isinstance(v, bytes) else v)
            for k, v in self._redis.hgetall(self._keys.budget(account)).items()
        }
        if "limit" not in raw:
            return None
        budget = Budget(
            limit=int(raw["limit"]), used=int(raw["used"]),
            measured_at=float(raw["measured_at"]), reset_at=float(raw["reset_at"]),
            share=float(raw["share"]),
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
        self._redis.hset(self._keys.target_status(tkey), mapping={
            "interval": temperature.interval, "last_new": temperature.last_new,
            "retired": int(temperature.retired),
        })

    def revive(self, tkey: str, policy: PollPolicy, *, now: float) -> None:
        """``targets add`` of a known target: hot again, polled at once."""
        self.set_temperature(tkey, fresh(policy, now))
        self._redis.hset(self._keys.target_status(tkey), "next_poll", now)

    def scheduled(self, tkey: str, next_poll: float) -> None:
        self._redis.hset(self._keys.target_status(tkey), "next_poll", next_poll)

    def polled(self, tkey: str, temperature: Temperature, *, now: float, new: int) -> None:
        """A poll ended at ``now`` having found ``new`` new comments."""
        pipe = self._redis.pipeline(transaction=True)
        key = self._keys.target_status(tkey)
        pipe.hset(key, mapping={
            "interval": temperature.interval, "last_new": temperature.last_new,
            "retired": int(temperature.retired), "last_poll": now,
        })
        pipe.hincrby(key, "seen", new)
        pipe.hincrby(key, "polls", 1)
        pipe.execute()

    def set_budget(self, account: str, budget: Budget, *, now: float) -> AccountBudget:
        """A new measurement: the spend counts from it; the bucket starts with what the
        previous measurement left unspent (:data:`BURST` at the first)."""
        previous = self.budget(account)
        carry = (
            previous.budget.carry(now=now, spent=previous.spent) if previous is not None
            else min(BURST, budget.poll_calls)
        )
        self._redis.hset(self._keys.budget(account), mapping={
            "limit": budget.limit, "used": budget.used, "measured_at": budget.measured_at,
            "reset_at": budget.reset_at, "share": budget.share, "spent": 0, "carry": carry,
        })
        return AccountBudget(budget=budget, spent=0.0, carry=carry)

    def spend(self, account: str, calls: float = 1.0) -> None:
        self._redis.hincrbyfloat(self._keys.budget(account), "spent", calls)
