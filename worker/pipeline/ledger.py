"""Idempotency of single actions: done markers, in-progress leases, disabled actions.

dramatiq delivers at least once, so the act actor (:mod:`worker.pipeline.actors.act`) does,
for an :class:`ActionKey`::

    if ledger.is_disabled(account, action): -> audit failed, ack
    claim = ledger.claim(key, ttl=LEASE_SECONDS)  # renewed by a heartbeat while the call runs
    if claim.status == "done":  -> log action_already_done, ack
    if claim.status == "busy":  -> another delivery is calling the API right now: look later
    result = client.perform(action, ...)          # ActionResult, already_done or not
    ledger.mark_done(key, "ok" | "already_done", lease=claim.lease)
    on failure, failures.dispose(exc) decides: FAIL -> mark_done(key, "failed", ...)
                                               (and disable_action if the code says so);
                                               otherwise release(claim.lease), then retry
                                               or send the message again later

The lease (``SET NX PX``) keeps two deliveries of one message from calling the API at the
same time; its holder renews it while the call runs (:mod:`worker.pipeline.heartbeat`); if
its holder is SIGKILLed, it expires after ``ttl`` and a redelivery proceeds.
The done marker, written once the API confirmed the effect, outlives the lease by the
retention (default 30 days): a redelivery after that is caught by the platforms' own "already
done" answers.

Every script compares the lease's owner token before touching it: a holder whose lease
expired and was taken over can never release or overwrite the new holder's lease.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, Literal

import redis

from worker.pipeline._redis import Clock, LuaScript, new_token, text, wall_clock
from worker.pipeline.keys import ActionKey, Keys
from worker.redis_lua import COMPARE_AND_DELETE, COMPARE_AND_EXTEND

ClaimStatus = Literal["claimed", "done", "busy"]

# KEYS[1] done marker, KEYS[2] lease; ARGV[1] owner token, ARGV[2] lease ttl (ms).
# Invariant: a lease is only ever granted while no done marker exists and no other lease is
# live; returns 'done' | 'claimed' | 'busy'.
_CLAIM = """
if redis.call('EXISTS', KEYS[1]) == 1 then
  return 'done'
end
if redis.call('SET', KEYS[2], ARGV[1], 'NX', 'PX', ARGV[2]) then
  return 'claimed'
end
return 'busy'
"""

# KEYS[1] done marker, KEYS[2] lease; ARGV[1] record (JSON), ARGV[2] retention (s),
# ARGV[3] owner token or ''. The first done marker wins (a later "already_done" does not
# overwrite an "ok"); the caller's lease, and only the caller's, is dropped. Returns 1 if
# this call wrote the marker.
_MARK_DONE = """
local wrote = 0
if redis.call('SET', KEYS[1], ARGV[1], 'NX', 'EX', ARGV[2]) then
  wrote = 1
end
if ARGV[3] ~= '' and redis.call('GET', KEYS[2]) == ARGV[3] then
  redis.call('DEL', KEYS[2])
