"""What every call of one account passes before and after the network: quota pause, rate
limit, and turning a quota answer into a shared pause."""

from __future__ import annotations

from collections.abc import Mapping

from worker.errors import QuotaError
from worker.platforms.codes import Kind, Reach, classify, quota_reach
from worker.platforms.quota import ALL_ENDPOINTS, QuotaPauses
from worker.platforms.ratelimit import Rate, RateLimiter


class CallGuard:
    """Quota pauses and rate limits of one account; ``rates`` maps endpoint to its Rate
    (an endpoint missing from it uses ``default_rate``; None means unlimited).

    ``shared_rates`` maps an endpoint to ``(bucket, Rate)``: a limit the platform counts for
    every account together (Weibo's commercial APIs, per caller IP). A call to such an
    endpoint takes a slot of the account's own limit (if any), then one of the bucket.
    """

    def __init__(
        self,
        *,
        platform: str,
        account: str,
        quotas: QuotaPauses,
        limiter: RateLimiter,
        rates: Mapping[str, Rate | None] | None = None,
        default_rate: Rate | None = None,
        shared_rates: Mapping[str, tuple[str, Rate]] | None = None,
    ) -> None:
        self.platform = platform
        self.account = account
        self.quotas = quotas
        self.limiter = limiter
        self.rates = dict(rates or {})
        self.default_rate = default_rate
        self.shared_rates = dict(shared_rates or {})

    def check_pause(self, endpoint: str) -> None:
        """Raise QuotaError (no network touched) while the endpoint is paused."""
        resume_at = self.quotas.resume_at(self.platform, self.account, endpoint)
        if resume_at is not None:
            err = QuotaError(
                "quota exhausted: endpoint paused",
                platform=self.platform,
                endpoint=endpoint,
                account=self.account,
            )
            err.resume_at = resume_at
            raise err

    def take_slot(self, endpoint: str) -> None:
        """Wait for a rate-limit slot (bounded; RateLimitedError beyond the bound)."""
        self.limiter.acquire(
            platform=self.platform,
            account=self.account,
            endpoint=endpoint,
            rate=self.rates.get(endpoint, self.default_rate),
        )
        shared = self.shared_rates.get(endpoint)
        if shared is not None:
            bucket, rate = shared
            self.limiter.acquire(
                platform=self.platform,
                account=self.account,
                endpoint=endpoint,
                rate=rate,
                bucket=bucket,
            )

    def before(self, endpoint: str) -> None:
        self.check_pause(endpoint)
        self.take_slot(endpoint)

    def quota_hit(self, err: QuotaError, *, scope: str | None = None) -> QuotaError:
        """Record the pause a quota answer calls for; returns ``err`` with ``resume_at`` set.

        The pause is keyed by ``scope`` when given (a quota narrower than the endpoint, such
        as ``stable_token``'s forced refreshes). Otherwise the code's reach decides: the
        endpoint that answered, every endpoint of the account, or (a per-IP limit) the
        endpoint and every endpoint sharing its limit, for every account.
        """
        hourly = (
            err.code is not None
            and classify(self.platform, err.endpoint, err.code) is Kind.QUOTA_HOURLY
        )
        account: str | None = self.account
        endpoints = [scope or err.endpoint]
        reach = quota_reach(self.platform, err.code) if scope is None else Reach.ENDPOINT
        if reach is Reach.ACCOUNT:
            endpoints = [ALL_ENDPOINTS]
        elif reach is Reach.IP:
            account = None
            endpoints = self._sharing_limit(err.endpoint)
        err.resume_at = max(
            self.quotas.pause(
                platform=self.platform,
                account=account,
                endpoint=endpoint,
                hourly=hourly,
                code=err.code,
            )
            for endpoint in endpoints
        )
        return err

    def _sharing_limit(self, endpoint: str) -> list[str]:
        """``endpoint`` and the endpoints whose calls count against the same shared limit."""
        shared = self.shared_rates.get(endpoint)
        if shared is None:
            return [endpoint]
        return sorted(e for e, (bucket, _) in self.shared_rates.items() if bucket == shared[0])
