"""What every platform client of one account has: its HTTP client, call guard and transport."""

from __future__ import annotations

from collections.abc import Mapping
from types import TracebackType
from typing import Self

import httpx
import redis as redis_lib

from worker.config import AccountConfig, QuotaConfig
from worker.platforms.guard import CallGuard
from worker.platforms.http import CodeReader, Transport, new_http_client
from worker.platforms.quota import QuotaPauses
from worker.platforms.ratelimit import Rate, RateLimiter


class AccountClient:
    """The base of a platform client: ``_http`` (closed by :meth:`close` only when made
    here, i.e. when ``http`` is None), ``_guard`` (quota pauses and rate limits: the
    account's ``calls_per_minute`` on every endpoint, plus ``shared_rates``) and
    ``_transport`` (requests, answers read with ``read_code``)."""

    def __init__(
        self,
        *,
        platform: str,
        account: AccountConfig,
        redis: redis_lib.Redis,
        quota: QuotaConfig,
        key_prefix: str,
        http: httpx.Client | None,
        max_wait: float,
        read_code: CodeReader,
        shared_rates: Mapping[str, tuple[str, Rate]] | None = None,
    ) -> None:
        self.account = account
        self.name = account.name
        self._owns_http = http is None
        self._http = http if http is not None else new_http_client()
        own_rate = Rate.per_minute(account.calls_per_minute) if account.calls_per_minute else None
        self._guard = CallGuard(
            platform=platform,
            account=account.name,
            quotas=QuotaPauses(redis=redis, config=quota, key_prefix=key_prefix),
            limiter=RateLimiter(redis=redis, key_prefix=key_prefix, max_wait=max_wait),
            default_rate=own_rate,
            shared_rates=shared_rates,
        )
        self._transport = Transport(
            http=self._http, platform=platform, account=account.name, read_code=read_code
        )

    @property
    def quotas(self) -> QuotaPauses:
        """The shared quota pauses (to read or lift a pause)."""
        return self._guard.quotas

    def close(self) -> None:
        """Close the HTTP client if this client created it."""
        if self._owns_http:
            self._http.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()
