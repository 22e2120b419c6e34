"""``flush``: send an account's due batches (blacklist openids / Weibo comment ids), 20 ids
a call.

Batches are claimed atomically from Redis; a batch whose sender died is reclaimed whole, and
ids that may have reached the platform (the attempted set) are reconciled by the client's
``send_batch`` where a repeat is not harmless, so no openid is sent twice.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

from worker.pipeline.actors.common import (
    DISABLED_DETAIL,
    BatchOrigin,
    audit_action,
    batch_context,
    log,
    tell_quota_paused,
)
from worker.pipeline.batches import Batch
from worker.pipeline.failures import Verdict, dispose
from worker.pipeline.heartbeat import LEASE_SECONDS, Heartbeat
from worker.pipeline.runtime import Runtime
from worker.platform_specs import platform_spec
from worker.platforms import BatchOutcome

if TYPE_CHECKING:
    from worker.pipeline.actors.pipeline import Pipeline


def flush(p: Pipeline, account: str) -> None:
    """Send the account's due batches (blacklist openids / Weibo comment ids), 20 ids a call.

    A batch is taken over (reclaimed) when its sender died, or failed without a platform
    answer; each takeover counts as an attempt, and after ``max_retries`` of them its ids
    are audited ``failed`` instead of sent again.
    """
    rt = p.runtime
    buffer = rt.buffer(account)
    owner = f"flush-{time.time_ns()}"
    for expired in buffer.expired_batches():
        batch = buffer.reclaim(expired.batch_id, owner=owner)
        if batch is not None:
            log.warning("batch_reclaimed", platform=rt.account(account).platform,
                        account=account, batch=batch.batch_id,
                        size=len(batch.ids), attempts=batch.attempts)
            if batch.attempts > 1 + rt.config.actions.max_retries:
                _give_up_batch(rt, account, batch, owner)
                continue
            if not _send_batch(p, account, batch.batch_id, list(batch.ids), owner):
                return
    while True:
        batch = buffer.claim(max_wait=rt.config.actions.batch_max_wait, owner=owner)
        if batch is None:
            return
        if not _send_batch(p, account, batch.batch_id, list(batch.ids), owner):
            return


def _given_up(rt: Runtime, account: str, still_there: list[str]) -> list[str]:
    """Count one more refusal of each id; those refused more than max_retries times."""
    if not still_there:
        return []
    key = rt.keys.refused(account)
    pipe = rt.redis.pipeline(transaction=False)
    for item in still_there:
        pipe.hincrby(key, item, 1)
    counts = pipe.execute()
    limit = rt.config.actions.max_retries
    return [item for item, n in zip(still_there, counts, strict=True) if int(n) > limit]


def _send_batch(p: Pipeline, account: str, batch_id: str, ids: list[str], owner: str) -> bool:
    """Send one claimed batch, its lease renewed by a heartbeat while the calls run; False
    when the platform's quota is used up (the flush ends; another is sent for its end)."""
    rt = p.runtime
    buffer = rt.buffer(account)
    acc = rt.account(account)
    action = platform_spec(acc.platform).batch_action
    origins = {i: BatchOrigin.decode(raw) for i, raw in buffer.origins(ids).items()}
    sent = BatchOutcome()
    started = time.perf_counter()
    if rt.ledger.is_disabled(account, action):  # no call: the platform refused it already
        sent.fail(list(ids), DISABLED_DETAIL)
        _finish_batch(rt, account, action, batch_id, owner, ids, sent, origins, started)
        return True
    try:
        with Heartbeat(lambda: buffer.renew(batch_id, owner=owner) is not None,
                       name=f"batch:{account}:{batch_id}", every=LEASE_SECONDS / 3):
            _call_batch(rt, account, ids, sent)
    except Exception as exc:
        disposition = dispose(exc)
        if disposition.verdict is Verdict.DEFER:
            buffer.requeue(batch_id, owner=owner)
            tell_quota_paused(rt, account, disposition.code, disposition.resume_at)
            log.warning("batch_deferred", platform=acc.platform, account=account,
                        action=action, outcome="deferred", errcode=disposition.code,
                        resume_at=disposition.resume_at, size=len(ids))
            p.actors.flush.send_with_options(args=(account,), delay=disposition.delay_ms())
            return False
        if disposition.verdict is not Verdict.FAIL:
            if disposition.answered:
                buffer.requeue(batch_id, owner=owner)  # the attempted set makes it safe
            else:
                # Not the platform's answer (an unexpected answer, a bug): the batch stays
                # claimed, its lease lapsed at once, so the next flush takes it over as
                # after a crash; each takeover counts (see flush): this cannot go on forever.
                buffer.lapse(batch_id, owner=owner)
                log.error("batch_error", platform=acc.platform, account=account,
                          action=action, batch=batch_id, size=len(ids),
                          detail=disposition.reason, exc_info=True)
            raise
        reason = disposition.refusal
        if disposition.disables:
            rt.ledger.disable_action(account, action, reason)
        sent.failed = [i for i in ids if i not in sent.done]
        sent.reasons = dict.fromkeys(sent.failed, reason)
    _finish_batch(rt, account, action, batch_id, owner, ids, sent, origins, started)
    return True


