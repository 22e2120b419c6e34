"""Health and readiness: what ``/healthz``, ``/readyz`` and ``modworker health`` report.

Live (``/healthz``): Redis answers, a scheduler holds the scheduler lock somewhere, and the
workers are alive: this daemon's own worker processes and scheduler thread when the daemon
asks (:class:`LocalState`), otherwise those every running daemon reports in its beat.

Ready (``/readyz``): live, and every configured account's credentials were accepted by its
platform once and not refused since (:mod:`worker.pipeline.freshness`).

Each daemon writes a beat to ``<p>:daemons`` (field ``<host>:<pid>``, JSON) every few
seconds: its workers alive and expected and whether its scheduler thread runs. A beat older
than :data:`BEAT_STALE` seconds is a daemon that stopped; ``modworker health`` from another
shell reads the beats, since it cannot see the daemon's processes.
"""

from __future__ import annotations

import json
import os
import socket
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import redis as redis_lib

from worker import __version__
from worker.config import Config
from worker.logs import redact
from worker.pipeline._redis import text
from worker.pipeline.freshness import Freshness, stale_after
from worker.pipeline.keys import Keys
from worker.targets.store import TargetStore, watched

BEAT_INTERVAL = 2.0
BEAT_STALE = 15.0  # a beat this old: that daemon is gone (or hung)
BEAT_FORGET = 86400.0  # beats of daemons stopped this long ago are removed


@dataclass(frozen=True, slots=True)
class Check:
    name: str
    ok: bool
    detail: str


@dataclass(frozen=True)
class HealthReport:
    kind: str  # "live" or "ready"
    checks: list[Check]
    notes: list[str] = field(default_factory=list)  # worth knowing, not failing

    @property
    def ok(self) -> bool:
        return all(c.ok for c in self.checks)

    def to_dict(self) -> dict[str, Any]:
        return {
            "status": "ok" if self.ok else "unhealthy",
            "kind": self.kind,
            "checks": {c.name: {"ok": c.ok, "detail": c.detail} for c in self.checks},
            "problems": [f"{c.name}: {c.detail}" for c in self.checks if not c.ok],
            "notes": self.notes,
        }


@dataclass(frozen=True, slots=True, kw_only=True)
class LocalState:
    """The daemon's own view of its processes."""

    scheduler_alive: bool
    workers: dict[int, bool]  # index -> alive (False: died, being restarted)
    started_at: float


def daemon_id() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


def write_beat(redis: redis_lib.Redis, keys: Keys, local: LocalState, *,
               now: float | None = None) -> None:
    """Record this daemon's state (called by the daemon every :data:`BEAT_INTERVAL`)."""
    at = time.time() if now is None else now
    beat = {
        "at": at, "started_at": local.started_at, "version": __version__,
        "scheduler_alive": local.scheduler_alive,
        "workers_alive": sum(1 for alive in local.workers.values() if alive),
        "workers": len(local.workers),
    }
    redis.hset(keys.daemons(), daemon_id(), json.dumps(beat))


def remove_beat(redis: redis_lib.Redis, keys: Keys) -> None:
    redis.hdel(keys.daemons(), daemon_id())


def read_beats(redis: redis_lib.Redis, keys: Keys, *, now: float) -> dict[str, dict[str, Any]]:
    """The beats of running daemons (forgetting those stopped long ago)."""
    out: dict[str, dict[str, Any]] = {}
    forget: list[str] = []
    for raw_id, raw in redis.hgetall(keys.daemons()).items():
        ident = text(raw_id)
        try:
            beat = json.loads(text(raw))
            at = float(beat["at"])
        except (ValueError, KeyError, TypeError):
            forget.append(ident)
            continue
        if now - at > BEAT_FORGET:
            forget.append(ident)
        elif now - at <= BEAT_STALE:
            out[ident] = beat
    if forget:
        redis.hdel(keys.daemons(), *forget)
    return out


