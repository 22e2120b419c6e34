"""A rate limiter per account and endpoint (or per shared bucket: a limit the platform counts
per caller IP, whatever the account), shared by every process through Redis.

The algorithm is GCRA (the generic cell rate algorithm), run as one Lua script so that a
check-and-reserve is atomic across processes and hosts, on the Redis server's clock. A limit
of ``limit`` calls per ``window`` seconds allows a burst of a tenth of the limit and paces
the rest, so that no window of that length ever sees more than about ``limit`` calls.

A caller that may not call yet *waits* (up to ``max_wait`` seconds, its reservation held)
rather than fails; only a wait beyond that bound raises :class:`RateLimitedError` with
``retry_at``, and then nothing is reserved.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import redis
import structlog

from worker.errors import RateLimitedError

_log = structlog.get_logger()

# KEYS[1] the limiter's key. ARGV: emission interval (us), burst tolerance (us), max wait (us).
# Returns {granted (0/1), wait in microseconds}.
_GCRA = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local interval = tonumber(ARGV[1])
local tolerance = tonumber(ARGV[2])
local max_wait = tonumber(ARGV[3])
local tat = tonumber(redis.call('GET', KEYS[1]) or '0')
if tat < now then tat = now end
local wait = tat - tolerance - now
if wait < 0 then wait = 0 end
if wait > max_wait then return {0, wait} end
local new_tat = tat + interval
redis.call('SET', KEYS[1], string.format('%d', new_tat), 'PX',
           math.ceil((new_tat - now) / 1000) + 1000)
return {1, wait}
"""


@dataclass(frozen=True, slots=True)
class Rate:
    """``limit`` calls per ``window`` seconds."""

    limit: int
    window: float

    def __post_init__(self) -> None:
        if self.limit < 1 or self.window <= 0:
            raise ValueError(f"a rate needs limit >= 1 and window > 0, got {self}")

    @classmethod
    def per_minute(cls, limit: int) -> Rate:
        return cls(limit, 60.0)

    def gcra(self) -> tuple[int, int]:
        """(emission interval, burst tolerance) in microseconds."""
        window_us = self.window * 1_000_000
        burst = max(1, self.limit // 10)
        paced = self.limit - burst if self.limit > burst else self.limit
        interval = int(window_us / paced)
        return interval, (burst - 1) * interval


class RateLimiter:
    """Reserves call slots in Redis; keys are ``<prefix>:rate:<platform>:<account>:<endpoint>``,
    or ``<prefix>:rate:<platform>:shared:<bucket>`` for a limit every account shares."""

    def __init__(
        self,
        *,
        redis: redis.Redis,
        key_prefix: str = "mw",
        max_wait: float = 10.0,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self._redis = redis
        self._prefix = key_prefix
        self.max_wait = max_wait
        self._sleep = sleep
        self._script: Any = redis.register_script(_GCRA)

    def key(self, platform: str, account: str, endpoint: str) -> str:
        return f"{self._prefix}:rate:{platform}:{account}:{endpoint}"

    def shared_key(self, platform: str, bucket: str) -> str:
        """The key of a limit shared by every account of the platform."""
        return f"{self._prefix}:rate:{platform}:shared:{bucket}"

    def acquire(
        self,
        *,
        platform: str,
        account: str,
        endpoint: str,
        rate: Rate | None,
        bucket: str | None = None,
    ) -> float:
        """Take one slot, sleeping until it is due. Returns the seconds waited.

        Raises RateLimitedError (nothing reserved) when the slot is further away than
        ``max_wait``. ``rate=None`` means unlimited. ``bucket`` names a limit shared by every
        account (its slots are counted in :meth:`shared_key`, not per account and endpoint);
        ``account`` and ``endpoint`` then only label the error and the log.
        """
        if rate is None:
            return 0.0
        interval, tolerance = rate.gcra()
        key = self.key(platform, account, endpoint) if bucket is None else self.shared_key(
            platform, bucket
        )
        granted, wait_us = self._script(
            keys=[key], args=[interval, tolerance, int(self.max_wait * 1_000_000)]
        )
        wait = int(wait_us) / 1_000_000
        if not int(granted):
            scope = f" (shared {bucket} limit)" if bucket is not None else ""
            err = RateLimitedError(
                f"local rate limit {rate.limit}/{rate.window:g}s{scope}: "
                f"next slot in {wait:.1f}s",
                platform=platform,
                endpoint=endpoint,
                account=account,
            )
            err.retry_at = time.time() + wait
            raise err
        if wait > 0:
            _log.debug(
                "platform.rate_limited",
                platform=platform,
                account=account,
                endpoint=endpoint,
                bucket=bucket,
                wait_ms=round(wait * 1000, 1),
            )
            self._sleep(wait)
        return wait
