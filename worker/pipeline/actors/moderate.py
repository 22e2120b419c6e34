"""``moderate``: decide a page of comments (one poll's page, one message) in one evaluation;
turn decisions into ``act`` messages and batch entries."""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import redis
from dramatiq.errors import BrokerConnectionError

from worker import metrics
from worker.comment import Comment
from worker.notify.entries import rule_entry
from worker.pipeline.actors.common import BatchOrigin, audit_action, batch_context, log
from worker.pipeline.batches import MAX_BATCH
from worker.pipeline.offenses import PageOffenseCounts
from worker.pipeline.page_decisions import decide_page
from worker.pipeline.rulestats import Hit
from worker.pipeline.runtime import Runtime
from worker.platform_specs import platform_spec
from worker.rules import RuleSet, offense_rule
from worker.rules.model import Decision, PlannedAction
from worker.textclean import printable
from worker.waves.acting import follow_ups

if TYPE_CHECKING:
    from worker.pipeline.actors.pipeline import Pipeline


def moderate(p: Pipeline, account: str, target: str, comments: list[dict[str, Any]]) -> None:
    """Decide the page's comments together (:func:`decide_page`) and turn the decisions into
    action messages and batch entries.

    Comments are isolated from each other: one that cannot be processed (a malformed entry, a
    string Redis cannot store) is audited as a ``failed`` decision with the reason, and the
    rest of the page goes on. Only a Redis failure (other than bad data) fails the whole
    message, to be retried: it says nothing about the comment at hand.
    """
    rt = p.runtime
    rules = rt.rules.rules
    page = _Page(rt=rt, rules=rules, account=account, target=target, now=time.time())
    decided = decide_page(rules, comments, offenses=page.offenses, waves=rt.waves,
                          now=page.now, environmental=_environmental)
    for entry in decided:
        if isinstance(entry.outcome, Exception):
            page.failed(entry.position, entry.data, entry.outcome)
            continue
        try:
            _moderate_comment(p, page, entry.position, entry.data, entry.outcome)
        except Exception as exc:
            if _environmental(exc):
                raise
            page.failed(entry.position, entry.data, exc)
    page.send_decisions()
    rt.stats.record_hits(page.hits)
    if page.batched and rt.buffer(account).pending_count() >= MAX_BATCH:
        p.actors.flush.send(account)  # a full batch need not wait for the scheduler's flush


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
    comment does (offense record, actions), so every Redis effect happens in the same order
    as if each record were sent at once; moderate never reads what is queued (evaluate reads
    offenses only). Rule hits, statistics nobody reads meanwhile, are counted together when
    the page ends (a message retried after a Redis failure counts them then). A record is
    encoded when queued, so one that cannot be stored (a lone surrogate) fails its own
    comment there. Should the batch still fail, the records are sent one at a time and only
    the comments whose own record fails are given up.
    """

    def __init__(self, *, rt: Runtime, rules: RuleSet, account: str, target: str,
                 now: float) -> None:
        self.rt = rt
        self.rules = rules
        self.account = account
        self.target = target
        self.platform = rt.account(account).platform
        self.now = now
        self.batched = False  # an id was added to the account's batch buffer
        self.hits: list[Hit] = []  # counted for `modworker stats` when the page ends
        self.offenses = PageOffenseCounts(rt.offenses)  # read by the rules, written by moderate
        self._queued: list[tuple[int, dict[str, Any], dict[bytes, bytes]]] = []

    def queue_decision(self, position: int, data: dict[str, Any],
                       record: dict[str, Any]) -> None:
        self._queued.append((position, data, self.rt.audit.encode(record)))

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
            for _, _, fields in queued:
                audit.append_encoded(fields)
            pipe.execute()
            return
        except Exception as exc:
            if _environmental(exc):
                raise
        own: Exception | None = None
        for position, data, fields in queued:
            try:
                rt.audit.append_encoded(fields)
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


def _moderate_comment(p: Pipeline, page: _Page, position: int, data: dict[str, Any],
                      decision: Decision) -> None:
    """Record ``decision`` and carry out its actions."""
    account, target, now = page.account, page.target, page.now
    comment = decision.comment
    context = {"platform": comment.platform, "account": account, "target": target,
               "comment_id": comment.id}
    page.queue_decision(position, data, {
        "kind": "decision", **context, "rules": decision.matched,
        **({"after_stop": decision.after_stop} if decision.after_stop else {}),
        "actions": [a.to_dict() for a in decision.actions],
        "skipped": [s.to_dict() for s in decision.skipped],
        **_spans(decision),
        "author": comment.author, "content": comment.content[:200],
    })
    if not decision.matches:
        return
    page.send_decisions(current=position)
    for match in decision.matches:
        page.hits.append(Hit(match.rule, match.mode, now, match.after_stop))
        metrics.count_rule_hit(match.rule, match.mode)
    log.info("decided", **context, rules=decision.matched,
             actions=[str(a.type) for a in decision.actions])
    offender_rule = offense_rule(decision)
    if comment.author and offender_rule is not None:
        page.offenses.record(
            platform=comment.platform, account=account, author=comment.author,
            at=comment.created_at if comment.created_at is not None else now,
            rule_id=offender_rule, comment_id=comment.id,
        )
    _carry_out(p, page, comment, target, decision.actions, context)
    if decision.waves:
        _earlier_wave_members(p, page, decision)


def _spans(decision: Decision) -> dict[str, Any]:
    """``spans``: what each matched rule matched in the original text (computed only for a
    comment that matched, as they cost an offset map of the normalisation)."""
    if not decision.matches:
        return {}
    found = decision.spans()
    return {"spans": {rule: [s.start, s.end, s.text] for rule, s in found.items()}} if found else {}


def _carry_out(p: Pipeline, page: _Page, comment: Comment, target: str,
               actions: Sequence[PlannedAction], context: dict[str, Any], *,
               wave: str | None = None) -> None:
    """Turn planned actions into act messages, batch entries and notify entries."""
    rt = page.rt
    account = page.account
    acc = rt.account(account)
    planned = [str(a.type) for a in actions]
    for action in actions:
        if action.type == "notify":
            # Told in the channel's next digest; shadow and dry_run too, marked so.
            rt.notifier.add(str(action.channel), rule_entry(
                comment, action, planned, dry_run=rt.config.dry_run, wave=wave))
            continue
        if action.mode == "shadow" or rt.config.dry_run:
            detail = "shadow rule" if action.mode == "shadow" else "dry_run is on"
            audit_action(rt, context, action.type, action.rule, "dry_run", detail=detail)
            continue
        batched_item = _batched_item(acc.platform, action.type, comment)
        if batched_item is not None:
            buffer = rt.buffer(account)
            origin = BatchOrigin(rule=action.rule, target=target, comment_id=comment.id)
            if buffer.add(batched_item, origin=origin.encode()):
                log.info("batched", **context, action=action.type, rule=action.rule,
                         item=batched_item)
                page.batched = True
            else:
                audit_action(rt, batch_context(acc.platform, account, batched_item, origin),
                             action.type, action.rule, "already_done",
                             detail="already buffered, in flight or done for this account")
            continue
        p.actors.act.send(account, target, comment.id, action.type, action.text, action.rule)


def _earlier_wave_members(p: Pipeline, page: _Page, decision: Decision) -> None:
    """A wave rule held for the first time: its actions apply to the wave's earlier members
    that no comment of the wave acted on yet (claimed once each, whichever worker asks)."""
    rt = page.rt
    for follow in follow_ups(page.rules, rt.waves, decision):
        member = follow.comment
        target = member.target or page.target
        context = {"platform": member.platform, "account": page.account, "target": target,
                   "comment_id": member.id}
        actions = [str(a.type) for a in follow.actions]
        rt.audit.append({"kind": "wave", **context, "rule": follow.rule, "wave": follow.wave,
                         "by": decision.comment.id, "by_target": page.target,
                         "actions": actions,
                         "author": member.author, "content": member.content[:200]})
        log.info("wave_member", **context, rule=follow.rule, wave=follow.wave,
                 by=decision.comment.id, actions=actions)
        _carry_out(p, page, member, target, follow.actions, context, wave=follow.wave)


def _batched_item(platform: str, action: str, comment: Comment) -> str | None:
    """What goes into the batch buffer for ``action`` (None: it is a single action)."""
    spec = platform_spec(platform)
    if action != spec.batch_action:
        return None
    return comment.author if spec.batches_by == "author" else comment.id
