"""Weibo data: tokens, posts (statuses) and their comments. No HTTP, no locking.

Comment ids are int64-sized and grow with ``created_at`` the way Weibo's time-based ids do:
``(milliseconds << 12) + n``, about 16 digits today (below 2**53 until 2039). Each post keeps
its visible comments sorted by id, so a ``comments/show`` page is a bisect and a slice.
"""

from __future__ import annotations

import time
from bisect import bisect_left, insort
from dataclasses import dataclass, field
from typing import Any

_DAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")
SOURCE = '<a href="http://weibo.com" rel="nofollow">新浪微博</a>'


def weibo_time(ts: float) -> str:
    """``Wed Jun 01 00:50:25 +0800 2011``, in China time, locale-independent."""
    t = time.gmtime(ts + 8 * 3600)
    return (
        f"{_DAYS[t.tm_wday]} {_MONTHS[t.tm_mon - 1]} {t.tm_mday:02d} "
        f"{t.tm_hour:02d}:{t.tm_min:02d}:{t.tm_sec:02d} +0800 {t.tm_year}"
    )


def user_object(uid: int, screen_name: str) -> dict[str, Any]:
    return {"id": uid, "idstr": str(uid), "screen_name": screen_name, "name": screen_name}


@dataclass(slots=True)
class WeiboToken:
    access_token: str
    uid: int
    expires_at: float | None = None


@dataclass(slots=True, eq=False)
class WeiboComment:
    id: int
    status_id: int
    text: str
    uid: int
    created_at: float
    deleted: bool = False

    def to_state(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "text": self.text,
            "uid": self.uid,
            "created_at": self.created_at,
            "deleted": self.deleted,
        }


@dataclass(slots=True, eq=False)
class WeiboPost:
    status_id: int
    owner_uid: int
    text: str
    created_at: float
    deleted: bool = False
    visible: list[WeiboComment] = field(default_factory=list)  # sorted by id
    all_ids: list[int] = field(default_factory=list)  # every comment ever added


def _comment_id(comment: WeiboComment) -> int:
    return comment.id


class WeiboState:
    def __init__(self) -> None:
        self.tokens: dict[str, WeiboToken] = {}
        self.posts: dict[int, WeiboPost] = {}
        self.comments: dict[int, WeiboComment] = {}
        self.screen_names: dict[int, str] = {}
        self._next_in_ms: dict[int, int] = {}

    def screen_name(self, uid: int) -> str:
        return self.screen_names.get(uid) or f"user{uid}"

    def add_token(self, access_token: str, uid: int, expires_at: float | None) -> None:
        if not access_token:
            raise ValueError("access_token must be non-empty")
        self.tokens[access_token] = WeiboToken(
            access_token=access_token, uid=uid, expires_at=expires_at
        )

    def add_post(self, owner_uid: int, status_id: int, text: str, created_at: float) -> WeiboPost:
        post = self.posts.get(status_id)
        if post is None:
            post = self.posts[status_id] = WeiboPost(
                status_id=status_id, owner_uid=owner_uid, text=text, created_at=created_at
            )
        else:
            post.owner_uid, post.text, post.deleted = owner_uid, text, False
        return post

    def post(self, status_id: int) -> WeiboPost:
        try:
            return self.posts[status_id]
        except KeyError:
            raise KeyError(f"no Weibo post {status_id}; call add_weibo_post first") from None

    def _new_id(self, created_at: float) -> int:
        ms = int(created_at * 1000)
        base = ms << 12
        candidate = base + self._next_in_ms.get(ms, 0)
        while candidate in self.comments:
            candidate += 1
        self._next_in_ms[ms] = candidate - base + 1
        return candidate

    def add_comment(
        self, status_id: int, *, text: str, uid: int, created_at: float
    ) -> WeiboComment:
        post = self.post(status_id)
        if post.deleted:
            raise ValueError(f"Weibo post {status_id} is deleted")
        comment = WeiboComment(
            id=self._new_id(created_at),
            status_id=status_id,
            text=text,
            uid=uid,
            created_at=created_at,
        )
        self.comments[comment.id] = comment
        post.all_ids.append(comment.id)
        insort(post.visible, comment, key=_comment_id)
        return comment

    def delete_comment(self, comment: WeiboComment) -> None:
        if comment.deleted:
            return
        comment.deleted = True
        visible = self.posts[comment.status_id].visible
        i = bisect_left(visible, comment.id, key=_comment_id)
        if i < len(visible) and visible[i] is comment:
            del visible[i]

    def comment_to_api(self, comment: WeiboComment) -> dict[str, Any]:
        post = self.posts[comment.status_id]
        return {
            "created_at": weibo_time(comment.created_at),
            "id": comment.id,
            "idstr": str(comment.id),
            "mid": str(comment.id),
            "text": comment.text,
            "source": SOURCE,
            "user": user_object(comment.uid, self.screen_name(comment.uid)),
            "status": {
                "created_at": weibo_time(post.created_at),
                "id": post.status_id,
                "idstr": str(post.status_id),
                "mid": str(post.status_id),
                "text": post.text,
                "user": user_object(post.owner_uid, self.screen_name(post.owner_uid)),
            },
        }

    def to_state(self) -> dict[str, Any]:
        return {
            "users": [{"uid": t.uid, "expires_at": t.expires_at} for t in self.tokens.values()],
            "posts": {
                str(p.status_id): {
                    "owner_uid": p.owner_uid,
                    "text": p.text,
                    "deleted": p.deleted,
                    "visible": len(p.visible),
                    "comments": [self.comments[cid].to_state() for cid in p.all_ids],
                }
                for p in self.posts.values()
            },
        }
