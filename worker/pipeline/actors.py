"""The dramatiq actors: ``poll`` lists, ``moderate`` decides, ``act`` and ``flush`` do.

Delivery is at least once, so every effect is idempotent:

- ``poll`` marks comments seen only after their ``moderate`` message is enqueued (a crash in
  between re-sends them; the ledger makes that harmless) and moves the Weibo cursor last;
- ``act`` takes a lease on the action key (renewed by a heartbeat while the call runs; 30 s
  without one and a dead holder's action is free), checks the done marker, calls, and marks
  done; the platform's own "already done" answers count as done;
- ``flush`` claims batches atomically from Redis; a batch whose sender died is reclaimed whole,
  and a blacklist batch that may have reached the platform is first reconciled against the
  platform's blacklist, so no openid is sent twice.

Retry policy per error class: transient errors raise (dramatiq's Retries: bounded count,
exponential backoff), and so does any other exception (its lease released first); the last
attempt is audited ``failed``; quota errors re-send the message
with a delay until the pause ends, burning no retry (``deferred``); permanent errors are audited
``failed`` and never retried; 88000/48001 also disable that action for the account.
"""

from __future__ import annotations

import json
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import dramatiq
import redis
import structlog
from dramatiq.errors import BrokerConnectionError
from dramatiq.middleware import CurrentMessage

from worker import metrics
from worker.errors import (
    ActionDisabledError,
    PermanentError,
    PlatformError,
    QuotaError,
    RateLimitedError,
    TargetGoneError,
    TransientError,
)
from worker.models import Comment
from worker.notify.entries import rule_entry
from worker.pipeline.batches import Batch
from worker.pipeline.done import Lease
from worker.pipeline.heartbeat import LEASE_SECONDS, Heartbeat
from worker.pipeline.keys import ActionKey, escape, target_key
from worker.pipeline.runtime import Runtime
from worker.platforms import ActionResult, CommentPage, WechatClient, WeiboClient
from worker.platforms.codes import W_STABLE_TOKEN, W_TOKEN
from worker.rules import RuleSet, offense_rule
from worker.rules.model import Decision, PlannedAction
from worker.textclean import printable
from worker.waves.acting import follow_ups
from worker.waves.state import Observation

log = structlog.get_logger("worker.pipeline")

POLL_RETRIES = 2
TOKEN_ENDPOINTS = frozenset({W_STABLE_TOKEN, W_TOKEN})  # WeChat's access token endpoints
TOKEN_WAIT_MS = 5_000  # as long as a failed token fetch is shared with every caller
CALLING_SECONDS = 86400  # how long a "may have reached the platform" mark outlives its call

# Single actions whose repeat the platform answers with a plain success (markelect of an
# elected comment, unmarkelect of a normal one), mapped to the elected state they leave: a
# repeated call cannot be told from a first one, so when an earlier call may have reached the
# platform unanswered, the comment's state is read instead (see _reconciled).
RECONCILED = {"elect": True, "unelect": False}

_runtime: Runtime | None = None
_actors: Actors | None = None


def set_runtime(runtime: Runtime | None) -> None:
    global _runtime
    _runtime = runtime


def runtime() -> Runtime:
    if _runtime is None:
        raise RuntimeError("no Runtime in this process: call set_runtime() first")
    return _runtime


def actors() -> Actors:
    if _actors is None:
        raise RuntimeError("actors are not declared in this process: call declare_actors()")
    return _actors


def _attempt() -> int:
    message = CurrentMessage.get_current_message()
    return (message.options.get("retries", 0) if message else 0) + 1


def _last_attempt() -> bool:
    return _attempt() > runtime().config.actions.max_retries


def _delay_ms(until: float | None, fallback: float = 60.0) -> int:
    seconds = (until - time.time()) if until is not None else fallback
    return max(1000, int(seconds * 1000) + 250)


DISABLED_DETAIL = "action disabled for this account until reload (88000/48001)"


# -- poll ----------------------------------------------------------------------------------

