"""One access token per WeChat app, shared by every process on every host through Redis.

Layout (``K`` = ``<prefix>:token:wechat:<app_id>:<mode>``):

- ``K``: a hash ``value, fetched_at, refresh_at, expires_at``, expiring with the token;
- ``K:lock``: the refresh lock (``SET NX PX`` with a random owner id, released by
  compare-and-delete), so that one process at a time talks to the token endpoint;
- ``K:error``: the last fetch failure, kept a few seconds, so that the processes waiting on a
  refresh that failed (a wrong secret, say) raise that error instead of each trying again;
- ``K:force:<YYYY-MM-DD>`` and ``K:force:recent``: the ``force_refresh`` budget (20 a day in
  the quota time zone, 30 s apart).

The token is refreshed ahead of expiry (``refresh_at``, ``margin`` seconds early). While one
process refreshes, the others keep using the old token when it is still valid, and otherwise
wait and re-read. :meth:`SharedToken.renew` drops a token the API rejected, but only when
Redis still holds that very token (compare-and-delete), so that fifty calls failing with the
same dead token cause one refresh, not fifty. :meth:`SharedToken.force` asks for
``force_refresh`` (stable tokens) when a freshly fetched token is rejected too.
"""

from __future__ import annotations

import json
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any, TypeVar
from zoneinfo import ZoneInfo

import redis
import structlog

from worker.errors import PlatformError, QuotaError, TransientError
from worker.logs import register_secret
from worker.platforms.codes import ERROR_CLASSES, Kind, make_error
from worker.redis_lua import COMPARE_AND_DELETE

_log = structlog.get_logger()

FORCE_REFRESH_PER_DAY = 20
# An expired token is still masked in logs this long (late error texts), then forgotten.
SECRET_GRACE = 3600.0
FORCE_REFRESH_SPACING = 30  # seconds; closer force refreshes do not refresh (api-notes §2.2)

# Drop the token only if Redis still holds the very record that failed: same value, same
# fetch (a stable token fetched again may come back with the same value).
_DROP_IF_SAME = """
local held = redis.call('HMGET', KEYS[1], 'value', 'fetched_at')
if held[1] == ARGV[1] and held[2] == ARGV[2] then return redis.call('DEL', KEYS[1]) end
return 0
"""


@dataclass(frozen=True, slots=True)
class AccessToken:
    value: str
    fetched_at: float
    refresh_at: float
    expires_at: float

    def __repr__(self) -> str:  # never print the token itself
        return f"AccessToken(fetched_at={self.fetched_at:.0f}, expires_at={self.expires_at:.0f})"


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


def wechat_token_key(*, key_prefix: str, app_id: str | None, mode: str) -> str:
    """``K`` of the module docstring: the shared token of one WeChat app and token mode."""
    return f"{key_prefix}:token:wechat:{app_id}:{mode}"


# fetch(force) -> (token, expires_in seconds). Raises PlatformError.
Fetcher = Callable[[bool], tuple[str, float]]
# What a fetch under the lock returns: a token, or None when it declines to fetch.
_Fetched = TypeVar("_Fetched", AccessToken, AccessToken | None)


