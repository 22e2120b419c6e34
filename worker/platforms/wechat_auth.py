"""WeChat calls with an access token: fetching the token, and retrying a call it was refused for.

A call rejected with 40001/40014/42001 drops the token (if still the shared one), fetches or
waits for a fresh one and is retried once; when that fresh token is rejected too, a
stable-token account asks once for ``force_refresh`` (20 a day) and retries a last time; then
AuthError. How the token is shared between processes: :mod:`worker.platforms.tokens`.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import Any

import redis as redis_lib
import structlog

from worker.config import AccountConfig
from worker.errors import AuthError, QuotaError
from worker.logs import register_secret
from worker.platforms import codes as c
from worker.platforms.guard import CallGuard
from worker.platforms.http import Answer, Transport
from worker.platforms.parsing import as_timestamp
from worker.platforms.tokens import SECRET_GRACE, AccessToken, SharedToken, wechat_token_key

_log = structlog.get_logger()

# A token fetched this long before a call started still counts as fresh when it is refused.
FRESH_TOKEN_SLACK = 5.0


class TokenCalls:
    """One WeChat account's calls that carry its shared access token."""

    def __init__(
        self, *, account: AccountConfig, base: str, guard: CallGuard, transport: Transport,
        redis: redis_lib.Redis, key_prefix: str, timezone: str,
    ) -> None:
        assert account.app_secret is not None  # the client checks it first
        self._account = account
        self._secret = account.app_secret
        self._base = base
        self._guard = guard
        self._transport = transport
        self.token_mode = account.token
        self.token_endpoint = c.W_STABLE_TOKEN if account.token == "stable" else c.W_TOKEN
        self.tokens = SharedToken(
            redis=redis,
            key=wechat_token_key(key_prefix=key_prefix, app_id=account.app_id,
                                 mode=account.token),
            fetch=self.fetch_token,
            account=account.name,
            endpoint=self.token_endpoint,
            timezone=timezone,
        )

    def fetch_token(self, force: bool) -> tuple[str, float]:
        """One request to the token endpoint (the SharedToken calls this under its lock).

        A forced refresh has its own daily limit: a 45009 answered to one pauses forced
        refreshes only (scope ``stable_token/force``), never the normal fetches.
        """
        endpoint = self.token_endpoint
        scope = c.W_STABLE_TOKEN_FORCE if force and endpoint == c.W_STABLE_TOKEN else endpoint
        self._guard.check_pause(endpoint)
        if scope != endpoint:
            self._guard.check_pause(scope)
        try:
            answer = self._token_request(force)
        except QuotaError as err:
            raise self._guard.quota_hit(err, scope=scope) from None
        body = answer.body
        token = body.get("access_token") if isinstance(body, Mapping) else None
        expires_in = as_timestamp(body.get("expires_in")) if isinstance(body, Mapping) else None
        if not isinstance(token, str) or not token:
            raise self._transport.malformed(endpoint, answer, "no access_token")
        lifetime = expires_in if expires_in is not None and expires_in > 0 else 7200.0
        register_secret(token, ttl=lifetime + SECRET_GRACE)
        return token, lifetime

    def _token_request(self, force: bool) -> Answer:
        """``stable_token`` (POST, may force) or the classic ``token`` (GET)."""
        credentials = {
            "grant_type": "client_credential",
            "appid": str(self._account.app_id),
            "secret": self._secret.reveal(),
        }
        if self.token_endpoint == c.W_STABLE_TOKEN:
            return self._transport.request(
                "POST", f"{self._base}/cgi-bin/stable_token", endpoint=self.token_endpoint,
                json_body={**credentials, "force_refresh": force},
            )
        return self._transport.request(
            "GET", f"{self._base}/cgi-bin/token", endpoint=self.token_endpoint,
            params=credentials,
        )

    def post(self, endpoint: str, body: Mapping[str, Any], path: str | None = None) -> Answer:
        """POST ``body`` to ``/cgi-bin/<endpoint>`` (or ``path``) with the shared token,
        renewing (then forcing) a refused one as the module docstring says."""
        self._guard.before(endpoint)
        started = time.time()
        token: AccessToken = self.tokens.get()
        attempt = 0
        while True:
            try:
                return self._transport.request(
                    "POST", f"{self._base}{path or '/cgi-bin/' + endpoint}", endpoint=endpoint,
                    params={"access_token": token.value}, json_body=body,
                )
            except QuotaError as err:
                raise self._guard.quota_hit(err) from None
            except AuthError as err:
                attempt += 1
                replacement = self._replace_refused(token, err, endpoint, attempt, started)
                if replacement is None:
                    raise
                token = replacement
            self._guard.take_slot(endpoint)

    def _replace_refused(
        self, token: AccessToken, err: AuthError, endpoint: str, attempt: int, started: float,
    ) -> AccessToken | None:
        """The token to retry with after ``token`` was refused for the ``attempt``-th time
        in one call; None when there is none to try (the refusal stands)."""
        if attempt == 1:
            _log.warning("wechat.token_rejected", account=self._account.name,
                         endpoint=endpoint, errcode=err.code, attempt=1)
            return self.tokens.renew(token)
        fresh = token.fetched_at >= started - FRESH_TOKEN_SLACK
        if attempt == 2 and self.token_mode == "stable" and fresh:
            _log.warning("wechat.fresh_token_rejected", account=self._account.name,
                         endpoint=endpoint, errcode=err.code, attempt=2)
            return self.tokens.force(token)
        return None