def poll(account: str, target: str) -> None:
    """List a target's new comments and send them on for moderation, a page per message."""
    rt = runtime()
    acc = rt.account(account)
    tkey = target_key(platform=acc.platform, account=account, target=target)
    bound = log.bind(account=account, platform=acc.platform, target=target)
    if rt.seen.is_target_gone(tkey):
        rt.redis.delete(polling_marker(rt, tkey))
        return
    started = time.perf_counter()
    try:
        client = rt.client(account)
        if isinstance(client, WechatClient):
            sent = _poll_wechat(rt, client, account, target, tkey)
        else:
            sent = _poll_weibo(rt, client, account, target, tkey)
    except TargetGoneError as exc:
        rt.seen.mark_target_gone(tkey, f"{exc.code}: {exc.platform_message}")
        rt.notifier.event("target_gone", account=account, target=target,
                          detail=f"{exc.code}: {exc.platform_message}; no longer polled")
        bound.warning("target_gone", errcode=exc.code, detail=exc.platform_message,
                      note="this target is no longer polled")
        rt.redis.delete(polling_marker(rt, tkey))
        return
    except QuotaError as exc:
        _quota_paused(rt, account, exc)
        bound.warning("poll_deferred", outcome="deferred", errcode=exc.code,
                      resume_at=exc.resume_at)
        rt.redis.delete(polling_marker(rt, tkey))
        return
    except PermanentError as exc:
        bound.error("poll_failed", outcome="failed", errcode=exc.code, detail=str(exc))
        rt.redis.delete(polling_marker(rt, tkey))
        return
    except TransientError:
        if _attempt() > POLL_RETRIES:
            rt.redis.delete(polling_marker(rt, tkey))  # the next interval polls again
        raise
    rt.redis.delete(polling_marker(rt, tkey))
    bound.info("polled", new_comments=sent,
               duration_ms=round((time.perf_counter() - started) * 1000, 1))


def polling_marker(rt: Runtime, tkey: str) -> str:
    """Set by the scheduler when it sends a poll, removed when the poll ends: no target is
    polled twice at once, however backed up the queue is."""
    return f"{rt.keys.prefix}:polling:{tkey}"


def polling_marker_ttl(rt: Runtime) -> int:
    """Seconds a polling marker lives without news of its poll (a worker that died mid-poll
    blocks its target no longer than this); a running poll renews it every page."""
    return max(30, int(rt.config.polling.interval * 2))


def _keep_polling_marker(rt: Runtime, tkey: str) -> None:
    rt.redis.expire(polling_marker(rt, tkey), polling_marker_ttl(rt))


def _seen_id(comment: Comment) -> str:
    # WeChat comments change state (elected, replied) in place: the state is part of what was
    # seen, so a changed comment is moderated again (the ledger keeps actions single).
    if comment.platform == "wechat":
        return f"{comment.id}#{int(comment.elected)}{int(comment.replied)}"
    return comment.id


def _send_new(rt: Runtime, account: str, target: str, tkey: str, comments: list[Comment]) -> int:
    ids = [_seen_id(c) for c in comments]
    new = set(rt.seen.filter_new(tkey, ids))
    fresh = [c.to_dict() for c, i in zip(comments, ids, strict=True) if i in new]
    if fresh:
        actors().moderate.send(account, target, fresh)
        rt.seen.mark_seen(tkey, [i for i in ids if i in new])
    return len(fresh)


MAX_PAGES = 10_000


def _poll_wechat(
    rt: Runtime, client: WechatClient, account: str, target: str, tkey: str
) -> int:
    """Page by offset. Comments deleted meanwhile (by us, most often) shift the list up under
    the offset: when ``total`` shrank since the last page, step back by as much, so no comment
    is jumped over (the seen set drops the ones listed twice).

    Between full passes only the new end of the list is read. Which end that is, WeChat does
    not document (api-notes §1.4): the first page tells, by its creation times.
    """
    now = time.time()
    cursor = rt.seen.get_cursor(tkey)
    full = cursor is None or now - float(cursor) >= rt.config.polling.full_pass_interval
    size = rt.config.polling.page_size
    page = client.list_comments(target, begin=0, count=size)
    if not full and _oldest_first(page.comments):
        return _poll_wechat_tail(rt, client, account, target, tkey, page)
    sent = 0
    last_total: int | None = None
    for _ in range(MAX_PAGES):
        if last_total is not None and page.total < last_total and page.begin > 0:
            step = min(last_total - page.total, page.begin)
            last_total = page.total
            page = client.list_comments(target, begin=page.begin - step, count=size)
            continue
        last_total = page.total
        _keep_polling_marker(rt, tkey)
        new = _send_new(rt, account, target, tkey, page.comments)
        sent += new
        if not new and not full and page.comments:
            break  # newest first: a page of known comments means the rest are known too
        if not page.has_more:
            break
        page = client.list_comments(target, begin=page.next_begin, count=size)
    if full:
        rt.seen.set_cursor(tkey, now)
    return sent


def _oldest_first(comments: Sequence[Comment]) -> bool:
    """Whether a page lists oldest first: by creation time (whole seconds), then by
    ``user_comment_id``, which counts up per article."""
    if len(comments) < 2:
        return False

    def age(comment: Comment) -> tuple[float, int]:
        number = int(comment.id) if comment.id.isdigit() else 0
        return (comment.created_at or 0.0, number)

    return age(comments[0]) < age(comments[-1])


