"""What a poll's end means, told once: freshness recorded, one structured event, one metric.

A failed poll is one ``poll_failed`` event with account, platform, target, the error class
(``reason``), ``errcode``, ``error`` (the exception class) and ``next`` (what happens now).
A platform refusing an account's credentials (a revoked Weibo token, a wrong WeChat secret,
an IP not whitelisted) is, in addition, one ``credentials_rejected`` error the first time
only: every later refusal is news to nobody until the credentials were accepted again
(``credentials_accepted``). So an account that stops working is one line at ``error``, not a
storm, and the other accounts' lines go on as before.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import structlog

from worker import metrics
from worker.errors import PermanentError, PlatformError, QuotaError, TargetGoneError
from worker.pipeline.audit import AuditLog
from worker.pipeline.freshness import FailureReason, Freshness
from worker.platforms.codes import refuses_credentials

log = structlog.get_logger("worker.pipeline")

def failure_reason(error: BaseException) -> FailureReason:
    """The error class a poll failure is counted and told under."""
    if isinstance(error, TargetGoneError):
        return "gone"
    if credentials_refused(error):
        return "credentials"
    if isinstance(error, QuotaError):
        return "quota"
    if isinstance(error, PermanentError):
        return "permanent"
    return "transient"


def credentials_refused(error: BaseException) -> bool:
    """Whether ``error`` says the account's credentials are refused (the platform package
    knows which answers do: :func:`worker.platforms.codes.refuses_credentials`)."""
    return isinstance(error, PlatformError) and refuses_credentials(error)


@dataclass(frozen=True)
class PollOutcomes:
    """Records and tells how polls end (one per worker process, shared by its threads).

    The audit gets a ``poll`` record for every failed poll and for a successful one that found
    new comments or ended a run of failures; idle polls are in the freshness records only
    (an audit record a minute per target would crowd the decisions out of the stream)."""

    freshness: Freshness
    audit: AuditLog | None = None

    def succeeded(self, *, account: str, platform: str, target: str, new_comments: int,
                  duration_ms: float) -> None:
        failing = self.freshness.poll_succeeded(account=account, platform=platform,
                                                target=target, new_comments=new_comments)
        self.credentials_accepted(account=account, platform=platform)
        if self.audit is not None and (new_comments or failing):
            self.audit.append({"kind": "poll", "platform": platform, "account": account,
                               "target": target, "outcome": "ok", "new_comments": new_comments,
                               "duration_ms": duration_ms,
                               **({"detail": f"after {failing} failed poll(s)"}
                                  if failing else {})})
        log.info("polled", account=account, platform=platform, target=target,
                 new_comments=new_comments, duration_ms=duration_ms)

    def failed(self, *, account: str, platform: str, target: str, error: PlatformError,
               next_step: str, retrying: bool = False) -> FailureReason:
        """Record and tell one failed poll; ``next_step`` says what happens now."""
        reason = failure_reason(error)
        detail = error.platform_message
        failures = self.freshness.poll_failed(
            account=account, platform=platform, target=target, reason=reason,
            errcode=error.code, detail=detail,
        )
        metrics.count_poll_failure(account, reason)
        if self.audit is not None:
            self.audit.append({"kind": "poll", "platform": platform, "account": account,
                               "target": target,
                               "outcome": "deferred" if reason == "quota" else "failed",
                               "reason": reason, "errcode": error.code,
                               "detail": f"{detail}; next: {next_step}"})
        if reason == "credentials":
            self.credentials_refused(account=account, platform=platform, error=error)
        fields: dict[str, Any] = {
            "account": account, "platform": platform, "target": target, "reason": reason,
            "error": type(error).__name__, "errcode": error.code, "endpoint": error.endpoint,
            "detail": detail, "next": next_step, "consecutive_failures": failures,
        }
        # A retried transient failure is routine; one that gives up, or any other, is worth
        # a look (a warning), and needs a person only when credentials are refused (told
        # once at error by credentials_rejected).
        if retrying:
            log.info("poll_failed", **fields)
        else:
            log.warning("poll_failed", **fields)
        return reason

    def credentials_refused(self, *, account: str, platform: str, error: PlatformError) -> None:
        """Tell ``credentials_rejected`` if this is the first refusal since they worked."""
        news = self.freshness.credentials_rejected(
            account, errcode=error.code, detail=error.platform_message,
        )
        if news:
            log.error("credentials_rejected", account=account, platform=platform,
                      errcode=error.code, endpoint=error.endpoint, error=type(error).__name__,
                      detail=error.platform_message,
                      next=("this account is not moderated until its credentials work: fix "
                            "the secret or token, `modworker tokens drop --account "
                            f"{account}`, restart; polls go on trying every interval"))

    def credentials_accepted(self, *, account: str, platform: str) -> None:
        previous = self.freshness.credential(account)
        if self.freshness.credentials_accepted(account):
            if previous is not None and previous.status == "rejected":
                log.warning("credentials_accepted", account=account, platform=platform,
                            detail="accepted again after a refusal; moderation resumes")
            else:
                log.info("credentials_accepted", account=account, platform=platform)
