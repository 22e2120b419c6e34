"""A lease kept alive while its holder works: renewed from a background thread.

An action's lease (:mod:`worker.pipeline.ledger`) and a batch's (:mod:`worker.pipeline.batches`)
live :data:`LEASE_SECONDS` without news from their holder, so the work of a holder that died
is taken up by another delivery within that time. A holder still working (waiting for a
token or a rate limit, bisecting a batch, paging a blacklist) can take much longer: a
:class:`Heartbeat` renews its lease every :data:`HEARTBEAT_SECONDS` meanwhile.

When a renewal finds the lease no longer its holder's (it expired, say through a long Redis
outage, and may have been taken over), the heartbeat stops and :attr:`Heartbeat.lost` turns
True: the holder is stale, and must not report as its own an outcome another holder may
report too.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from types import TracebackType

import redis
import structlog

log = structlog.get_logger("worker.pipeline")

LEASE_SECONDS = 30.0
"""How long a lease lives without a renewal: a dead holder's work waits at most this long."""

HEARTBEAT_SECONDS = LEASE_SECONDS / 3
"""How often a live holder renews: two renewals may fail (a Redis hiccup) before it expires."""


class Heartbeat:
    """``with Heartbeat(renew, name=...) as beat:`` calls ``renew()`` every ``every`` seconds
    until the block ends; ``renew`` returns False when the lease is no longer ours."""

    def __init__(
        self, renew: Callable[[], bool], *, name: str, every: float = HEARTBEAT_SECONDS
    ) -> None:
        if every <= 0:
            raise ValueError("a heartbeat interval must be positive")
        self._renew = renew
        self.name = name
        self.every = every
        self._stop = threading.Event()
        self._lost = threading.Event()
        self._thread = threading.Thread(target=self._run, name=f"heartbeat:{name}",
                                        daemon=True)

    @property
    def lost(self) -> bool:
        """Whether a renewal found the lease gone or taken over."""
        return self._lost.is_set()

    def __enter__(self) -> Heartbeat:
        self._thread.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._stop.set()
        # A renewal stuck on an unreachable Redis is not waited for: it can only fail (the
        # holder is done with the lease) and the thread ends by itself.
        self._thread.join(timeout=self.every)

    def _run(self) -> None:
        while not self._stop.wait(self.every):
            try:
                ours = self._renew()
            except redis.RedisError as exc:
                # Keep trying: the lease outlives two missed beats.
                log.warning("lease_renew_failed", lease=self.name, detail=str(exc))
                continue
            except Exception:
                log.error("lease_renew_failed", lease=self.name, exc_info=True)
                continue
            if not ours:
                if not self._stop.is_set():  # not merely released as the block ended
                    self._lost.set()
                    log.warning("lease_lost", lease=self.name,
                                detail="expired or taken over while its holder worked")
                return