def _poll_wechat_tail(
    rt: Runtime, client: WechatClient, account: str, target: str, tkey: str, first: CommentPage
) -> int:
    """Oldest first: new comments are at the end. Page back from it until a page holds a known
    comment (those before it are known too). Deletes shift comments toward the start, into the
    pages still to read: none is jumped over."""
    size = rt.config.polling.page_size
    _keep_polling_marker(rt, tkey)
    sent = _send_new(rt, account, target, tkey, first.comments)
    end = first.total
    for _ in range(MAX_PAGES):
        if end <= size:
            break  # the first page, read already
        begin = max(size, end - size)
        page = client.list_comments(target, begin=begin, count=end - begin)
        _keep_polling_marker(rt, tkey)
        new = _send_new(rt, account, target, tkey, page.comments)
        sent += new
        if new < len(page.comments):
            break
        end = begin
    return sent


def _poll_weibo(rt: Runtime, client: WeiboClient, account: str, target: str, tkey: str) -> int:
    cursor = rt.seen.get_cursor(tkey)
    since = int(cursor) if cursor else None
    highest = since or 0
    sent = 0
    for page in client.iter_comment_pages(target, since_id=since):
        _keep_polling_marker(rt, tkey)
        sent += _send_new(rt, account, target, tkey, page.comments)
        for comment in page.comments:
            highest = max(highest, int(comment.id))
    if highest and highest != since:
        rt.seen.advance_cursor(tkey, highest)  # only after every page was enqueued
    return sent


# -- moderate ------------------------------------------------------------------------------

def moderate(account: str, target: str, comments: list[dict[str, Any]]) -> None:
    """Decide each comment and turn decisions into action messages and batch entries.

    Comments are isolated from each other: one that cannot be processed (a malformed entry, a
    string Redis cannot store) is audited as a ``failed`` decision with the reason, and the
    rest of the page goes on. Only a Redis failure (other than bad data) fails the whole
    message, to be retried: it says nothing about the comment at hand.
    """
    rt = runtime()
    rules = rt.rules.rules if rt.rules is not None else None
    if rules is None:
        raise RuntimeError("moderate needs a process with rules loaded")
    page = _Page(rt=rt, rules=rules, account=account, target=target, now=time.time())
    observations = _observe_page(page, comments)
    for position, data in enumerate(comments):
        try:
            _moderate_comment(page, position, data, observations.get(position))
        except Exception as exc:
            if _environmental(exc):
                raise
            page.failed(position, data, exc)
    page.send_decisions()
    if page.flush_needed:
        actors().flush.send(account)


def _environmental(exc: BaseException) -> bool:
    """A failure of the surroundings (Redis unreachable, read-only, out of memory), not of the
    comment being processed: the message is retried rather than the comment given up."""
    if isinstance(exc, BrokerConnectionError):  # an act or flush message not sent
        return True
    return isinstance(exc, redis.RedisError) and not isinstance(exc, redis.DataError)


class _Page:
    """One ``moderate`` message in progress: its queued decision records and failures.

    Decision records are queued on one pipeline and sent together: one round trip for the
    clean comments of a page instead of one each. The queue is sent before anything else a
    comment does (rule stats, offense record, actions), so every Redis effect happens in the
    same order as if each record were sent at once; moderate never reads what is queued
    (evaluate reads offenses only). Should the batch fail on a record (one Redis cannot
    store), the records are sent one at a time and only the comments whose own record fails
    are given up.
    """

    def __init__(self, *, rt: Runtime, rules: RuleSet, account: str, target: str,
                 now: float) -> None:
        self.rt = rt
        self.rules = rules
        self.account = account
        self.target = target
        self.platform = rt.account(account).platform
        self.now = now
        self.flush_needed = False
        self._queued: list[tuple[int, dict[str, Any], dict[str, Any]]] = []

    def queue_decision(self, position: int, data: dict[str, Any],
                       record: dict[str, Any]) -> None:
        self._queued.append((position, data, record))

    def send_decisions(self, *, current: int | None = None) -> None:
        """Send the queued records; a comment whose record cannot be stored is audited
        failed, except the ``current`` one, whose error is raised for its caller to handle."""
        queued, self._queued = self._queued, []
        if not queued:
            return
        rt = self.rt
        pipe = rt.redis.pipeline(transaction=False)
        audit = rt.audit.using(pipe)
        try:
            for _, _, record in queued:
                audit.append(record)
            pipe.execute()
            return
        except Exception as exc:
            if _environmental(exc):
                raise
        own: Exception | None = None
        for position, data, record in queued:
            try:
                rt.audit.append(record)
            except Exception as exc:
                if _environmental(exc):
                    raise
                if position == current:
                    own = exc
                else:
                    self.failed(position, data, exc)
        if own is not None:
            raise own

    def failed(self, position: int, data: Any, exc: Exception) -> None:
        """Audit a comment that could not be processed, with the reason, and log it."""
        raw_id = data.get("id") if isinstance(data, dict) else None
        comment_id = printable(raw_id) if raw_id is not None else f"#{position + 1} of the page"
        reason = printable(f"{type(exc).__name__}: {exc}")
        context = {"platform": self.platform, "account": self.account, "target": self.target,
                   "comment_id": comment_id}
        self.rt.audit.append({"kind": "decision", **context, "outcome": "failed",
                              "rules": [], "actions": [], "detail": reason})
        log.error("comment_failed", **context, outcome="failed", detail=reason,
                  note="this comment is given up; the rest of its page goes on")


