"""Quota pauses: "do not call this endpoint of this account until T", shared through Redis.

A daily quota answer (WeChat 45009) pauses the endpoint until the next 00:00 in
``QuotaConfig.reset_timezone``; an hourly one (Weibo 10022-10024) until the next full hour
there. ``QuotaConfig.pause`` (seconds), when set, replaces both. A pause is one Redis key
holding the resume time and expiring at it, so every process on every host sees it; it is set
with ``SET NX``, so the first process to hit the quota logs it and the others stay quiet.

Three reaches (:class:`worker.platforms.codes.Reach`), three keys a call checks in one
``MGET``:

- ``<prefix>:quota:<platform>:<account>:<endpoint>``: that endpoint of that account;
- ``<prefix>:quota:<platform>:<account>:*``: every endpoint of that account (Weibo 10023);
- ``<prefix>:quota:<platform>::<endpoint>``: that endpoint of every account (no account
  part: the daemon's IP met the limit, Weibo 10022).
"""

from __future__ import annotations

import time
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import redis
import structlog

from worker import metrics
from worker.config import QuotaConfig

_log = structlog.get_logger()

ALL_ENDPOINTS = "*"  # the endpoint part of a pause of every endpoint of an account
EVERY_ACCOUNT = "*"  # how logs and metrics name the account of a pause of every account


def next_local_midnight(now: float, timezone: str) -> float:
    """Unix time of the next 00:00 in ``timezone`` after ``now``."""
    tz = ZoneInfo(timezone)
    local = datetime.fromtimestamp(now, tz)
    midnight = datetime.combine(local.date() + timedelta(days=1), datetime.min.time(), tz)
    return midnight.timestamp()


def next_local_hour(now: float, timezone: str) -> float:
    """Unix time of the next full hour in ``timezone`` after ``now``."""
    local = datetime.fromtimestamp(now, ZoneInfo(timezone))
    return (local.replace(minute=0, second=0, microsecond=0) + timedelta(hours=1)).timestamp()


class QuotaPauses:
    """Sets and reads the shared pauses."""

    def __init__(
        self, *, redis: redis.Redis, config: QuotaConfig, key_prefix: str = "mw"
    ) -> None:
        self._redis = redis
        self.config = config
        self._prefix = key_prefix

    def key(self, platform: str, account: str | None, endpoint: str) -> str:
        """The pause key; ``account`` None is every account, ``endpoint`` ALL every endpoint."""
        return f"{self._prefix}:quota:{platform}:{account or ''}:{endpoint}"

    def resume_at(self, platform: str, account: str, endpoint: str) -> float | None:
        """When the account may call the endpoint again (the latest of the pauses that
        cover it), or None when it is not paused."""
        keys = [
            self.key(platform, account, endpoint),
            self.key(platform, account, ALL_ENDPOINTS),
            self.key(platform, None, endpoint),
        ]
        values = [
            float(raw if isinstance(raw, str) else bytes(raw).decode())
            for raw in self._redis.mget(keys)
            if raw is not None
        ]
        latest = max(values, default=None)
        return latest if latest is not None and latest > time.time() else None

    def pause_until(self, *, hourly: bool, now: float | None = None) -> float:
        now = time.time() if now is None else now
        if self.config.pause is not None:
            return now + self.config.pause
        if hourly:
            return next_local_hour(now, self.config.reset_timezone)
        return next_local_midnight(now, self.config.reset_timezone)

    def pause(
        self,
        *,
        platform: str,
        account: str | None,
        endpoint: str,
        hourly: bool,
        code: int | None = None,
    ) -> float:
        """Pause the endpoint (ALL_ENDPOINTS: every one) of the account (None: of every
        account); returns the resume time (an existing pause's, if one holds)."""
        resume_at = self.pause_until(hourly=hourly)
        key = self.key(platform, account, endpoint)
        created = self._redis.set(
            key, repr(resume_at), nx=True, pxat=max(int(resume_at * 1000), 1)
        )
        if created:
            metrics.count_quota_pause(platform, account or EVERY_ACCOUNT, endpoint)
            _log.warning(
                "platform.quota_paused",
                platform=platform,
                account=account or EVERY_ACCOUNT,
                endpoint=endpoint,
                errcode=code,
                resume_at=datetime.fromtimestamp(
                    resume_at, ZoneInfo(self.config.reset_timezone)
                ).isoformat(),
            )
            return resume_at
        raw = self._redis.get(key)
        if raw is None:
            return resume_at
        return float(raw if isinstance(raw, str) else bytes(raw).decode())

    def clear(self, *, platform: str, account: str | None, endpoint: str) -> bool:
        """Lift a pause early (an operator cleared the quota). True when one was set."""
        return bool(self._redis.delete(self.key(platform, account, endpoint)))
