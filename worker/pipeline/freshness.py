"""Freshness bookkeeping: when each target was last polled well, and whose credentials work.

The one number that says moderation works is the time of a target's last successful poll. The
poll actor records every outcome here; ``modworker stats``, ``modworker health``, the
``/readyz`` endpoint and the metrics read it back through :class:`Freshness`.

Per target (``<p>:fresh:t:<target>`` hash, listed in ``<p>:fresh:index``): ``account``,
``platform``, ``target``, ``last_ok`` (the end of the last successful poll), ``last_comment``
(when a poll last found a new comment), ``comments_seen`` (new comments listed, ever),
``failures`` (consecutive failed polls, reset by a success), ``failed_at``, ``reason`` (the
error class: ``transient``, ``credentials``, ``quota``, ``permanent``, ``gone``), ``errcode``
and ``detail`` of the last failure.

Per account (``<p>:fresh:credentials`` hash, account -> JSON): whether its credentials were
last accepted or rejected, since when, and why. :meth:`Freshness.credentials_rejected` tells
whether the rejection is news, so that a revoked token is told once, not once per call.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable
from dataclasses import asdict, dataclass
from typing import Any, Literal

import redis

from worker.pipeline._redis import Clock, LuaScript, text, text_hash, wall_clock
from worker.pipeline.keys import Keys, target_key

FailureReason = Literal["transient", "credentials", "quota", "permanent", "gone"]

#: A target is stale once its last successful poll is older than this many poll intervals...
STALE_INTERVALS = 3.0
#: ... and at least this many seconds (a short interval should not flap on one slow poll).
STALE_MIN_SECONDS = 60.0

# KEYS[1] credentials hash; ARGV[1] account, ARGV[2] the new state (JSON), ARGV[3] its status.
# Stores the state; returns 1 when the status changed (accepted -> rejected or back, or new).
_SET_CREDENTIALS = """
local old = redis.call('HGET', KEYS[1], ARGV[1])
redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])
if not old then
  return 1
end
local ok, decoded = pcall(cjson.decode, old)
if not ok or decoded['status'] ~= ARGV[3] then
  return 1
end
return 0
"""


def stale_after(poll_interval: float, configured: float | None = None) -> float:
    """Seconds without a successful poll after which a target counts as stale:
    ``configured`` (``polling.stale_after``) or 3 intervals, at least a minute."""
    if configured is not None:
        return configured
    return max(STALE_MIN_SECONDS, STALE_INTERVALS * poll_interval)


@dataclass(frozen=True, slots=True, kw_only=True)
class TargetFreshness:
    """What is known of one target's polling (``None``: never happened)."""

    account: str
    platform: str
    target: str
    last_ok: float | None = None
    last_comment: float | None = None
    comments_seen: int = 0
    failures: int = 0
    failed_at: float | None = None
    reason: str | None = None
    errcode: int | None = None
    detail: str | None = None

    def age(self, now: float) -> float | None:
        """Seconds since the last successful poll, or None when there was none."""
        return None if self.last_ok is None else max(0.0, now - self.last_ok)

    def is_stale(self, *, now: float, after: float, since: float | None = None) -> bool:
        """No successful poll for ``after`` seconds. A target never polled well is stale once
        ``since`` (when polling began, e.g. the daemon's start) is that long ago."""
        reference = self.last_ok if self.last_ok is not None else since
        if reference is None:
            return True
        return now - reference > after

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True, slots=True, kw_only=True)
class CredentialState:
    """The last verdict on an account's credentials."""

    account: str
    status: Literal["accepted", "rejected"]
    at: float  # when this status was last confirmed
    since: float  # when the status began
    errcode: int | None = None
    detail: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