def _observe_page(page: _Page, comments: list[dict[str, Any]]) -> dict[int, Observation]:
    """Record the page's comments in the wave state in one round trip (a comment that does
    not parse is left to :func:`_moderate_comment`, which audits it failed)."""
    if page.rules.wave_query is None:
        return {}
    parsed: list[tuple[int, Comment]] = []
    for position, data in enumerate(comments):
        try:
            parsed.append((position, Comment.from_dict(data)))
        except Exception:  # noqa: BLE001 - its own processing reports it
            continue
    seen = page.rules.observe_page([c for _, c in parsed], page.rt.waves, page.now)
    return {position: o for (position, _), o in zip(parsed, seen, strict=True) if o is not None}


def _moderate_comment(page: _Page, position: int, data: dict[str, Any],
                      observation: Observation | None = None) -> None:
    rt = page.rt
    account, target, now = page.account, page.target, page.now
    comment = Comment.from_dict(data)
    decision = page.rules.evaluate(comment, offenses=rt.offenses, now=now, waves=rt.waves,
                                   observation=observation)
    context = {"platform": comment.platform, "account": account, "target": target,
               "comment_id": comment.id}
    page.queue_decision(position, data, {
        "kind": "decision", **context, "rules": decision.matched,
        **({"after_stop": decision.after_stop} if decision.after_stop else {}),
        "actions": [a.to_dict() for a in decision.actions],
        "skipped": [s.to_dict() for s in decision.skipped],
        "author": comment.author, "content": comment.content[:200],
    })
    if not decision.matches:
        return
    page.send_decisions(current=position)
    for match in decision.matches:
        rt.stats.record_hit(match.rule, match.mode, at=now, after_stop=match.after_stop)
        metrics.count_rule_hit(match.rule, match.mode)
    log.info("decided", **context, rules=decision.matched,
             actions=[a.type for a in decision.actions])
    offender_rule = offense_rule(decision)
    if comment.author and offender_rule is not None:
        rt.offenses.record(
            platform=comment.platform, account=account, author=comment.author,
            at=comment.created_at if comment.created_at is not None else now,
            rule_id=offender_rule, comment_id=comment.id,
        )
    _carry_out(page, comment, target, decision.actions, context)
    if decision.waves:
        _earlier_wave_members(page, decision)


def _carry_out(page: _Page, comment: Comment, target: str, actions: Sequence[PlannedAction],
               context: dict[str, Any], *, wave: str | None = None) -> None:
    """Turn planned actions into act messages, batch entries and notify entries."""
    rt = page.rt
    account = page.account
    acc = rt.account(account)
    planned = [a.type for a in actions]
    for action in actions:
        if action.type == "notify":
            # Told in the channel's next digest, shadow and dry_run too (marked so).
            rt.notifier.add(str(action.channel), rule_entry(
                comment, action, planned, dry_run=rt.config.dry_run, wave=wave))
            continue
        if action.mode == "shadow" or rt.config.dry_run:
            detail = "shadow rule" if action.mode == "shadow" else "dry_run is on"
            _audit_action(rt, context, action.type, action.rule, "dry_run", detail=detail)
            continue
        batched_item = _batched_item(acc.platform, action.type, comment)
        if batched_item is not None:
            buffer = rt.buffer(account)
            origin = _BatchOrigin(rule=action.rule, target=target, comment_id=comment.id)
            if buffer.add(batched_item, origin=origin.encode()):
                log.info("batched", **context, action=action.type, rule=action.rule,
                         item=batched_item)
                page.flush_needed = page.flush_needed or buffer.pending_count() >= 20
            else:
                _audit_action(rt, _batch_context(acc.platform, account, action.type,
                                                 batched_item, origin),
                              action.type, action.rule, "already_done",
                              detail="already buffered, in flight or done for this account")
            continue
        actors().act.send(account, target, comment.id, action.type, action.text, action.rule)


def _earlier_wave_members(page: _Page, decision: Decision) -> None:
    """A wave rule held for the first time: its actions apply to the wave's earlier members
    that no comment of the wave acted on yet (claimed once each, whatever worker asks)."""
    rt = page.rt
    for follow in follow_ups(page.rules, rt.waves, decision):
        member = follow.comment
        target = member.target or page.target
        context = {"platform": member.platform, "account": page.account, "target": target,
                   "comment_id": member.id}
        rt.audit.append({"kind": "wave", **context, "rule": follow.rule, "wave": follow.wave,
                         "by": decision.comment.id, "actions": [a.type for a in follow.actions],
                         "author": member.author, "content": member.content[:200]})
        log.info("wave_member", **context, rule=follow.rule, wave=follow.wave,
                 by=decision.comment.id, actions=[a.type for a in follow.actions])
        _carry_out(page, member, target, follow.actions, context, wave=follow.wave)


