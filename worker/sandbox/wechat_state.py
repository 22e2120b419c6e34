"""WeChat Official Account data: apps, articles, comments, followers, blacklist.

Pure data and bookkeeping, no HTTP and no locking (the sandbox holds one lock around it).

Each article keeps its comments twice: by id (``user_comment_id`` is a per-article counter
from 1, so a list indexed by ``id - 1`` finds one in O(1)), and in three lists sorted by
``(create_time, user_comment_id)`` of the comments still visible (all, normal, elected). A
``comment/list`` page is then a slice of one sorted list: O(page), whatever the number of
comments, which the daemon benchmark (tens of thousands of comments) depends on.
"""

from __future__ import annotations

from bisect import bisect_left, insort
from dataclasses import dataclass, field
from typing import Any


@dataclass(slots=True)
class Reply:
    content: str
    create_time: int

    def to_dict(self) -> dict[str, Any]:
        return {"content": self.content, "create_time": self.create_time}


@dataclass(slots=True, eq=False)
class WechatComment:
    user_comment_id: int
    content: str
    openid: str | None
    create_time: int
    elected: bool = False
    deleted: bool = False  # deleted by the account (comment/delete)
    user_deleted: bool = False  # deleted by its author
    reply: Reply | None = None

    def to_api(self) -> dict[str, Any]:
        """The ``comment/list`` item: no ``openid`` key without an openid, no ``reply`` key
        without a reply (as a real payload shows)."""
        item: dict[str, Any] = {
            "user_comment_id": self.user_comment_id,
            "create_time": self.create_time,
            "content": self.content,
            "comment_type": 1 if self.elected else 0,
        }
        if self.openid is not None:
            item["openid"] = self.openid
        if self.reply is not None:
            item["reply"] = self.reply.to_dict()
        return item

    def to_state(self) -> dict[str, Any]:
        return {
            "user_comment_id": self.user_comment_id,
            "content": self.content,
            "openid": self.openid,
            "create_time": self.create_time,
            "elected": self.elected,
            "deleted": self.deleted,
            "user_deleted": self.user_deleted,
            "reply": None if self.reply is None else self.reply.to_dict(),
        }


def _order(comment: WechatComment) -> tuple[int, int]:
    return (comment.create_time, comment.user_comment_id)


def _remove(ordered: list[WechatComment], comment: WechatComment) -> None:
    i = bisect_left(ordered, _order(comment), key=_order)
    if i < len(ordered) and ordered[i] is comment:
        del ordered[i]


LIST_ALL, LIST_NORMAL, LIST_ELECTED = 0, 1, 2


@dataclass(slots=True, eq=False)
class Article:
    msg_data_id: int
    index: int
    comments_open: bool = True
    privilege: bool = True
    limited: bool = False
    max_elected: int | None = None
    title: str = ""
    mass_sent_at: float | None = None  # a mass send's time: listed by datacube; None: not
    comments: list[WechatComment] = field(default_factory=list)  # by user_comment_id - 1
    _visible: list[WechatComment] = field(default_factory=list)
    _normal: list[WechatComment] = field(default_factory=list)
    _elected: list[WechatComment] = field(default_factory=list)

    def add(
        self,
        *,
        content: str,
        openid: str | None,
        create_time: int,
        elected: bool = False,
        reply: Reply | None = None,
    ) -> WechatComment:
        comment = WechatComment(
            user_comment_id=len(self.comments) + 1,
            content=content,
            openid=openid,
            create_time=create_time,
            elected=elected,
            reply=reply,
        )
        self.comments.append(comment)
        insort(self._visible, comment, key=_order)
        insort(self._elected if elected else self._normal, comment, key=_order)
        return comment

    def get(self, user_comment_id: int) -> WechatComment | None:
        if 1 <= user_comment_id <= len(self.comments):
            return self.comments[user_comment_id - 1]
        return None

    def hide(self, comment: WechatComment) -> None:
        """Take a (now deleted) comment out of every listing."""
        _remove(self._visible, comment)
        _remove(self._elected if comment.elected else self._normal, comment)

    def set_elected(self, comment: WechatComment, elected: bool) -> None:
        if comment.elected == elected:
            return
        visible = not (comment.deleted or comment.user_deleted)
        if visible:
            _remove(self._elected if comment.elected else self._normal, comment)
        comment.elected = elected
        if visible:
            insort(self._elected if elected else self._normal, comment, key=_order)

    @property
    def elected_count(self) -> int:
        return len(self._elected)

    def page(
        self, list_type: int, begin: int, count: int, *, oldest_first: bool = False
    ) -> tuple[int, list[WechatComment]]:
        """``(total, comments)``: newest first (or oldest first), skipping ``begin``, at most
        ``count``."""
        ordered = {LIST_ALL: self._visible, LIST_NORMAL: self._normal}.get(list_type, self._elected)
        total = len(ordered)
        if oldest_first:
            return total, ordered[begin:begin + count]
        hi = total - begin
        if hi <= 0:
            return total, []
        lo = max(0, hi - count)
        return total, ordered[lo:hi][::-1]

    def to_state(self) -> dict[str, Any]:
        return {
            "msg_data_id": self.msg_data_id,
            "index": self.index,
            "comments_open": self.comments_open,
            "privilege": self.privilege,
            "limited": self.limited,
            "max_elected": self.max_elected,
            "title": self.title,
            "mass_sent_at": self.mass_sent_at,
            "visible": len(self._visible),
            "comments": [c.to_state() for c in self.comments],
        }


