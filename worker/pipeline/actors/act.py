"""``act``: carry out one single (unbatched) action, at most once.

``act`` takes a lease on the action key (renewed by a heartbeat while the call runs; 30 s
without one and a dead holder's action is free), checks the done marker, calls, and marks
done; the platform's own "already done" answers count as done. What a failure means is
:func:`worker.pipeline.failures.dispose`'s verdict.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

import redis

from worker.errors import PlatformError
from worker.pipeline.actors.common import (
    DISABLED_DETAIL,
    audit_action,
    log,
    tell_quota_paused,
)
from worker.pipeline.actors.common import attempt as current_attempt
from worker.pipeline.failures import Verdict, dispose
from worker.pipeline.heartbeat import LEASE_SECONDS, Heartbeat
from worker.pipeline.keys import ActionKey
from worker.pipeline.ledger import Lease
from worker.pipeline.poll_outcomes import credentials_refused
from worker.pipeline.runtime import Runtime
from worker.platform_specs import Action
from worker.platforms import ActionResult

if TYPE_CHECKING:
    from worker.pipeline.actors.pipeline import Pipeline

CALLING_SECONDS = 86400  # how long a "may have reached the platform" mark outlives its call


def act(
    p: Pipeline, account: str, target: str, comment_id: str, action: str, text: str | None,
    rule: str,
) -> None:
    """Carry out one single (unbatched) action, at most once.

    The lease is renewed by a heartbeat while the call runs, however long its waits; every
    attempt counts towards ``max_retries``, whatever it raised (a message sent again to wait
    for a lease, a token, a rate limit or a quota keeps its count). An outcome is audited by
    whoever writes the action's done marker first: a stale holder (its lease expired during
    the call and was taken over) audits nothing another holder has recorded.
    """
    rt = p.runtime
    acc = rt.account(account)
    context = {"platform": acc.platform, "account": account, "target": target,
               "comment_id": comment_id}
    args = (account, target, comment_id, action, text, rule)
    attempt = current_attempt()
    if rt.ledger.is_disabled(account, action):
        audit_action(rt, context, action, rule, "failed", attempt=attempt,
                     detail=DISABLED_DETAIL)
        return
    key = ActionKey(platform=acc.platform, account=account, target=target, comment=comment_id,
                    action=action)
    claim = rt.ledger.claim(key, ttl=LEASE_SECONDS)
    if not claim:
        if claim.status == "done":
            log.info("action_already_done", **context, action=action, rule=rule,
                     outcome="already_done", detail="done marker present")
            return
        # Another delivery holds the lease right now: look again later, burn no retry.
        _act_again(p, args, delay=5_000)
        return
    lease = claim.lease
    assert lease is not None  # a won claim carries its lease
    started = time.perf_counter()
    heartbeat = Heartbeat(lambda: rt.ledger.renew(lease, ttl=LEASE_SECONDS),
                          name=f"act:{key.encode()}", every=LEASE_SECONDS / 3)
    try:
        with heartbeat:
            result = _reconciled(rt, key, account, target, context)
            if result is None:
                result = rt.client(account).perform(Action(action), target, comment_id, text)
    except Exception as exc:  # noqa: BLE001 - _dispose audits, logs or re-raises it
        _dispose(p, args, key, lease, context, exc, attempt, heartbeat)
        return
    except BaseException:  # interrupted (time limit, shutdown): free the action at once
        _release_quietly(rt, lease, context)
        raise
    duration = round((time.perf_counter() - started) * 1000, 1)
    outcome = "already_done" if result.already_done else "ok"
    recorded = _recorded(rt, key, outcome, lease, heartbeat, context)
    if action in rt.client(account).spec.reconciled:
        rt.redis.delete(calling_key(rt, key))
    if recorded:
        audit_action(rt, context, action, rule, outcome, errcode=result.code,
                     attempt=attempt, duration_ms=duration)


def _dispose(
    p: Pipeline, args: tuple[Any, ...], key: ActionKey, lease: Lease, context: dict[str, Any],
    exc: Exception, attempt: int, heartbeat: Heartbeat,
) -> None:
    """Act on a failed call's verdict (worker.pipeline.failures): a refusal is recorded done
    (``failed``); otherwise the lease is given back for the next try. Raises to have
    dramatiq retry the message."""
    rt = p.runtime
    account, action, rule = args[0], key.action, args[5]
    disposition = dispose(exc)
    verdict = disposition.verdict
    if isinstance(exc, PlatformError) and credentials_refused(exc):
        # Told once per account (credentials_rejected), however many actions meet it.
        rt.poll_outcomes.credentials_refused(account=account, platform=exc.platform, error=exc)
    if verdict is not Verdict.FAIL:
        _release_quietly(rt, lease, context)
    if verdict is Verdict.DEFER:
        tell_quota_paused(rt, account, disposition.code, disposition.resume_at)
        audit_action(rt, context, action, rule, "deferred", errcode=disposition.code,
                     attempt=attempt, detail=f"quota: resumes at {disposition.resume_at}")
        _act_again(p, args, delay=disposition.delay_ms())
    elif verdict is Verdict.WAIT:
        if disposition.waiting_for == "token":
            # No access token to call with: not this action's failure (see failures.py).
            log.warning("action_waiting_for_token", **context, action=action, rule=rule,
                        errcode=disposition.code, detail=disposition.reason)
        else:  # our own limiter's pacing: debug, or a backlog would flood the log
            log.debug("action_postponed", **context, action=action, rule=rule,
                      retry_at=disposition.resume_at, detail=disposition.reason)
        _act_again(p, args, delay=disposition.delay_ms())
    elif verdict is Verdict.FAIL:
        detail = disposition.message
        if disposition.disables:
            rt.ledger.disable_action(account, action, disposition.refusal)
            detail = f"{disposition.message}; {action} disabled for {account}"
        if _recorded(rt, key, "failed", lease, heartbeat, context,
                     detail={"error": disposition.reason}):
            audit_action(rt, context, action, rule, "failed", errcode=disposition.code,
                         attempt=attempt, detail=detail)
    elif attempt > rt.config.actions.max_retries:
        _give_up(rt, key, context, rule, attempt, errcode=disposition.code,
                 detail=f"gave up: {disposition.reason}")
    else:
        log.warning("action_retry", **context, action=action, rule=rule,
                    errcode=disposition.code, attempt=attempt, detail=disposition.reason,
                    exc_info=not disposition.answered)
        raise exc


def _act_again(p: Pipeline, args: tuple[Any, ...], *, delay: int) -> None:
    """Send this act message again after ``delay`` ms, keeping its retry count: a message
    sent again to wait does not start its retries over."""
    p.actors.act.send_with_options(args=args, delay=delay, retries=current_attempt() - 1)


def _recorded(
    rt: Runtime, key: ActionKey, outcome: str, lease: Lease, heartbeat: Heartbeat,
    context: dict[str, Any], *, detail: dict[str, Any] | None = None,
) -> bool:
    """Write the done marker; whether this holder wrote it first (and so reports it).

    A holder whose lease was lost during the call still writes the marker (the platform
    confirmed the outcome), but when another holder recorded the action first, that one
    reports it: this one audits nothing.
    """
    wrote = rt.ledger.mark_done(key, outcome, lease=lease, detail=detail)
    if heartbeat.lost:
        log.warning("action_lease_lost", **context, action=key.action, outcome=outcome,
                    recorded=wrote,
                    detail="the lease expired during the call" + (
                        "" if wrote else "; another holder recorded the action first"))
    return wrote


def _give_up(
    rt: Runtime, key: ActionKey, context: dict[str, Any], rule: str, attempt: int, *,
    errcode: int | None, detail: str,
) -> None:
    """Audit an action failed after its last attempt, unless another holder has taken it
    over meanwhile (its lease is live or it is done): that holder reports it."""
    if rt.ledger.is_taken(key):
        log.warning("action_lease_lost", **context, action=key.action, attempt=attempt,
                    detail=f"another holder has the action; this one {detail}")
        return
    audit_action(rt, context, key.action, rule, "failed", errcode=errcode, attempt=attempt,
                 detail=detail)


def _release_quietly(rt: Runtime, lease: Lease, context: dict[str, Any]) -> None:
    """Give a lease back after a failure; if Redis is what failed, it expires by itself."""
    try:
        rt.ledger.release(lease)
    except redis.RedisError as exc:
        log.warning("action_lease_release_failed", **context, action=lease.key.action,
                    detail=f"{exc}; it expires within {LEASE_SECONDS:.0f} s")


def calling_key(rt: Runtime, key: ActionKey) -> str:
    """Set before each call of a RECONCILED action, deleted once its done marker is written:
    found set by a later claim, it says an earlier call may have reached the platform."""
    return f"{rt.keys.prefix}:calling:{{{key.encode()}}}"


def _reconciled(
    rt: Runtime, key: ActionKey, account: str, target: str, context: dict[str, Any]
) -> ActionResult | None:
    """For elect/unelect: the result, without a call, when an earlier call already took effect.

    An earlier call may have reached the platform with nobody left to hear the answer (its
    worker was killed, or Redis went away before the done marker was written); its lease then
    expired and this delivery claimed the action. The platform would answer a repeat with a
    plain success, so the comment's state says whether the earlier call happened.
    """
    client = rt.client(account)
    action = Action(key.action)
    if action not in client.spec.reconciled:
        return None
    calling = calling_key(rt, key)
    if rt.redis.exists(calling):
        holds = client.effect_holds(action, target, key.comment)
        log.info("action_reconciled", **context, action=key.action, effect_holds=holds,
                 detail="an earlier call may have reached the platform; read its state")
        if holds:
            return ActionResult(already_done=True)
    rt.redis.set(calling, "1", ex=CALLING_SECONDS)
    return None