@dataclass(frozen=True, slots=True, kw_only=True)
class _BatchOrigin:
    """Which rule and comment put an id in a batch buffer: its outcome is told against them."""

    rule: str
    target: str
    comment_id: str

    def encode(self) -> str:
        return json.dumps([self.rule, self.target, self.comment_id], ensure_ascii=False)

    @classmethod
    def decode(cls, raw: str) -> _BatchOrigin:
        rule, target, comment_id = json.loads(raw)
        return cls(rule=rule, target=target, comment_id=comment_id)


def _quota_paused(rt: Runtime, account: str, exc: QuotaError) -> None:
    """Tell ``notify.events`` a quota pause once per pause (however many calls meet it)."""
    if "quota_paused" not in rt.config.notify.events:
        return
    resume = int(exc.resume_at or 0)
    once = f"{rt.keys.prefix}:notify:quota:{escape(account)}:{escape(exc.endpoint)}:{resume}"
    if rt.redis.set(once, "1", nx=True, ex=max(60, resume - int(time.time()) + 60)):
        rt.notifier.event("quota_paused", account=account,
                          detail=f"{exc.endpoint} {exc.code}: paused until "
                          f"{time.strftime('%Y-%m-%d %H:%M:%S %Z', time.localtime(resume))}")


def _batched_item(platform: str, action: str, comment: Comment) -> str | None:
    if platform == "wechat" and action == "blacklist":
        return comment.author
    if platform == "weibo" and action == "delete":
        return comment.id
    return None


def _audit_action(
    rt: Runtime, context: dict[str, Any], action: str, rule: str | None, outcome: str, *,
    errcode: int | None = None, attempt: int | None = None, detail: str | None = None,
    duration_ms: float | None = None,
) -> None:
    record = {"kind": "action", **context, "action": action, "rule": rule, "outcome": outcome,
              "errcode": errcode, "attempt": attempt, "detail": detail}
    rt.audit.append(record)
    if outcome == "failed":
        rt.notifier.event("action_failed", platform=context.get("platform"),
                          account=context.get("account"), target=context.get("target"),
                          comment_id=context.get("comment_id"),
                          detail=f"{action} ({rule}): {errcode or ''} {detail or ''}".strip())
    metrics.count_action(action, outcome)
    if rule:
        rt.stats.record_outcome(rule, action, outcome)
    level = "error" if outcome == "failed" else "warning" if outcome == "deferred" else "info"
    getattr(log, level)("action", **context, action=action, rule=rule, outcome=outcome,
                        errcode=errcode, attempt=attempt, detail=detail, duration_ms=duration_ms)


# -- act -----------------------------------------------------------------------------------

