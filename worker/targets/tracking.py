"""The poll's side of targets that manage themselves: after each poll, the target's
temperature moves (:func:`~worker.targets.policy.after_poll`) and the bookkeeping
``targets list`` shows is written (:func:`record_poll`); a Weibo account listing splits what
``comments/to_me/biz`` lists by post (:func:`by_post`).
"""

from __future__ import annotations

from collections.abc import Iterable

import structlog

from worker import metrics
from worker.comment import Comment
from worker.targets.book import PollBook
from worker.targets.policy import PollPolicy, Temperature, after_poll, fresh, full_pass_interval

log = structlog.get_logger("worker.pipeline")


def record_poll(
    book: PollBook, policy: PollPolicy, *, account: str, tkey: str, now: float, new: int,
    calls: int = 1,
) -> Temperature:
    """A poll of ``tkey`` ended at ``now`` having found ``new`` new comments with ``calls``
    list calls (the scheduler counted one against the budget when it sent the poll)."""
    before = book.status(tkey).temperature or fresh(policy, now)
    temperature = after_poll(policy, before, now=now, new_comments=new)
    book.polled(tkey, temperature)
    if calls > 1:
        book.spend(account, calls - 1)
    metrics.count_poll(account, new_comments=new)
    if metrics.active() is not None:  # the scheduler's process does not count: say it here
        measured = book.budget(account)
        if measured is not None:
            metrics.set_poll_budget(
                account, limit=measured.budget.limit,
                remaining=max(0.0, measured.budget.poll_calls - measured.spent),
            )
    if temperature.retired and not before.retired:
        log.info("target_retired", account=account, target=tkey,
                 last_new=temperature.last_new,
                 detail="no new comment for polling.retire_after: not polled until "
                        "`modworker targets add` revives it")
    return temperature


def wechat_full_pass_interval(book: PollBook, policy: PollPolicy, tkey: str) -> float:
    """How long apart this WeChat target's full passes are: stretched as its interval is."""
    temperature = book.status(tkey).temperature
    return full_pass_interval(policy, temperature) if temperature else policy.full_pass_interval


def by_post(comments: Iterable[Comment]) -> dict[str, list[Comment]]:
    """An account listing's comments grouped by their post (``Comment.target``), in order;
    a comment without one is logged and left out."""
    groups: dict[str, list[Comment]] = {}
    for comment in comments:
        if not comment.target:
            log.warning("comment_without_post", platform=comment.platform,
                        account=comment.account, comment_id=comment.id,
                        detail="comments/to_me/biz gave no status.id: not moderated")
            continue
        groups.setdefault(comment.target, []).append(comment)
    return groups
