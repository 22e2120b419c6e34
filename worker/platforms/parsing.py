"""Lenient parsing of the platforms' comment payloads into :class:`worker.comment.Comment`.

Pure functions, no I/O. Tolerated quirks (api-notes §1.2, §6.4, §7): WeChat ``openid`` absent
(non-WeChat identity), ``reply`` absent when there is no reply, ``create_time`` as a number or
a string (a non-numeric one such as ``"CREATE_TIME"`` gives None), ids as numbers or strings;
Weibo ids as numbers or ``idstr`` strings, ``user.id`` a number, ``created_at`` like
``"Wed Jun 01 00:50:25 +0800 2011"``.

Text (content, openids) is cleaned here, once: lone surrogates become U+FFFD (see
:mod:`worker.textclean`), so one cut emoji cannot make every later step refuse its page. A
field of the wrong shape (an id such as ``"²"`` or 5,000 digits, a time beyond any calendar)
counts as absent instead of raising.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from datetime import datetime, timedelta, timezone
from typing import Any

from worker.comment import Comment
from worker.textclean import without_lone_surrogates

_MONTHS = {
    m: i
    for i, m in enumerate(
        ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"), 1
    )
}
_WEIBO_TIME = re.compile(
    r"^\s*[A-Za-z]{3}\s+([A-Za-z]{3})\s+(\d{1,2})\s+(\d{1,2}):(\d{2}):(\d{2})\s+"
    r"([+-])(\d{2}):?(\d{2})\s+(\d{4})\s*$"
)


_MAX_DIGITS = 40  # far beyond any id; int() of 4,300+ digits raises


def as_int(value: Any) -> int | None:
    """An integer from a JSON number or a decimal string; None otherwise."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, str):
        digits = value.strip()
        unsigned = digits[1:] if digits.startswith("-") else digits
        if unsigned.isascii() and unsigned.isdigit() and len(unsigned) <= _MAX_DIGITS:
            return int(digits)
    return None


def as_timestamp(value: Any) -> float | None:
    """Unix seconds from a number or a numeric string; None for anything else (including
    NaN, infinities and integers too large for a float)."""
    if isinstance(value, bool):
        return None
    try:
        if isinstance(value, int | float):
            seconds = float(value)
        elif isinstance(value, str) and len(value) <= 64:
            seconds = float(value.strip())
        else:
            return None
    except (ValueError, OverflowError):
        return None
    return seconds if math.isfinite(seconds) else None


def id_string(value: Any) -> str | None:
    """A comment/user id as a decimal string; None when absent or not an id."""
    number = as_int(value)
    return str(number) if number is not None else None


def parse_weibo_time(value: Any) -> float | None:
    """Unix seconds from Weibo's ``"Wed Jun 01 00:50:25 +0800 2011"``; None when unreadable."""
    if not isinstance(value, str):
        return as_timestamp(value)
    match = _WEIBO_TIME.match(value)
    if match is None:
        return None
    mon, day, hh, mm, ss, sign, oh, om, year = match.groups()
    if mon not in _MONTHS:
        return None
    offset = timedelta(hours=int(oh), minutes=int(om))
    try:
        moment = datetime(
            int(year), _MONTHS[mon], int(day), int(hh), int(mm), int(ss),
            tzinfo=timezone(offset if sign == "+" else -offset),
        )
    except ValueError:
        return None
    return moment.timestamp()


def _text(value: Any) -> str:
    return without_lone_surrogates(value) if isinstance(value, str) else ""


def wechat_comment(
    item: Mapping[str, Any], *, account: str | None, target: str
) -> Comment | None:
    """One ``comment/list`` item; None when it has no usable ``user_comment_id``."""
    comment_id = id_string(item.get("user_comment_id"))
    if comment_id is None:
        return None
    openid = item.get("openid")
    reply = item.get("reply")
    content = item.get("content")
    return Comment(
        platform="wechat",
        id=comment_id,
        content=_text(content),
        account=account,
        target=target,
        author=without_lone_surrogates(openid) if isinstance(openid, str) and openid else None,
        created_at=as_timestamp(item.get("create_time")),
        elected=as_int(item.get("comment_type")) == 1,
        replied=isinstance(reply, Mapping) and bool(reply),
    )


def wechat_comment_list(
    body: Mapping[str, Any], *, account: str | None, target: str
) -> tuple[list[Comment], int, int]:
    """(comments, total, raw item count) of a ``comment/list`` answer."""
    items = body.get("comment")
    if not isinstance(items, list):
        items = []
    comments = [
        c
        for item in items
        if isinstance(item, Mapping)
        and (c := wechat_comment(item, account=account, target=target)) is not None
    ]
    total = as_int(body.get("total"))
    return comments, total if total is not None else len(items), len(items)


def weibo_comment(
    item: Mapping[str, Any], *, account: str | None, target: str
) -> Comment | None:
    """One Weibo comment object; None when it has no id."""
    comment_id = id_string(item.get("idstr")) or id_string(item.get("id"))
    if comment_id is None:
        return None
    user = item.get("user")
    author = None
    if isinstance(user, Mapping):
        author = id_string(user.get("idstr")) or id_string(user.get("id"))
    text = item.get("text")
    return Comment(
        platform="weibo",
        id=comment_id,
        content=_text(text),
        account=account,
        target=target,
        author=author,
        created_at=parse_weibo_time(item.get("created_at")),
    )


def weibo_comment_ids(items: list[Any]) -> list[str]:
    """The ids of the comment objects in ``items`` (anything else is ignored)."""
    ids: list[str] = []
    for item in items:
        if isinstance(item, Mapping):
            cid = id_string(item.get("idstr")) or id_string(item.get("id"))
            if cid is not None:
                ids.append(cid)
        elif (cid := id_string(item)) is not None:
            ids.append(cid)
    return ids