def act(
    account: str, target: str, comment_id: str, action: str, text: str | None, rule: str
) -> None:
    """Carry out one single (unbatched) action, at most once.

    The lease is renewed by a heartbeat while the call runs, however long its waits; every
    attempt counts towards ``max_retries``, whatever it raised (a message sent again to wait
    for a lease, a token, a rate limit or a quota keeps its count). An outcome is audited by
    whoever writes the action's done marker first: a stale holder (its lease expired during
    the call and was taken over) audits nothing another holder has recorded.
    """
    rt = runtime()
    acc = rt.account(account)
    context = {"platform": acc.platform, "account": account, "target": target,
               "comment_id": comment_id}
    args = (account, target, comment_id, action, text, rule)
    attempt = _attempt()
    if rt.ledger.is_disabled(account, action):
        _audit_action(rt, context, action, rule, "failed", attempt=attempt,
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
        _act_again(args, delay=5_000)
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
                result = _call(rt, account, target, comment_id, action, text)
    except QuotaError as exc:
        rt.ledger.release(lease)
        _quota_paused(rt, account, exc)
        _audit_action(rt, context, action, rule, "deferred", errcode=exc.code, attempt=attempt,
                      detail=f"quota: resumes at {exc.resume_at}")
        _act_again(args, delay=_delay_ms(exc.resume_at))
        return
    except RateLimitedError as exc:
        rt.ledger.release(lease)
        # Our own limiter's pacing, not a failure: debug, or a backlog would flood the log.
        log.debug("action_postponed", **context, action=action, rule=rule,
                  retry_at=exc.retry_at, detail=str(exc))
        _act_again(args, delay=_delay_ms(exc.retry_at, fallback=5.0))
        return
    except ActionDisabledError as exc:
        rt.ledger.disable_action(account, action, f"{exc.code}: {exc.platform_message}")
        if _recorded(rt, key, "failed", lease, heartbeat, context, detail={"error": str(exc)}):
            _audit_action(rt, context, action, rule, "failed", errcode=exc.code,
                          attempt=attempt,
                          detail=f"{exc.platform_message}; {action} disabled for {account}")
        return
    except PermanentError as exc:
        if _recorded(rt, key, "failed", lease, heartbeat, context, detail={"error": str(exc)}):
            _audit_action(rt, context, action, rule, "failed", errcode=exc.code,
                          attempt=attempt, detail=exc.platform_message)
        return
    except PlatformError as exc:  # transient and auth: retried with backoff, bounded
        rt.ledger.release(lease)
        if isinstance(exc, TransientError) and exc.endpoint in TOKEN_ENDPOINTS:
            # No access token to call with: the token endpoint failed, or another process's
            # failed fetch is shared for a few seconds (so every call fails at once, without
            # reaching the API). Not this action's failure: wait, burn no retry, as for a rate
            # limit. Otherwise one busy answer of the token endpoint burnt every queued
            # action's retries within seconds (the fault suite lost 139 actions that way).
            log.warning("action_waiting_for_token", **context, action=action, rule=rule,
                        errcode=exc.code, detail=str(exc))
            _act_again(args, delay=TOKEN_WAIT_MS)
            return
        if attempt > rt.config.actions.max_retries:
            _give_up(rt, key, context, rule, attempt, errcode=exc.code, detail=f"gave up: {exc}")
            return
        log.warning("action_retry", **context, action=action, rule=rule, errcode=exc.code,
                    attempt=attempt, detail=str(exc))
        raise
    except Exception as exc:
        # Not the platform's answer (an unexpected answer, a Redis error, a bug): the lease
        # is given back so that the retry can claim it, and the attempt counts like any other.
        _release_quietly(rt, lease, context)
        detail = printable(f"{type(exc).__name__}: {exc}")
        if attempt > rt.config.actions.max_retries:
            _give_up(rt, key, context, rule, attempt, errcode=None, detail=f"gave up: {detail}")
            return
        log.warning("action_retry", **context, action=action, rule=rule, attempt=attempt,
                    detail=detail, exc_info=True)
        raise
    except BaseException:  # interrupted (time limit, shutdown): free the action at once
        _release_quietly(rt, lease, context)
        raise
    duration = round((time.perf_counter() - started) * 1000, 1)
    outcome = "already_done" if result.already_done else "ok"
    recorded = _recorded(rt, key, outcome, lease, heartbeat, context)
    if action in RECONCILED:
        rt.redis.delete(_calling_key(rt, key))
    if recorded:
        _audit_action(rt, context, action, rule, outcome, errcode=result.code,
                      attempt=attempt, duration_ms=duration)


def _act_again(args: tuple[Any, ...], *, delay: int) -> None:
    """Send this act message again after ``delay`` ms, keeping its retry count: a message
    sent again to wait does not start its retries over."""
    actors().act.send_with_options(args=args, delay=delay, retries=_attempt() - 1)


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
    _audit_action(rt, context, key.action, rule, "failed", errcode=errcode, attempt=attempt,
                  detail=detail)


def _release_quietly(rt: Runtime, lease: Lease, context: dict[str, Any]) -> None:
    """Give a lease back after a failure; if Redis is what failed, it expires by itself."""
    try:
        rt.ledger.release(lease)
    except redis.RedisError as exc:
        log.warning("action_lease_release_failed", **context, action=lease.key.action,
                    detail=f"{exc}; it expires within {LEASE_SECONDS:.0f} s")


def _calling_key(rt: Runtime, key: ActionKey) -> str:
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
    elected_after = RECONCILED.get(key.action)
    if elected_after is None:
        return None
    calling = _calling_key(rt, key)
    if rt.redis.exists(calling):
        client = rt.client(account)
        if not isinstance(client, WechatClient):
            raise PermanentError(f"{key.action} is not possible on Weibo", platform="weibo",
                                 endpoint=key.action, account=account)
        elected = any(
            comment.id == key.comment
            for page in client.iter_comment_pages(target, comment_type=2)
            for comment in page.comments
        )
        log.info("action_reconciled", **context, action=key.action, elected=elected,
                 detail="an earlier call may have reached the platform; read its state")
        if elected == elected_after:
            return ActionResult(already_done=True)
    rt.redis.set(calling, "1", ex=CALLING_SECONDS)
    return None


def _call(rt: Runtime, account: str, target: str, comment_id: str, action: str,
          text: str | None) -> Any:
    client = rt.client(account)
    if isinstance(client, WeiboClient):
        if action == "delete":  # only when the batch path is bypassed
            return client.delete_comment(comment_id)
        raise PermanentError(f"{action} is not possible on Weibo", platform="weibo",
                             endpoint=action, account=account)
    if action == "delete":
        return client.delete_comment(target, comment_id)
    if action == "reply":
        return client.reply(target, comment_id, text or "")
    if action == "delete_reply":
        return client.delete_reply(target, comment_id)
    if action == "elect":
        return client.elect(target, comment_id)
    if action == "unelect":
        return client.unelect(target, comment_id)
    if action == "close_comments":
        return client.close_comments(target)
    if action == "open_comments":
        return client.open_comments(target)
    raise PermanentError(f"unknown action {action}", platform="wechat", endpoint=action,
                         account=account)


# -- flush ---------------------------------------------------------------------------------

def flush(account: str) -> None:
    """Send the account's due batches (blacklist openids / Weibo comment ids), 20 ids a call.

    A batch is taken over (reclaimed) when its sender died, or failed without a platform
    answer; each takeover counts as an attempt, and after ``max_retries`` of them its ids
    are audited ``failed`` instead of sent again.
    """
    rt = runtime()
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
            _send_batch(rt, account, batch.batch_id, list(batch.ids), owner)
    while True:
        batch = buffer.claim(max_wait=rt.config.actions.batch_max_wait, owner=owner)
        if batch is None:
            return
        _send_batch(rt, account, batch.batch_id, list(batch.ids), owner)


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


def _send_batch(rt: Runtime, account: str, batch_id: str, ids: list[str], owner: str) -> None:
    """Send one claimed batch, its lease renewed by a heartbeat while the calls run."""
    buffer = rt.buffer(account)
    acc = rt.account(account)
    action = "blacklist" if acc.platform == "wechat" else "delete"
    origins = {i: _BatchOrigin.decode(raw) for i, raw in buffer.origins(ids).items()}
    sent = _BatchCalls()
    started = time.perf_counter()
    if rt.ledger.is_disabled(account, action):  # no call: the platform refused it already
        sent.failed = list(ids)
        sent.reasons = dict.fromkeys(ids, DISABLED_DETAIL)
        _finish_batch(rt, account, action, batch_id, owner, ids, sent, origins, started)
        return
    try:
        with Heartbeat(lambda: buffer.renew(batch_id, owner=owner) is not None,
                       name=f"batch:{account}:{batch_id}", every=LEASE_SECONDS / 3):
            _call_batch(rt, account, ids, sent)
    except QuotaError as exc:
        buffer.requeue(batch_id, owner=owner)
        _quota_paused(rt, account, exc)
        log.warning("batch_deferred", platform=acc.platform, account=account, action=action,
                    outcome="deferred",
                    errcode=exc.code, resume_at=exc.resume_at, size=len(ids))
        actors().flush.send_with_options(args=(account,), delay=_delay_ms(exc.resume_at))
        raise _Stop from None
    except (ActionDisabledError, PermanentError) as exc:
        if isinstance(exc, ActionDisabledError):
            rt.ledger.disable_action(account, action, f"{exc.code}: {exc.platform_message}")
        sent.failed = [i for i in ids if i not in sent.done]
        sent.reasons = {i: f"{exc.code}: {exc.platform_message}" for i in sent.failed}
    except PlatformError:
        buffer.requeue(batch_id, owner=owner)  # the attempted set makes the resend safe
        raise
    except Exception as exc:
        # Not the platform's answer (an unexpected answer, a bug): the batch stays claimed,
        # its lease lapsed at once, so the next flush takes it over as after a crash; each
        # takeover counts (see flush), so this cannot go on forever.
        buffer.lapse(batch_id, owner=owner)
        log.error("batch_error", platform=acc.platform, account=account, action=action,
                  batch=batch_id, size=len(ids),
                  detail=printable(f"{type(exc).__name__}: {exc}"), exc_info=True)
        raise
    _finish_batch(rt, account, action, batch_id, owner, ids, sent, origins, started)


def _give_up_batch(rt: Runtime, account: str, batch: Batch, owner: str) -> None:
    """Fail every id of a batch taken over too many times (its sends kept failing without
    a platform answer, or its senders kept dying)."""
    action = "blacklist" if rt.account(account).platform == "wechat" else "delete"
    ids = list(batch.ids)
    origins = {i: _BatchOrigin.decode(raw) for i, raw in rt.buffer(account).origins(ids).items()}
    reason = (f"gave up after {batch.attempts - 1} attempts without a platform answer "
              "(the sender failed, see batch_error, or died)")
    sent = _BatchCalls(failed=ids, reasons=dict.fromkeys(ids, reason))
    _finish_batch(rt, account, action, batch.batch_id, owner, ids, sent, origins,
                  time.perf_counter())


@dataclass(slots=True)
class _BatchCalls:
    """What the calls of one batch found out so far: ids done, ids failed and why."""

    done: list[str] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)
    reasons: dict[str, str] = field(default_factory=dict)