end
return wrote
"""




@dataclass(frozen=True, slots=True, kw_only=True)
class Lease:
    """The right to call the API for one action, until ``ttl`` after the claim."""

    key: ActionKey
    token: str


@dataclass(frozen=True, slots=True, kw_only=True)
class ClaimResult:
    """What :meth:`ActionLedger.claim` found. Truthy only when the lease was granted."""

    status: ClaimStatus
    lease: Lease | None = None

    def __bool__(self) -> bool:
        return self.status == "claimed"


@dataclass(frozen=True, slots=True, kw_only=True)
class DoneRecord:
    outcome: str
    at: float


@dataclass(frozen=True, slots=True, kw_only=True)
class DisabledAction:
    account: str
    action: str
    reason: str
    at: float


class ActionLedger:
    """Done markers and leases of single actions; disabled (account, action) pairs."""

    def __init__(
        self,
        *,
        redis: redis.Redis,
        keys: Keys | None = None,
        retention: float = 30 * 86400.0,
        clock: Clock = wall_clock,
    ) -> None:
        if retention <= 0:
            raise ValueError("retention must be positive")
        self._redis = redis
        self._keys = keys or Keys()
        self.retention = retention
        self._clock = clock
        self._claim = LuaScript(redis, _CLAIM)
        self._mark_done = LuaScript(redis, _MARK_DONE)
        self._release = LuaScript(redis, COMPARE_AND_DELETE)
        self._renew = LuaScript(redis, COMPARE_AND_EXTEND)

    def is_done(self, key: ActionKey) -> bool:
        return bool(self._redis.exists(self._keys.done(key)))

    def is_taken(self, key: ActionKey) -> bool:
        """Whether the action is done or someone holds its lease."""
        return bool(self._redis.exists(self._keys.done(key), self._keys.lease(key)))

    def get_done(self, key: ActionKey) -> DoneRecord | None:
        raw = self._redis.get(self._keys.done(key))
        if raw is None:
            return None
        data = json.loads(text(raw))
        return DoneRecord(outcome=str(data["outcome"]), at=float(data["at"]))

    def claim(self, key: ActionKey, *, ttl: float) -> ClaimResult:
        """Take the in-progress lease unless the action is done or another holder is live."""
        token = new_token()
        status = text(self._claim([self._keys.done(key), self._keys.lease(key)], [token, _ms(ttl)]))
        if status == "claimed":
            return ClaimResult(status="claimed", lease=Lease(key=key, token=token))
        if status == "done":
            return ClaimResult(status="done")
        return ClaimResult(status="busy")

    def renew(self, lease: Lease, *, ttl: float) -> bool:
        """Extend a lease still held (a long call); False if it expired or was taken over."""
        return bool(self._renew([self._keys.lease(lease.key)], [lease.token, _ms(ttl)]))

    def release(self, lease: Lease) -> bool:
        """Give the lease up without marking done (the call failed); False if no longer held."""
        return bool(self._release([self._keys.lease(lease.key)], [lease.token]))

    def mark_done(
        self,
        key: ActionKey,
        outcome: str,
        *,
        lease: Lease | None = None,
        now: float | None = None,
        detail: dict[str, Any] | None = None,
    ) -> bool:
        """Record that the effect holds, for ``retention``; drop ``lease`` if still ours.

        Written even if the lease was lost: the API confirmed the effect, which is the fact
        the marker records. The first marker wins; returns True if this call wrote it.
        """
        if lease is not None and lease.key != key:
            raise ValueError("the lease belongs to another action")
        at = self._clock() if now is None else now
        record: dict[str, Any] = {"outcome": outcome, "at": at}
        if detail:
            record["detail"] = detail
        wrote = self._mark_done(
            [self._keys.done(key), self._keys.lease(key)],
            [
                json.dumps(record, ensure_ascii=False, default=str),
                max(1, int(self.retention)),
                lease.token if lease else "",
            ],
        )
        return bool(wrote)

    # -- actions disabled for an account (88000, 48001) until reload -----------------------
    def disable_action(
        self, account: str, action: str, reason: str, *, now: float | None = None
    ) -> None:
        at = self._clock() if now is None else now
        record = {"account": account, "action": action, "reason": reason, "at": at}
        self._redis.hset(
            self._keys.disabled(),
            self._keys.disabled_field(account, action),
            json.dumps(record, ensure_ascii=False),
        )

    def is_disabled(self, account: str, action: str) -> bool:
        return bool(
            self._redis.hexists(self._keys.disabled(), self._keys.disabled_field(account, action))
        )

    def disabled_actions(self) -> list[DisabledAction]:
        out: list[DisabledAction] = []
        for value in self._redis.hvals(self._keys.disabled()):
            data = json.loads(text(value))
            out.append(
                DisabledAction(
                    account=str(data["account"]),
                    action=str(data["action"]),
                    reason=str(data["reason"]),
                    at=float(data["at"]),
                )
            )
        return sorted(out, key=lambda d: (d.account, d.action))

    def clear_disabled(self) -> int:
        """Re-enable every action (on reload or restart); returns how many were disabled."""
        pipe = self._redis.pipeline(transaction=True)
        pipe.hlen(self._keys.disabled())
        pipe.delete(self._keys.disabled())
        count, _ = pipe.execute()
        return int(count)


def _ms(seconds: float) -> int:
    if seconds <= 0:
        raise ValueError("a lease ttl must be positive")
    return max(1, int(seconds * 1000))


__all__ = [
    "ActionKey",
    "ActionLedger",
    "ClaimResult",
    "ClaimStatus",
    "DisabledAction",
    "DoneRecord",
    "Lease",
]
