"""WeChat access tokens: issue, check, supersede, expire.

Modelled on the two documented endpoints:

- classic ``/cgi-bin/token``: every fetch issues a new token; the previous classic token
  keeps working for ``overlap`` seconds (5 minutes) and then answers 40001. Only one old
  token overlaps: a third fetch kills the first token at once ("old and new both work").
- ``/cgi-bin/stable_token``: a normal call returns the current stable token while it is
  valid and more than ``renew_before`` seconds from expiry (the platform renews 5 minutes
  early), otherwise issues a new one (the old one lives until its own expiry). A
  ``force_refresh`` call kills the current stable token at once and issues a new one, at
  most ``force_per_day`` times a day; a force call less than ``force_interval`` seconds after
  the previous one does not refresh (it returns the current token), as documented.
  Classic and stable tokens are independent of each other.

Checking a token gives 41001 when absent, 40014 when it is not shaped like a token at all,
40001 when it is unknown, superseded or invalidated, 42001 when it has expired.
"""

from __future__ import annotations

import re
import secrets
from dataclasses import dataclass
from typing import Literal

from worker.sandbox.protocol import ApiError

TokenKind = Literal["classic", "stable"]

_TOKEN_SHAPE = re.compile(r"^[0-9]+_[A-Za-z0-9_-]{100,}$")
_DAY = 86_400.0
_CHINA_OFFSET = 8 * 3600.0


def china_day(now: float) -> int:
    """The day number in Asia/Shanghai (UTC+8), when WeChat daily limits reset."""
    return int((now + _CHINA_OFFSET) // _DAY)


@dataclass(slots=True)
class IssuedToken:
    value: str
    app_id: str
    kind: TokenKind
    issued_at: float
    expires_at: float
    dies_at: float | None = None  # superseded: works until then, 40001 after
    invalid: bool = False  # invalidated by force_refresh or sb.invalidate_tokens

    def expires_in(self, now: float) -> int:
        return max(0, int(self.expires_at - now))


class TokenStore:
    """Every token ever issued, by value, and the current one per (app, kind)."""

    def __init__(
        self,
        *,
        ttl: float,
        overlap: float,
        renew_before: float,
        force_per_day: int,
        force_interval: float,
    ) -> None:
        if ttl <= 0:
            raise ValueError("token_ttl must be > 0")
        self.ttl = ttl
        self.overlap = overlap
        # A short test lifetime must still leave a usable window between renewals.
        self.renew_before = min(renew_before, ttl / 2)
        self.force_per_day = force_per_day
        self.force_interval = force_interval
        self._serial = 0
        self._by_value: dict[str, IssuedToken] = {}
        self._current: dict[tuple[str, TokenKind], IssuedToken] = {}
        self._previous_classic: dict[str, IssuedToken] = {}
        self._forces: dict[str, list[float]] = {}
        self.issued: dict[str, int] = {}

    def _issue(self, app_id: str, kind: TokenKind, now: float) -> IssuedToken:
        self._serial += 1
        # Shaped like the real thing (long, url-safe); unguessable so tests cannot forge one.
        value = f"{self._serial}_{secrets.token_urlsafe(96)}"
        token = IssuedToken(
            value=value, app_id=app_id, kind=kind, issued_at=now, expires_at=now + self.ttl
        )
        self._by_value[value] = token
        self._current[(app_id, kind)] = token
        self.issued[app_id] = self.issued.get(app_id, 0) + 1
        return token

    def classic(self, app_id: str, now: float) -> IssuedToken:
        older = self._previous_classic.pop(app_id, None)
        if older is not None and (older.dies_at is None or older.dies_at > now):
            older.dies_at = now  # only the newest old token gets the overlap
        previous = self._current.get((app_id, "classic"))
        if previous is not None:
            previous.dies_at = now + self.overlap
            self._previous_classic[app_id] = previous
        return self._issue(app_id, "classic", now)

    def stable(self, app_id: str, now: float, *, force: bool) -> IssuedToken:
        current = self._current.get((app_id, "stable"))
        if force:
            forces = self._forces.setdefault(app_id, [])
            day = china_day(now)
            forces[:] = [t for t in forces if china_day(t) == day]
            too_soon = bool(forces) and now - forces[-1] < self.force_interval
            if too_soon and current is not None and self._usable(current, now):
                return current  # too soon after the last force: no refresh, as documented
            if len(forces) >= self.force_per_day:
                raise ApiError(45009)
            forces.append(now)
            if current is not None:
                current.invalid = True
            return self._issue(app_id, "stable", now)
        if (
            current is not None
            and self._usable(current, now)
            and current.expires_at - now > self.renew_before
        ):
            return current
        return self._issue(app_id, "stable", now)

    @staticmethod
    def _usable(token: IssuedToken | None, now: float) -> bool:
        return token is not None and not token.invalid and token.expires_at > now

    def check(self, value: str | None, now: float) -> IssuedToken:
        """The token's record, or the documented error for a bad one."""
        if not value:
            raise ApiError(41001)
        if not _TOKEN_SHAPE.match(value):
            raise ApiError(40014)
        token = self._by_value.get(value)
        if token is None or token.invalid:
            raise ApiError(40001)
        if token.dies_at is not None and now >= token.dies_at:
            raise ApiError(40001)
        if now >= token.expires_at:
            raise ApiError(42001)
        return token

    def invalidate(self, app_id: str | None = None) -> int:
        """Make every token of ``app_id`` (or of every app) answer 40001. Returns how many."""
        count = 0
        for token in self._by_value.values():
            if (app_id is None or token.app_id == app_id) and not token.invalid:
                token.invalid = True
                count += 1
        return count
