"""Small typed results the platform clients return (no platform field names leak out)."""

from __future__ import annotations

from dataclasses import dataclass, field

from worker.comment import Comment


@dataclass(frozen=True, slots=True, kw_only=True)
class ActionResult:
    """The outcome of a single action that succeeded.

    ``already_done`` is True when the platform answered that the effect already held (e.g.
    88008 on delete); ``code`` is then that answer's code and ``message`` its text.
    """

    already_done: bool = False
    code: int | None = None
    message: str = ""


@dataclass(frozen=True, slots=True, kw_only=True)
class CommentPage:
    """One page of a WeChat ``comment/list`` answer.

    ``total`` is the platform's count of all comments of the article, not the page size.
    ``next_begin`` is the ``begin`` of the following page; ``has_more`` says whether to ask.
    """

    comments: list[Comment]
    total: int
    begin: int
    next_begin: int
    has_more: bool


@dataclass(frozen=True, slots=True, kw_only=True)
class WeiboCommentPage:
    """One page of Weibo ``comments/show``, newest first.

    ``next_max_id`` is the ``max_id`` that asks for the next (older) page, None when this page
    was the last one. ``total`` is the platform's ``total_number`` when it sent one.
    """

    comments: list[Comment]
    total: int | None
    next_max_id: int | None


@dataclass(frozen=True, slots=True, kw_only=True)
class BlacklistResult:
    """Outcome of a ``batchblacklist`` batch, after bisection.

    ``blacklisted``: openids the platform accepted. ``invalid``: openids it rejected on their
    own (40003 invalid openid, 49003 not of this app). ``skipped``: empty/None or duplicate
    entries, never sent. ``calls``: HTTP calls made.
    """

    blacklisted: list[str]
    invalid: list[str]
    skipped: int = 0
    calls: int = 0


@dataclass(frozen=True, slots=True, kw_only=True)
class UnblacklistResult:
    """Outcome of a ``batchunblacklist`` batch; same rules as :class:`BlacklistResult`."""

    unblacklisted: list[str]
    invalid: list[str]
    skipped: int = 0
    calls: int = 0


@dataclass(frozen=True, slots=True, kw_only=True)
class BlacklistPage:
    """One page of ``getblacklist``; pass ``next_openid`` as ``begin_openid`` for the next."""

    openids: list[str]
    total: int
    next_openid: str | None


@dataclass(frozen=True, slots=True, kw_only=True)
class DestroyResult:
    """Outcome of a Weibo batch destroy.

    ``deleted``: ids the destroy answer confirmed deleted, and ids it left out that
    ``show_batch`` no longer finds. ``already_gone``: ids it said do not exist (20201: the
    effect holds; count them as done). ``not_deleted``: ids that still exist after the call
    (or could not be checked); deleting them again is safe (a gone comment answers 20201).
    ``not_own``: ids the platform refused as not under the account's posts (20203): sending
    them again cannot help.
    ``shape`` names the destroy answer shape seen: ``list``, ``result``, ``comment``,
    ``already_gone`` (only 20201 answers), ``mixed`` (several, after a bisection) or ``none``
    (nothing to send). ``calls``: HTTP calls made, the ``show_batch`` check included.
    """

    deleted: list[str]
    already_gone: list[str]
    not_deleted: list[str]
    shape: str
    calls: int = 0
    not_own: list[str] = field(default_factory=list)