@dataclass(slots=True, eq=False)
class WechatApp:
    app_id: str
    app_secret: str
    articles: dict[tuple[int, int], Article] = field(default_factory=dict)
    followers: set[str] = field(default_factory=set)
    foreign: set[str] = field(default_factory=set)  # openids of another app (49003)
    blacklist: dict[str, None] = field(default_factory=dict)  # insertion-ordered set
    revoked: set[str] = field(default_factory=set)  # endpoints answering 48001
    token_fetches: int = 0

    def to_state(self, *, tokens_issued: int) -> dict[str, Any]:
        return {
            "articles": [a.to_state() for a in self.articles.values()],
            "followers": len(self.followers),
            "blacklist": list(self.blacklist),
            "revoked_apis": sorted(self.revoked),
            "token_fetches": self.token_fetches,
            "tokens_issued": tokens_issued,
        }


class WechatState:
    """Every WeChat app of the sandbox. Methods raise ``KeyError``/``ValueError`` on misuse."""

    def __init__(self) -> None:
        self.apps: dict[str, WechatApp] = {}

    def app(self, app_id: str) -> WechatApp:
        try:
            return self.apps[app_id]
        except KeyError:
            raise KeyError(f"no WeChat app {app_id!r}; call add_wechat_app first") from None

    def add_app(self, app_id: str, app_secret: str) -> WechatApp:
        if not app_id or not app_secret:
            raise ValueError("app_id and app_secret must be non-empty")
        app = self.apps.get(app_id)
        if app is None:
            app = self.apps[app_id] = WechatApp(app_id=app_id, app_secret=app_secret)
        else:
            app.app_secret = app_secret
        return app

    def article(self, app_id: str, msg_data_id: int, index: int) -> Article:
        try:
            return self.app(app_id).articles[(msg_data_id, index)]
        except KeyError:
            raise KeyError(
                f"no article {msg_data_id}/{index} in {app_id!r}; call add_article first"
            ) from None

    def add_article(
        self,
        app_id: str,
        *,
        msg_data_id: int,
        index: int,
        comments_open: bool,
        privilege: bool,
        limited: bool,
        max_elected: int | None,
        title: str = "",
        mass_sent_at: float | None = None,
    ) -> Article:
        if index < 0:
            raise ValueError("index is 0-based and must be >= 0")
        app = self.app(app_id)
        article = app.articles.get((msg_data_id, index))
        if article is None:
            article = app.articles[(msg_data_id, index)] = Article(
                msg_data_id=msg_data_id, index=index
            )
        article.comments_open = comments_open
        article.privilege = privilege
        article.limited = limited
        article.max_elected = max_elected
        if title:
            article.title = title
        if mass_sent_at is not None:
            article.mass_sent_at = mass_sent_at
        return article

    def user_delete(self, app_id: str, msg_data_id: int, index: int, user_comment_id: int) -> None:
        article = self.article(app_id, msg_data_id, index)
        comment = article.get(user_comment_id)
        if comment is None:
            raise KeyError(f"no comment {user_comment_id} on {msg_data_id}/{index}")
        if not (comment.deleted or comment.user_deleted):
            article.hide(comment)
        comment.user_deleted = True
