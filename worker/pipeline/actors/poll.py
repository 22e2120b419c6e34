"""``poll``: list a target's new comments and send them on for moderation, a page per message.

Comments are marked seen only after their ``moderate`` message is enqueued (a crash in between
re-sends them; the ledger makes that harmless), and the cursor moves last. How a listing pages
is the platform client's business (its ``poll``); this module is the sink it pages into.
"""

from __future__ import annotations

import time
from dataclasses import replace
from typing import TYPE_CHECKING, Any

from worker.comment import Comment
from worker.config import ACCOUNT_LISTING
from worker.errors import PlatformError
from worker.pipeline.actors.common import (
    attempt,
    log,
    polling_marker,
    polling_marker_ttl,
    tell_quota_paused,
)
from worker.pipeline.failures import Verdict, dispose
from worker.pipeline.keys import target_key
from worker.pipeline.poll_outcomes import credentials_refused
from worker.pipeline.runtime import Runtime
from worker.platform_specs import platform_spec
from worker.targets.book import PollBook
from worker.targets.policy import PollPolicy
from worker.targets.tracking import by_post, record_poll, wechat_full_pass_interval

if TYPE_CHECKING:
    from worker.pipeline.actors.pipeline import Pipeline

POLL_RETRIES = 2


def poll(p: Pipeline, account: str, target: str) -> None:
    """List ``target``'s new comments into ``moderate`` messages. A gone target is marked and
    polled no more; a quota pause, a refusal or refused credentials end this poll (the next
    interval tries again); anything else is retried up to POLL_RETRIES times. Every outcome is
    recorded and told once by :mod:`worker.pipeline.poll_outcomes` (``polled``,
    ``poll_failed``, ``credentials_rejected``)."""
    rt = p.runtime
    acc = rt.account(account)
    tkey = target_key(platform=acc.platform, account=account, target=target)
    bound = log.bind(account=account, platform=acc.platform, target=target)
    marker = polling_marker(rt, tkey)
    if rt.seen.is_target_gone(tkey):
        rt.redis.delete(marker)
        return
    started = time.perf_counter()
    where: dict[str, Any] = {"account": account, "platform": acc.platform, "target": target}
    book = PollBook(redis=rt.redis, keys=rt.keys)
    policy = PollPolicy.from_config(rt.config.polling)
    # WeChat full passes follow the target's temperature: stretched as its interval is
    polling = replace(rt.config.polling,
                      full_pass_interval=wechat_full_pass_interval(book, policy, tkey))
    sink = _PollSink(p, account, target, tkey)
    try:
        sent = rt.client(account).poll(target, sink, polling)
    except PlatformError as exc:
        disposition = dispose(exc)
        if disposition.target_gone:
            rt.seen.mark_target_gone(tkey, disposition.refusal)
            bound.warning("target_gone", errcode=disposition.code, detail=disposition.message,
                          note="this target is no longer polled")
            next_step = "no longer polled: the platform says the target is gone"
            rt.notifier.event("target_gone", account=account, target=target,
                              detail=f"{disposition.refusal}; no longer polled")
        elif disposition.verdict is Verdict.DEFER:
            tell_quota_paused(rt, account, disposition.code, disposition.resume_at)
            next_step = f"paused by the quota until {disposition.resume_at}"
        elif disposition.verdict is Verdict.FAIL or credentials_refused(exc):
            # A permanent answer, or refused credentials (a revoked token: the client's own
            # refresh did not help): trying again within seconds cannot help either.
            next_step = "polled again at the next interval"
        elif attempt() <= POLL_RETRIES:  # RETRY, WAIT: dramatiq's Retries, bounded
            rt.poll_outcomes.failed(**where, error=exc, retrying=True,
                                    next_step=f"retried (attempt {attempt()} of "
                                    f"{POLL_RETRIES + 1})")
            raise
        else:  # given up: told here, not by dramatiq's anonymous "Retries exceeded"
            next_step = f"given up after {attempt()} attempts; polled again at the next interval"
        rt.poll_outcomes.failed(**where, error=exc, next_step=next_step)
        rt.redis.delete(marker)
        return
    except Exception:  # not the platform's answer (Redis, a bug): retried, bounded
        if attempt() > POLL_RETRIES:
            rt.redis.delete(marker)  # the next interval polls again
        raise
    rt.redis.delete(marker)
    record_poll(book, policy, account=account, tkey=tkey, now=time.time(), new=sent,
                calls=max(1, sink.pages))
    rt.poll_outcomes.succeeded(**where, new_comments=sent,
                               duration_ms=round((time.perf_counter() - started) * 1000, 1))


def _seen_id(comment: Comment) -> str:
    # On a platform whose comments change state (elected, replied) in place, the state is part
    # of what was seen, so a changed comment is moderated again (the ledger keeps actions single).
    if platform_spec(comment.platform).seen_by_state:
        return f"{comment.id}#{int(comment.elected)}{int(comment.replied)}"
    return comment.id


class _PollSink:
    """Where a client's poll puts what it lists (:class:`worker.platforms.PollSink`).

    A whole-account listing (``ACCOUNT_LISTING``, Weibo ``listing: account``) lists the
    comments of every post: each goes on under its own post (seen set, ``moderate``, audit),
    the cursor stays the listing's. ``pages`` counts the pages (list calls) for the budget."""

    def __init__(self, p: Pipeline, account: str, target: str, tkey: str) -> None:
        self.p, self.rt, self.account, self.target, self.tkey = p, p.runtime, account, target, tkey
        self.pages = 0

    def send(self, comments: list[Comment]) -> int:
        if self.target != ACCOUNT_LISTING:
            return self._send(self.target, self.tkey, comments)
        platform = self.rt.account(self.account).platform
        return sum(
            self._send(post, target_key(platform=platform, account=self.account, target=post),
                       listed)
            for post, listed in by_post(comments).items()
        )

    def _send(self, target: str, tkey: str, comments: list[Comment]) -> int:
        rt = self.rt
        ids = [_seen_id(c) for c in comments]
        new = set(rt.seen.filter_new(tkey, ids))
        fresh = [c.to_dict() for c, i in zip(comments, ids, strict=True) if i in new]
        if fresh:
            self.p.actors.moderate.send(self.account, target, fresh)
            rt.seen.mark_seen(tkey, [i for i in ids if i in new])
        return len(fresh)

    def keep_alive(self) -> None:
        self.pages += 1
        _keep_polling_marker(self.rt, self.tkey)

    def cursor(self) -> str | None:
        return self.rt.seen.get_cursor(self.tkey)

    def set_cursor(self, value: float) -> None:
        self.rt.seen.set_cursor(self.tkey, value)

    def advance_cursor(self, value: int) -> None:
        self.rt.seen.advance_cursor(self.tkey, value)


def _keep_polling_marker(rt: Runtime, tkey: str) -> None:
    rt.redis.expire(polling_marker(rt, tkey), polling_marker_ttl(rt))
