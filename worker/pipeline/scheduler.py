"""The scheduler: one per deployment, a plain loop holding a Redis lock it renews.

It sends a ``poll`` per target when :class:`~worker.targets.scheduling.TargetScheduling` says
it is due (config.yaml's targets merged with those added, removed and discovered at runtime,
each on its adaptive interval within its account's call budget), at most one outstanding poll
per target (a marker key set with NX, removed when the poll ends, expiring after an interval in
case the poll's worker dies), and a ``flush`` per account when its batch buffer is due or holds
a batch whose sender died. Each target's last and next poll live in Redis
(:mod:`worker.targets.book`), so a scheduler that takes over after the first one died continues
the schedule instead of polling everything at once. config.yaml's targets are reloaded on
SIGHUP (:meth:`Scheduler.request_reload`) and when the file changes.

A second daemon waits for the lock and takes over within the lock's TTL when the first dies.

Every Redis error (connection lost, READONLY during a failover, OOM, MISCONF, LOADING, ...) is
logged as one ``scheduler_redis_error`` event and the loop tries again after a backoff that
doubles from :data:`RETRY_MIN` to :data:`RETRY_MAX`; the lock is released however the loop
ends, so a standby daemon takes over at once instead of waiting for the TTL.
"""

from __future__ import annotations

import threading
import time

import redis as redis_lib
import structlog

from worker.pipeline.actors import Actors, polling_marker, polling_marker_ttl
from worker.pipeline.lock import RenewableLock
from worker.pipeline.runtime import Runtime
from worker.targets.config_watch import ConfigWatch
from worker.targets.scheduling import TargetScheduling

log = structlog.get_logger("worker.scheduler")

LOCK_TTL = 15.0
TICK = 0.25
RETRY_MIN = 0.5  # seconds before the first retry after a Redis error
RETRY_MAX = 5.0  # short against LOCK_TTL: polling resumes soon after Redis answers again


class Scheduler:
    def __init__(self, *, runtime: Runtime, actors: Actors) -> None:
        self.runtime = runtime
        self.actors = actors
        self.lock = RenewableLock(
            redis=runtime.redis, key=runtime.keys.scheduler_lock(), ttl=LOCK_TTL
        )
        self.targeting = TargetScheduling.for_redis(
            config=runtime.config, redis=runtime.redis, client=runtime.client,
            gone=runtime.seen.gone_targets,
        )
        self.config_watch = ConfigWatch(runtime.config)
        self.batched_accounts = [a.name for a in runtime.config.accounts]
        self._last_flush: dict[str, float] = {}
        self._last_notify = 0.0
        self._waiting_logged = False

    def run(self, stop: threading.Event) -> None:
        """Loop until ``stop`` is set; survives every Redis error (logs, backs off, retries)."""
        retry_in = RETRY_MIN
        try:
            while not stop.is_set():
                try:
                    if not self._hold_lock(stop):
                        continue
                    self.tick(time.time())
                except redis_lib.RedisError as exc:
                    log.warning("scheduler_redis_error", error=type(exc).__name__,
                                detail=str(exc), retry_in=retry_in)
                    stop.wait(retry_in)
                    retry_in = min(retry_in * 2, RETRY_MAX)
                    continue
                retry_in = RETRY_MIN
                stop.wait(TICK)
        finally:
            self._release_lock()

    def _hold_lock(self, stop: threading.Event) -> bool:
        """True when this scheduler holds the lock (taking it if free); else waits a moment."""
        if self.lock.held:
            return True
        if self.lock.acquire(blocking=False):
            log.info("scheduler_started", accounts=len(self.batched_accounts))
            if self._waiting_logged:  # another scheduler held the lock and stopped renewing
                self.runtime.notifier.event("scheduler_takeover",
                                            detail="this daemon took over scheduling")
            self._waiting_logged = False
            return True
        if not self._waiting_logged:
            log.info("scheduler_waiting", detail="another scheduler holds the lock; taking "
                     "over if it stops renewing it")
            self._waiting_logged = True
        stop.wait(1.0)
        return False

    def _release_lock(self) -> None:
        """Stop renewing and delete the lock if it is still ours (Redis may be away: then it
        expires by itself within its TTL)."""
        try:
            self.lock.release()
        except redis_lib.RedisError as exc:
            log.warning("scheduler_lock_release_failed", error=type(exc).__name__,
                        detail=str(exc), expires_in=LOCK_TTL)

    def request_reload(self) -> None:
        """SIGHUP: reload config.yaml's targets at the next tick."""
        self.config_watch.request_reload()

    def tick(self, now: float) -> None:
        rt = self.runtime
        reloaded = self.config_watch.check(now)
        if reloaded is not None:
            self.targeting.set_config(reloaded)
        for due in self.targeting.due(now):
            target = due.target
            marker = polling_marker(rt, target.tkey)
            if rt.redis.set(marker, now, nx=True, ex=polling_marker_ttl(rt)):
                self.actors.poll.send(target.account, target.key)
            else:
                log.info("poll_skipped", account=target.account, target=target.key,
                         detail="the previous poll of this target has not finished")
        for account in self.batched_accounts:
            self._maybe_flush(account, now)
        self._maybe_notify(now)

    def _maybe_notify(self, now: float) -> None:
        """Ask for a digest round at most once a second (each channel keeps its own interval)."""
        if not self.runtime.config.notify.channels or now - self._last_notify < 1.0:
            return
        self._last_notify = now
        self.actors.notify.send()

    def _maybe_flush(self, account: str, now: float) -> None:
        buffer = self.runtime.buffer(account)
        due = buffer.next_due()
        expired = buffer.expired_batches(now=now)
        if (due is None or due > now) and not expired:
            return
        wait = self.runtime.config.actions.batch_max_wait
        if now - self._last_flush.get(account, 0.0) < max(wait / 2, 0.5):
            return
        self._last_flush[account] = now
        self.actors.flush.send(account)