class SharedToken:
    """The shared access token of one app (see the module docstring)."""

    def __init__(
        self,
        *,
        redis: redis.Redis,
        key: str,
        fetch: Fetcher,
        account: str,
        endpoint: str,
        margin: float = 300.0,
        lock_ttl: float = 20.0,
        wait_timeout: float = 30.0,
        error_ttl: float = 5.0,
        timezone: str = "Asia/Shanghai",
        poll_interval: float = 0.02,
    ) -> None:
        self._redis = redis
        self.key = key
        self._fetch = fetch
        self.account = account
        self.endpoint = endpoint
        self.margin = margin
        self.lock_ttl = lock_ttl
        self.wait_timeout = wait_timeout
        self.error_ttl = error_ttl
        self.timezone = timezone
        self.poll_interval = poll_interval
        self._release: Any = redis.register_script(COMPARE_AND_DELETE)
        self._drop_if_same: Any = redis.register_script(_DROP_IF_SAME)

    # --- reading and writing ----------------------------------------------------------------

    def read(self) -> AccessToken | None:
        reply: dict[Any, Any] = self._redis.hgetall(self.key)
        # bytes or str, whatever the client's decode_responses
        raw = {_text(k): _text(v) for k, v in reply.items()}
        if "value" not in raw:
            return None
        try:
            token = AccessToken(
                value=raw["value"],
                fetched_at=float(raw["fetched_at"]),
                refresh_at=float(raw["refresh_at"]),
                expires_at=float(raw["expires_at"]),
            )
        except (KeyError, ValueError):
            _log.warning("wechat.token_unreadable", account=self.account, key=self.key)
            return None
        register_secret(token.value, ttl=token.expires_at - time.time() + SECRET_GRACE)
        return token

    def _store(self, value: str, expires_in: float) -> AccessToken:
        now = time.time()
        expires_in = max(float(expires_in), 1.0)
        register_secret(value, ttl=expires_in + SECRET_GRACE)
        token = AccessToken(
            value=value,
            fetched_at=now,
            refresh_at=now + max(expires_in - self.margin, expires_in / 2),
            expires_at=now + expires_in,
        )
        pipe = self._redis.pipeline(transaction=True)
        pipe.delete(self.key)
        pipe.hset(
            self.key,
            mapping={
                "value": token.value,
                "fetched_at": repr(token.fetched_at),
                "refresh_at": repr(token.refresh_at),
                "expires_at": repr(token.expires_at),
            },
        )
        pipe.pexpire(self.key, int(expires_in * 1000))
        pipe.delete(f"{self.key}:error")
        pipe.execute()
        return token

    # --- the lock -----------------------------------------------------------------------------

    def _try_lock(self) -> str | None:
        owner = secrets.token_hex(8)
        if self._redis.set(f"{self.key}:lock", owner, nx=True, px=int(self.lock_ttl * 1000)):
            return owner
        return None

    def _unlock(self, owner: str) -> None:
        self._release(keys=[f"{self.key}:lock"], args=[owner])

    # --- failures shared with the waiters ------------------------------------------------------

    def _remember_error(self, err: PlatformError) -> None:
        kind = next((k for k, cls in ERROR_CLASSES.items() if type(err) is cls), Kind.TRANSIENT)
        record = {
            "kind": kind.value,
            "message": err.platform_message,
            "endpoint": err.endpoint,
            "code": err.code,
            "http_status": err.http_status,
            "resume_at": getattr(err, "resume_at", None),
        }
        self._redis.set(f"{self.key}:error", json.dumps(record), px=int(self.error_ttl * 1000))

    def _shared_error(self) -> PlatformError | None:
        raw = self._redis.get(f"{self.key}:error")
        if raw is None:
            return None
        record = json.loads(raw)
        err = make_error(
            Kind(record["kind"]),
            record["message"],
            platform="wechat",
            endpoint=record["endpoint"],
            account=self.account,
            code=record["code"],
            http_status=record["http_status"],
        )
        if isinstance(err, QuotaError):
            err.resume_at = record["resume_at"]
        return err

    def _fetch_and_store(self, *, force: bool) -> AccessToken:
        try:
            value, expires_in = self._fetch(force)
        except PlatformError as err:
            # A forced refresh's quota is its own (20 a day): the waiters fetch normally.
            if not (force and isinstance(err, QuotaError)):
                self._remember_error(err)
            raise
        token = self._store(value, expires_in)
        _log.info(
            "wechat.token_fetched",
            account=self.account,
            endpoint=self.endpoint,
            force_refresh=force,
            expires_in=round(expires_in),
        )
        return token

    def _timeout(self) -> TransientError:
        return TransientError(
            "timed out waiting for another process to refresh the access token",
            platform="wechat",
            endpoint=self.endpoint,
            account=self.account,
        )

    # --- the public operations ---------------------------------------------------------------

    def get(self) -> AccessToken:
        """A valid token: the shared one, or a fresh one fetched by exactly one process."""
        return self._shared_or_fetched(
            lambda token: time.time() < token.refresh_at,
            lambda: self._fetch_and_store(force=False),
            stale_ok=True,
        )

    def _shared_or_fetched(
        self, usable: Callable[[AccessToken], bool], fetch: Callable[[], _Fetched], *,
        stale_ok: bool,
    ) -> AccessToken | _Fetched:
        """The shared token once ``usable`` says so; otherwise the process that takes the
        lock first calls ``fetch`` under it while the others wait and re-read (a fetch
        failure they share is raised to them too). ``stale_ok``: a waiter returns the old
        token while it has not expired. TransientError after ``wait_timeout``."""
        deadline = time.monotonic() + self.wait_timeout
        while True:
            token = self.read()
            if token is not None and usable(token):
                return token
            shared_error = self._shared_error()
            if shared_error is not None:
                raise shared_error
            owner = self._try_lock()
            if owner is not None:
                try:
                    token = self.read()  # someone may have refreshed before we took the lock
                    if token is not None and usable(token):
                        return token
                    return fetch()
                finally:
                    self._unlock(owner)
            if stale_ok and token is not None and time.time() < token.expires_at - 1:
                return token  # another process is refreshing; the old token still works
            if time.monotonic() > deadline:
                raise self._timeout()
            time.sleep(self.poll_interval)

    def drop(self) -> bool:
        """Forget the shared token and a remembered fetch failure (``modworker tokens drop``):
        the next call fetches a new token with the secret configured now. True when a token
        was held."""
        dropped = self._redis.delete(self.key)
        self._redis.delete(f"{self.key}:error")
        if dropped:
            _log.warning("wechat.token_dropped", account=self.account, endpoint=self.endpoint,
                         detail="dropped by hand")
        return bool(dropped)

    def renew(self, failed: AccessToken) -> AccessToken:
        """Drop ``failed`` (only if Redis still holds it) and return a valid token."""
        dropped = self._drop_if_same(keys=[self.key], args=[failed.value, repr(failed.fetched_at)])
        if int(dropped):
            _log.warning("wechat.token_dropped", account=self.account, endpoint=self.endpoint)
        return self.get()

    def force(self, failed: AccessToken) -> AccessToken | None:
        """Replace ``failed`` by a ``force_refresh`` fetch, unless another process already did.

        Returns None when the daily budget (20) is spent or a force refresh happened less than
        30 s ago and gave nothing new. When the platform refuses the forced refresh for quota
        (45009: its own daily limit), falls back to a normal fetch, which returns the current
        valid token (see :meth:`_force_refused`).
        """
        return self._shared_or_fetched(
            lambda token: token.value != failed.value, self._forced_fetch, stale_ok=False
        )

    def _forced_fetch(self) -> AccessToken | None:
        """A ``force_refresh`` fetch, if the budget allows one (None otherwise). Called under
        the lock."""
        if not self._spend_force_budget():
            return None
        _log.warning(
            "wechat.token_force_refresh",
            account=self.account,
            endpoint=self.endpoint,
            used_today=self.force_refreshes_today(),
        )
        try:
            return self._fetch_and_store(force=True)
        except QuotaError as err:
            return self._force_refused(err)

    def _force_refused(self, err: QuotaError) -> AccessToken:
        """The forced refresh hit its quota: only forced refreshes stop (the fetcher paused
        them); fetch normally, which gives the platform's current valid token. Called under
        the lock."""
        _log.warning(
            "wechat.token_force_refresh_refused",
            account=self.account,
            endpoint=self.endpoint,
            errcode=err.code,
            resume_at=err.resume_at,
            fallback="normal fetch",
        )
        return self._fetch_and_store(force=False)

    # --- the force_refresh budget ------------------------------------------------------------

    def _budget_key(self) -> str:
        day = datetime.now(ZoneInfo(self.timezone)).date().isoformat()
        return f"{self.key}:force:{day}"

    def force_refreshes_today(self) -> int:
        raw = self._redis.get(self._budget_key())
        return int(raw) if raw is not None else 0

    def _spend_force_budget(self) -> bool:
        if not self._redis.set(f"{self.key}:force:recent", "1", nx=True, ex=FORCE_REFRESH_SPACING):
            _log.warning(
                "wechat.token_force_refresh_skipped",
                account=self.account,
                reason=f"another force refresh less than {FORCE_REFRESH_SPACING}s ago",
            )
            return False
        key = self._budget_key()
        pipe = self._redis.pipeline(transaction=True)
        pipe.incr(key)
        pipe.expire(key, 2 * 86400)
        used = int(pipe.execute()[0])
        if used > FORCE_REFRESH_PER_DAY:
            _log.warning(
                "wechat.token_force_refresh_skipped",
                account=self.account,
                reason=f"daily budget of {FORCE_REFRESH_PER_DAY} spent",
            )
            return False
        return True
