"""What every actor shares: the message's attempt count, the action audit, what a
batch remembers of the comment that asked for an id, the polling marker."""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from typing import Any

import structlog
from dramatiq.middleware import CurrentMessage

from worker import metrics
from worker.pipeline.keys import escape
from worker.pipeline.runtime import Runtime
from worker.platform_specs import platform_spec

log = structlog.get_logger("worker.pipeline")

DISABLED_DETAIL = "action disabled for this account until reload (88000/48001)"


def attempt() -> int:
    """This delivery's attempt number (1 for the first) of the message being processed."""
    message = CurrentMessage.get_current_message()
    return (message.options.get("retries", 0) if message else 0) + 1


def audit_action(
    rt: Runtime, context: dict[str, Any], action: str, rule: str | None, outcome: str, *,
    errcode: int | None = None, attempt: int | None = None, detail: str | None = None,
    duration_ms: float | None = None,
) -> None:
    """Record an action's outcome: audit stream and rule stats (one round trip), metrics and
    one log line."""
    record = {"kind": "action", **context, "action": action, "rule": rule, "outcome": outcome,
              "errcode": errcode, "attempt": attempt, "detail": detail}
    fields = rt.audit.encode(record)
    pipe = rt.redis.pipeline(transaction=True)
    rt.audit.using(pipe).append_encoded(fields)
    if rule:
        rt.stats.queue_outcome(pipe, rule, action, outcome)
    pipe.execute()
    if outcome == "failed":
        rt.notifier.event("action_failed", platform=context.get("platform"),
                          account=context.get("account"), target=context.get("target"),
                          comment_id=context.get("comment_id"),
                          detail=f"{action} ({rule}): {errcode or ''} {detail or ''}".strip())
    metrics.count_action(action, outcome)
    level = "error" if outcome == "failed" else "warning" if outcome == "deferred" else "info"
    getattr(log, level)("action", **context, action=action, rule=rule, outcome=outcome,
                        errcode=errcode, attempt=attempt, detail=detail, duration_ms=duration_ms)


def tell_quota_paused(rt: Runtime, account: str, code: int | None,
                      resume_at: float | None) -> None:
    """Tell ``notify.events`` a quota pause once per pause (however many calls meet it).

    A call held back by a pause already in force carries no code: that pause was told when
    the platform's answer started it."""
    if code is None:
        return
    resume = int(resume_at or 0)
    until = time.strftime("%Y-%m-%d %H:%M:%S %Z", time.localtime(resume))
    rt.notifier.event("quota_paused", once=f"{escape(account)}:{code}:{resume}",
                      once_for=max(60, resume - int(time.time()) + 60), account=account,
                      detail=f"quota exhausted ({code}): paused until {until}")


@dataclass(frozen=True, slots=True, kw_only=True)
class BatchOrigin:
    """Which rule and comment put an id in a batch buffer: its outcome is told against them."""

    rule: str
    target: str
    comment_id: str

    def encode(self) -> str:
        return json.dumps([self.rule, self.target, self.comment_id], ensure_ascii=False)

    @classmethod
    def decode(cls, raw: str) -> BatchOrigin:
        rule, target, comment_id = json.loads(raw)
        return cls(rule=rule, target=target, comment_id=comment_id)


def batch_context(
    platform: str, account: str, item: str, origin: BatchOrigin | None
) -> dict[str, Any]:
    """The audit context of a batched id: the comment that asked for it, when known."""
    context: dict[str, Any] = {"platform": platform, "account": account}
    if origin is not None:
        context["target"] = origin.target
    if platform_spec(platform).batches_by == "author":
        context["openid"] = item
        if origin is not None:
            context["comment_id"] = origin.comment_id
    else:
        context["comment_id"] = item
    return context


def polling_marker(rt: Runtime, tkey: str) -> str:
    """Set by the scheduler when it sends a poll, removed when the poll ends: no target is
    polled twice at once, however backed up the queue is."""
    return f"{rt.keys.prefix}:polling:{tkey}"


def polling_marker_ttl(rt: Runtime) -> int:
    """Seconds a polling marker lives without news of its poll (a worker that died mid-poll
    blocks its target no longer than this); a running poll renews it every page."""
    return max(30, int(rt.config.polling.interval * 2))