def _give_up_batch(rt: Runtime, account: str, batch: Batch, owner: str) -> None:
    """Fail every id of a batch taken over too many times (its sends kept failing without
    a platform answer, or its senders kept dying)."""
    action = platform_spec(rt.account(account).platform).batch_action
    ids = list(batch.ids)
    origins = {i: BatchOrigin.decode(raw) for i, raw in rt.buffer(account).origins(ids).items()}
    reason = (f"gave up after {batch.attempts - 1} attempts without a platform answer "
              "(the sender failed, see batch_error, or died)")
    sent = BatchOutcome(failed=ids, reasons=dict.fromkeys(ids, reason))
    _finish_batch(rt, account, action, batch.batch_id, owner, ids, sent, origins,
                  time.perf_counter())


def _call_batch(rt: Runtime, account: str, ids: list[str], sent: BatchOutcome) -> None:
    """The platform calls of one batch; ``sent`` is filled in as answers arrive (so that a
    failure midway keeps what was done before it). Ids already in the attempted set may have
    reached the platform before a crash or a failed answer: the client reconciles them."""
    client = rt.client(account)
    attempted = rt.keys.attempted(account)
    uncertain = [i for i, hit in zip(ids, rt.redis.smismember(attempted, ids), strict=True)
                 if hit]
    if ids:
        rt.redis.sadd(attempted, *ids)
    client.send_batch(ids, uncertain=uncertain, into=sent)
    # Still there after an answer without error: resent with the next batch, but not
    # forever (a platform that quietly keeps an id would cost two calls a flush).
    given_up = _given_up(rt, account, sent.kept)
    tries = 1 + rt.config.actions.max_retries
    sent.fail(given_up, f"kept by the platform after {tries} {client.spec.batch_call} call(s)")


def _finish_batch(
    rt: Runtime, account: str, action: str, batch_id: str, owner: str, ids: list[str],
    sent: BatchOutcome, origins: dict[str, BatchOrigin], started: float,
) -> None:
    """Complete the batch in Redis (its outcomes are then recorded: the ids leave the
    attempted set), log it, and audit each id against the rule and comment that asked.

    A stale owner (the batch was reclaimed by another flush while this one's calls ran)
    changes and audits nothing: the new owner sends the batch again (its ids are still in the
    attempted set, so a blacklist is reconciled first) and reports it.
    """
    platform = rt.account(account).platform
    done, failed = sent.done, sent.failed
    completion = rt.buffer(account).complete(batch_id, done, failed, owner=owner)
    duration = round((time.perf_counter() - started) * 1000, 1)
    if completion is None:
        log.warning("batch_lost", platform=platform, account=account, action=action,
                    batch=batch_id, size=len(ids), done=len(done), failed=len(failed),
                    duration_ms=duration,
                    detail="reclaimed by another flush while its calls ran; that one reports it")
        return
    rt.redis.srem(rt.keys.attempted(account), *ids)
    if done or failed:  # their refusal counts (see _given_up) are over
        rt.redis.hdel(rt.keys.refused(account), *done, *failed)
    log.info("batch_sent", platform=platform, account=account, action=action, size=len(ids),
             done=len(done), failed=len(failed), requeued=completion.requeued,
             duration_ms=duration)
    for outcome, items in (("ok", done), ("failed", failed)):
        for item in items:
            origin = origins.get(item)
            context = batch_context(platform, account, item, origin)
            detail = f"batch {batch_id}" if outcome == "ok" else sent.reasons.get(item)
            audit_action(rt, context, action, origin.rule if origin else None, outcome,
                         detail=detail)
