"""One failure policy for every actor: what an exception means for the work at hand.

:func:`dispose` reads an exception once and says what to do, so each actor switches on four
verdicts instead of a chain of ``except`` branches:

- ``RETRY``: try again with backoff (dramatiq's Retries; the attempt counts, bounded by
  ``max_retries``): transient and auth errors, and anything that is not the platform's answer
  (an unexpected answer shape, a Redis error, a bug);
- ``WAIT``: our own pacing said "not now" (the rate limiter, or no access token to call
  with: the token endpoint failed, and its failure is shared with every caller for a few
  seconds): try again at ``resume_at`` (else after ``wait`` s), burning no retry. Otherwise
  one busy answer of the token endpoint burns every queued action's retries within seconds;
- ``DEFER``: the platform's quota is used up: nothing of this endpoint runs before
  ``resume_at``, no retry burnt;
- ``FAIL``: the platform refused for good: audited ``failed``, never retried. ``disables``:
  the account may not use the action at all (88000/48001); ``target_gone``: the article or
  post is gone (88001/20101).
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum

from worker.errors import (
    ActionDisabledError,
    PermanentError,
    PlatformError,
    QuotaError,
    RateLimitedError,
    TargetGoneError,
    TransientError,
)
from worker.platforms.codes import TOKEN_ENDPOINTS  # WeChat's access token endpoints
from worker.textclean import printable

TOKEN_WAIT_SECONDS = 5.0  # as long as a failed token fetch is shared with every caller
QUOTA_WAIT_SECONDS = 60.0  # a quota pause without a known end is looked at again after this


class Verdict(Enum):
    RETRY = "retry"
    WAIT = "wait"
    DEFER = "defer"
    FAIL = "fail"


@dataclass(frozen=True, slots=True, kw_only=True)
class Disposition:
    """What :func:`dispose` decided, with what the actor reports.

    ``message``: the platform's message, when it answered. ``answered``: the platform
    answered (a PlatformError), so nothing is uncertain about what it did; otherwise a
    batch's sender is treated as dead (its batch lapses).
    ``reason``: the exception, printable, for logs and audit details. ``waiting_for``: for
    WAIT, ``"token"`` or ``"rate_limit"``.
    """

    verdict: Verdict
    reason: str
    code: int | None = None
    message: str = ""
    answered: bool = False
    resume_at: float | None = None
    wait: float = 0.0
    waiting_for: str | None = None
    disables: bool = False
    target_gone: bool = False


def dispose(exc: Exception) -> Disposition:
    """The verdict on ``exc`` (see the module docstring)."""
    if not isinstance(exc, PlatformError):
        return Disposition(verdict=Verdict.RETRY, reason=printable(f"{type(exc).__name__}: {exc}"))
    code, reason, message = exc.code, str(exc), exc.platform_message
    if isinstance(exc, QuotaError):
        return Disposition(
            verdict=Verdict.DEFER,
            reason=reason,
            code=code,
            message=message,
            answered=True,
            resume_at=exc.resume_at,
            wait=QUOTA_WAIT_SECONDS,
        )
    if isinstance(exc, RateLimitedError):
        return Disposition(
            verdict=Verdict.WAIT,
            reason=reason,
            code=code,
            message=message,
            answered=True,
            resume_at=exc.retry_at,
            wait=5.0,
            waiting_for="rate_limit",
        )
    if isinstance(exc, TransientError) and exc.endpoint in TOKEN_ENDPOINTS:
        return Disposition(
            verdict=Verdict.WAIT,
            reason=reason,
            code=code,
            message=message,
            answered=True,
            wait=TOKEN_WAIT_SECONDS,
            waiting_for="token",
        )
    if isinstance(exc, PermanentError):
        return Disposition(
            verdict=Verdict.FAIL,
            reason=reason,
            code=code,
            message=message,
            answered=True,
            disables=isinstance(exc, ActionDisabledError),
            target_gone=isinstance(exc, TargetGoneError),
        )
    return Disposition(
        verdict=Verdict.RETRY, reason=reason, code=code, message=message, answered=True
    )