def _call_batch(rt: Runtime, account: str, ids: list[str], sent: _BatchCalls) -> None:
    """The platform calls of one batch; ``sent`` is filled in as answers arrive (so that a
    failure midway keeps what was done before it)."""
    client = rt.client(account)
    attempted = rt.keys.attempted(account)
    uncertain = [i for i, hit in zip(ids, rt.redis.smismember(attempted, ids), strict=True)
                 if hit]
    to_send = ids
    if uncertain and isinstance(client, WechatClient):
        # These may have reached the platform before a crash or a failed answer: ask it.
        already = set(client.iter_blacklist()) & set(uncertain)
        sent.done.extend(already)
        to_send = [i for i in ids if i not in already]
    if to_send:
        rt.redis.sadd(attempted, *to_send)
    if isinstance(client, WechatClient):
        if to_send:
            result = client.blacklist(to_send)
            sent.done.extend(result.blacklisted)
            sent.failed.extend(result.invalid)
            sent.reasons.update({i: "invalid openid (40003/49003)" for i in result.invalid})
    elif to_send:
        destroyed = client.destroy_comments(to_send)
        sent.done.extend(destroyed.deleted)
        sent.done.extend(destroyed.already_gone)
        sent.failed.extend(destroyed.not_own)
        sent.reasons.update(dict.fromkeys(destroyed.not_own, "not your own comment (20203)"))
        # Still there after an answer without error: resent with the next batch, but not
        # forever (a platform that quietly keeps a comment would cost two calls a flush).
        given_up = _given_up(rt, account, destroyed.not_deleted)
        sent.failed.extend(given_up)
        tries = 1 + rt.config.actions.max_retries
        sent.reasons.update(dict.fromkeys(
            given_up, f"kept by the platform after {tries} destroy_batch call(s)"
        ))