class HealthProbe:
    """Computes the reports for one deployment's Redis (and, in the daemon, its processes)."""

    def __init__(self, *, config: Config, redis: redis_lib.Redis,
                 local: Callable[[], LocalState] | None = None,
                 clock: Callable[[], float] = time.time) -> None:
        self.config = config
        self.redis = redis
        self.keys = Keys(prefix=config.redis.key_prefix)
        self.local = local
        self.clock = clock

    def live(self) -> HealthReport:
        checks, notes = self._live_checks(self.clock())
        return HealthReport("live", checks, notes)

    def ready(self) -> HealthReport:
        now = self.clock()
        checks, notes = self._live_checks(now)
        if all(c.ok for c in checks):
            checks.append(self._credentials())
            notes.extend(self._stale_targets(now))
        return HealthReport("ready", checks, notes)

    # -- the checks ------------------------------------------------------------------------
    def _live_checks(self, now: float) -> tuple[list[Check], list[str]]:
        checks = [Check("process", True, f"modworker {__version__}, pid {os.getpid()}")]
        notes: list[str] = []
        try:
            self.redis.ping()
        except (redis_lib.RedisError, OSError) as exc:
            checks.append(Check("redis", False, f"unreachable: {redact(str(exc))}"))
            if self.local is not None:
                checks.extend(self._local_checks(self.local()))
            return checks, notes
        checks.append(Check("redis", True, "PING answered"))
        try:
            holder = self.redis.get(self.keys.scheduler_lock())
            beats = read_beats(self.redis, self.keys, now=now)
        except (redis_lib.RedisError, OSError) as exc:
            checks.append(Check("redis", False,
                                f"reading the daemons' state failed: {redact(str(exc))}"))
            return checks, notes
        if self.local is not None:
            local = self.local()
            checks.extend(self._local_checks(local))
            starting = now - local.started_at < BEAT_STALE
        else:
            checks.append(self._beats_check(beats))
            starting = False
        if holder is not None:
            checks.append(Check("scheduler", True, "a scheduler holds the lock"))
        elif starting:
            notes.append("scheduler: starting, not holding the lock yet")
        else:
            checks.append(Check("scheduler", False, "no scheduler holds the lock: nothing polls"))
        return checks, notes

    @staticmethod
    def _local_checks(local: LocalState) -> list[Check]:
        down = sorted(index for index, alive in local.workers.items() if not alive)
        workers = (
            Check("workers", True, f"{len(local.workers)} worker process(es) alive")
            if not down else
            Check("workers", False, f"worker process(es) {', '.join(map(str, down))} of "
                  f"{len(local.workers)} not alive (restarting)")
        )
        thread = Check("scheduler_thread", local.scheduler_alive,
                       "running" if local.scheduler_alive else "the scheduler thread died")
        return [workers, thread]

    @staticmethod
    def _beats_check(beats: dict[str, dict[str, Any]]) -> Check:
        if not beats:
            return Check("workers", False, f"no daemon reported in the last {BEAT_STALE:.0f} s: "
                         "modworker run is not running (or cannot reach this Redis)")
        problems = []
        for ident, beat in sorted(beats.items()):
            if int(beat.get("workers_alive", 0)) < int(beat.get("workers", 0)):
                problems.append(f"{ident}: {beat['workers_alive']} of {beat['workers']} "
                                "worker process(es) alive")
            if not beat.get("scheduler_alive", False):
                problems.append(f"{ident}: its scheduler thread died")
        if problems:
            return Check("workers", False, "; ".join(problems))
        total = sum(int(b.get("workers", 0)) for b in beats.values())
        return Check("workers", True, f"{len(beats)} daemon(s), {total} worker process(es) alive")

    def _credentials(self) -> Check:
        try:
            states = Freshness(redis=self.redis, keys=self.keys).credentials()
        except (redis_lib.RedisError, OSError) as exc:
            return Check("credentials", False, f"reading them failed: {redact(str(exc))}")
        problems = []
        for account in self.config.accounts:
            state = states.get(account.name)
            if state is None:
                problems.append(f"{account.name}: not accepted yet")
            elif state.status == "rejected":
                code = f" ({state.errcode})" if state.errcode is not None else ""
                problems.append(f"{account.name}: rejected{code}: {state.detail}")
        if problems:
            return Check("credentials", False, "; ".join(problems))
        return Check("credentials", True,
                     f"{len(self.config.accounts)} account(s) accepted by their platform")

    def _stale_targets(self, now: float) -> list[str]:
        # polling is adaptive: a healthy cold target is polled every polling.max_interval
        after = stale_after(self.config.polling.max_interval, self.config.polling.stale_after)
        try:
            store = TargetStore(redis=self.redis, keys=self.keys)
            configured = [(t.account, t.platform, t.key) for t in watched(self.config, store)]
            records = Freshness(redis=self.redis, keys=self.keys).targets(configured)
        except (redis_lib.RedisError, OSError):
            return []
        since = self.local().started_at if self.local is not None else None
        wanted = set(configured)
        return [
            f"stale: {r.account} {r.target}: no successful poll for more than {after:.0f} s"
            for r in records
            if (r.account, r.platform, r.target) in wanted
            and r.is_stale(now=now, after=after, since=since)
        ]
