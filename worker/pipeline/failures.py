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

import time
from dataclasses import dataclass, replace
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
RATE_LIMIT_WAIT_SECONDS = 5.0  # our limiter said "not now" without saying until when


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

    @property
    def refusal(self) -> str:
        """The platform's answer as one text, ``"88000: without comment privilege"``."""
        return f"{self.code}: {self.message}"

    def delay_ms(self) -> int:
        """Milliseconds until ``resume_at`` (``wait`` s when unknown), at least a second:
        when a WAIT or DEFER message is sent again."""
        seconds = (self.resume_at - time.time()) if self.resume_at is not None else self.wait
        return max(1000, int(seconds * 1000) + 250)


def dispose(exc: Exception) -> Disposition:
    """The verdict on ``exc`` (see the module docstring)."""
    if not isinstance(exc, PlatformError):
        return Disposition(verdict=Verdict.RETRY, reason=printable(f"{type(exc).__name__}: {exc}"))
    answer = Disposition(verdict=Verdict.RETRY, reason=str(exc), code=exc.code,
                         message=exc.platform_message, answered=True)
    if isinstance(exc, QuotaError):
        return replace(answer, verdict=Verdict.DEFER, resume_at=exc.resume_at,
                       wait=QUOTA_WAIT_SECONDS)
    if isinstance(exc, RateLimitedError):
        return replace(answer, verdict=Verdict.WAIT, resume_at=exc.retry_at,
                       wait=RATE_LIMIT_WAIT_SECONDS, waiting_for="rate_limit")
    if isinstance(exc, TransientError) and exc.endpoint in TOKEN_ENDPOINTS:
        return replace(answer, verdict=Verdict.WAIT, wait=TOKEN_WAIT_SECONDS,
                       waiting_for="token")
    if isinstance(exc, PermanentError):
        return replace(answer, verdict=Verdict.FAIL,
                       disables=isinstance(exc, ActionDisabledError),
                       target_gone=isinstance(exc, TargetGoneError))
    return answer