def _finish_batch(
    rt: Runtime, account: str, action: str, batch_id: str, owner: str, ids: list[str],
    sent: _BatchCalls, origins: dict[str, _BatchOrigin], started: float,
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
    if platform == "weibo" and (done or failed):
        rt.redis.hdel(rt.keys.refused(account), *done, *failed)
    log.info("batch_sent", platform=platform, account=account, action=action, size=len(ids),
             done=len(done), failed=len(failed), requeued=completion.requeued,
             duration_ms=duration)
    for outcome, items in (("ok", done), ("failed", failed)):
        for item in items:
            origin = origins.get(item)
            context = _batch_context(platform, account, action, item, origin)
            detail = f"batch {batch_id}" if outcome == "ok" else sent.reasons.get(item)
            _audit_action(rt, context, action, origin.rule if origin else None, outcome,
                          detail=detail)


def _batch_context(
    platform: str, account: str, action: str, item: str, origin: _BatchOrigin | None
) -> dict[str, Any]:
    """The audit context of a batched id: the comment that asked for it, when known."""
    context: dict[str, Any] = {"platform": platform, "account": account}
    if origin is not None:
        context["target"] = origin.target
    if action == "blacklist":
        context["openid"] = item
        if origin is not None:
            context["comment_id"] = origin.comment_id
    else:
        context["comment_id"] = item
    return context


class _Stop(Exception):
    """A deferred batch ends this flush without a retry."""


def _flush_actor(account: str) -> None:
    try:
        flush(account)
    except _Stop:
        return


def _notify_actor() -> None:
    """Digest and send what the notify channels queued, each whose interval has run out."""
    runtime().notifier.flush_due()


# -- declaration ---------------------------------------------------------------------------

@dataclass(frozen=True)
class Actors:
    poll: dramatiq.Actor[..., None]
    moderate: dramatiq.Actor[..., None]
    act: dramatiq.Actor[..., None]
    flush: dramatiq.Actor[..., None]
    notify: dramatiq.Actor[..., None]

    @property
    def queues(self) -> set[str]:
        return {a.queue_name
                for a in (self.poll, self.moderate, self.act, self.flush, self.notify)}


def declare_actors(broker: dramatiq.Broker) -> Actors:
    """Register the actors on ``broker`` (once per process) and return them."""
    global _actors
    throws = (PermanentError,)
    def declare(fn: Any, name: str, **options: Any) -> dramatiq.Actor[..., None]:
        decorator = dramatiq.actor(
            broker=broker, actor_name=name, queue_name=name, throws=throws, **options
        )
        return decorator(fn)

    _actors = Actors(
        poll=declare(poll, "poll", max_retries=POLL_RETRIES),
        moderate=declare(moderate, "moderate"),
        act=declare(act, "act"),
        flush=declare(_flush_actor, "flush"),
        # Its own queue: a channel that is slow or down never holds up an action message.
        notify=declare(_notify_actor, "notify", max_retries=0),
    )
    return _actors