class Freshness:
    """Reads and writes the freshness records (see the module docstring)."""

    def __init__(self, *, redis: redis.Redis, keys: Keys | None = None,
                 clock: Clock = wall_clock) -> None:
        self._redis = redis
        self.keys = keys or Keys()
        self._clock = clock
        self._set_credentials = LuaScript(redis, _SET_CREDENTIALS)

    # -- polls ---------------------------------------------------------------------------
    def poll_succeeded(
        self, *, account: str, platform: str, target: str, new_comments: int,
        at: float | None = None,
    ) -> int:
        """A poll of ``target`` ended well, having listed ``new_comments`` new comments.
        Returns the number of consecutive failures this success ends (0: none)."""
        now = self._clock() if at is None else at
        tkey = target_key(platform=platform, account=account, target=target)
        key = self.keys.freshness(tkey)
        pipe = self._redis.pipeline(transaction=True)
        pipe.hget(key, "failures")
        pipe.hset(key, mapping={"account": account, "platform": platform, "target": target,
                                "last_ok": repr(now), "failures": 0})
        if new_comments > 0:
            pipe.hset(key, "last_comment", repr(now))
            pipe.hincrby(key, "comments_seen", new_comments)
        pipe.sadd(self.keys.freshness_index(), tkey)
        previous = pipe.execute()[0]
        return int(previous or 0)

    def poll_failed(
        self, *, account: str, platform: str, target: str, reason: FailureReason,
        errcode: int | None = None, detail: str | None = None, at: float | None = None,
    ) -> int:
        """A poll of ``target`` failed; returns the number of consecutive failures now."""
        now = self._clock() if at is None else at
        tkey = target_key(platform=platform, account=account, target=target)
        key = self.keys.freshness(tkey)
        pipe = self._redis.pipeline(transaction=True)
        pipe.hset(key, mapping={"account": account, "platform": platform, "target": target,
                                "failed_at": repr(now), "reason": reason,
                                "errcode": "" if errcode is None else str(errcode),
                                "detail": (detail or "")[:300]})
        pipe.hincrby(key, "failures", 1)
        pipe.sadd(self.keys.freshness_index(), tkey)
        replies = pipe.execute()
        return int(replies[1])

    def targets(
        self, configured: Iterable[tuple[str, str, str]] = (),
    ) -> list[TargetFreshness]:
        """Every recorded target, plus the ``configured`` ``(account, platform, target)``
        triples never recorded, sorted by account and target."""
        wanted = {target_key(platform=p, account=a, target=t): (a, p, t) for a, p, t in configured}
        recorded = {text(m) for m in self._redis.smembers(self.keys.freshness_index())}
        tkeys = sorted(recorded | set(wanted))
        pipe = self._redis.pipeline(transaction=False)
        for tkey in tkeys:
            pipe.hgetall(self.keys.freshness(tkey))
        out: list[TargetFreshness] = []
        for tkey, raw in zip(tkeys, pipe.execute(), strict=True):
            fields = text_hash(raw)
            if not fields:
                if tkey not in wanted:
                    continue  # indexed, but its record is gone (flushed by hand)
                account, platform, target = wanted[tkey]
                out.append(TargetFreshness(account=account, platform=platform, target=target))
                continue
            out.append(_target_from(fields))
        out.sort(key=lambda f: (f.account, f.target))
        return out

    def forget_target(self, *, account: str, platform: str, target: str) -> None:
        """Drop a target's record (a target removed from the config)."""
        tkey = target_key(platform=platform, account=account, target=target)
        pipe = self._redis.pipeline(transaction=True)
        pipe.delete(self.keys.freshness(tkey))
        pipe.srem(self.keys.freshness_index(), tkey)
        pipe.execute()

    # -- credentials ---------------------------------------------------------------------
    def credentials_accepted(self, account: str, *, at: float | None = None) -> bool:
        """The platform accepted ``account``'s credentials; True when that is news (first
        time, or after a rejection)."""
        return self._set(account, "accepted", errcode=None, detail=None, at=at)

    def credentials_rejected(
        self, account: str, *, errcode: int | None, detail: str, at: float | None = None,
    ) -> bool:
        """The platform refused ``account``'s credentials; True when that is news."""
        return self._set(account, "rejected", errcode=errcode, detail=detail, at=at)

    def _set(self, account: str, status: str, *, errcode: int | None, detail: str | None,
             at: float | None) -> bool:
        now = self._clock() if at is None else at
        previous = self.credential(account)
        since = previous.since if previous is not None and previous.status == status else now
        state = {"status": status, "at": now, "since": since, "errcode": errcode,
                 "detail": (detail or None) and detail[:300]}
        changed = self._set_credentials(
            [self.keys.credentials()], [account, json.dumps(state, ensure_ascii=False), status]
        )
        return bool(int(changed))

    def credential(self, account: str) -> CredentialState | None:
        raw = self._redis.hget(self.keys.credentials(), account)
        return None if raw is None else _credential_from(account, text(raw))

    def credentials(self) -> dict[str, CredentialState]:
        raw = text_hash(self._redis.hgetall(self.keys.credentials()))
        return {account: _credential_from(account, state) for account, state in raw.items()}


def _float(value: str | None) -> float | None:
    if not value:
        return None
    number = float(value)
    return number if math.isfinite(number) else None


def _target_from(fields: dict[str, str]) -> TargetFreshness:
    errcode = fields.get("errcode")
    return TargetFreshness(
        account=fields.get("account", ""),
        platform=fields.get("platform", ""),
        target=fields.get("target", ""),
        last_ok=_float(fields.get("last_ok")),
        last_comment=_float(fields.get("last_comment")),
        comments_seen=int(fields.get("comments_seen") or 0),
        failures=int(fields.get("failures") or 0),
        failed_at=_float(fields.get("failed_at")),
        reason=fields.get("reason") or None,
        errcode=int(errcode) if errcode else None,
        detail=fields.get("detail") or None,
    )


def _credential_from(account: str, raw: str) -> CredentialState:
    data = json.loads(raw)
    return CredentialState(
        account=account, status=data["status"], at=float(data["at"]),
        since=float(data.get("since", data["at"])), errcode=data.get("errcode"),
        detail=data.get("detail"),
    )
