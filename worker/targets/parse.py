"""A target as an operator writes it on the command line.

WeChat: ``MSG_DATA_ID[:INDEX]`` (the index 0-based, as in config.yaml) or an article link
``https://mp.weixin.qq.com/s?__biz=...&mid=M&idx=N&sn=...``, which is the article
``(M, N - 1)``: the link's ``mid`` is the article's ``msg_data_id`` and its ``idx`` counts
from 1. That reading comes from the link format (the same numbers as datacube's ``msgid``),
not from an API document (api-notes §4). Short links (``/s/XXXX``) carry no ids and are
refused. Weibo: a status id, or a post link that carries it (``m.weibo.cn/status/<id>``,
``.../detail/<id>``).

A bare number of 16 digits from 3 to 5 on a WeChat account is refused as a Weibo status id
(their form since 2012; msg_data_ids are usually 10 digits): write ``MSG_DATA_ID:0`` if it
really is an article.
"""

from __future__ import annotations

import re
from urllib.parse import parse_qs, urlsplit

from worker.config import Target, WechatTarget, WeiboTarget
from worker.errors import InputError

ARTICLE_HOST = "mp.weixin.qq.com"
WEIBO_HOSTS = ("weibo.com", "weibo.cn")
_WEIBO_POST = re.compile(r"/(?:status|detail)/(\d+)/?$")
_STATUS_ID = re.compile(r"^[345]\d{15}$")


def parse_target(text: str, *, platform: str, account: str) -> Target:
    """The target ``text`` names on ``account`` (a ``platform`` account), or InputError
    naming the input, the account and what is wrong."""
    value = text.strip()
    where = f"target {text!r} of account {account!r} ({platform})"
    if not value:
        raise InputError(f"{where}: empty")
    if "://" in value or value.startswith((ARTICLE_HOST, *WEIBO_HOSTS, "m.weibo")):
        link = value if "://" in value else f"https://{value}"
        host = urlsplit(link).hostname or ""
        if host == "weibo.com" or host.endswith((".weibo.com", ".weibo.cn", "weibo.cn")):
            if platform != "weibo":
                raise InputError(f"{where}: a Weibo post link on a WeChat account")
            post = _WEIBO_POST.search(urlsplit(link).path)
            if post is None:
                raise InputError(f"{where}: no numeric status id in the link (use the "
                                 "m.weibo.cn/status/<id> form, or the id itself)")
            return WeiboTarget(status_id=int(post.group(1)))
        if platform != "wechat":
            raise InputError(f"{where}: a link names a WeChat article; give a Weibo status id")
        return _article_link(value, where)
    if platform == "wechat":
        if _STATUS_ID.match(value):
            raise InputError(
                f"{where}: this looks like a Weibo status id (16 digits); WeChat targets are "
                "MSG_DATA_ID[:INDEX] or an article link (write MSG_DATA_ID:0 if it really is "
                "an article)"
            )
        head, sep, tail = value.partition(":")
        if not _digits(head) or (sep and not _digits(tail)):
            raise InputError(
                f"{where}: expected MSG_DATA_ID[:INDEX] (numbers, INDEX 0-based) or an "
                f"article link https://{ARTICLE_HOST}/s?__biz=...&mid=...&idx=..."
            )
        return WechatTarget(msg_data_id=int(head), index=int(tail) if sep else 0)
    if platform == "weibo":
        if ":" in value:
            raise InputError(
                f"{where}: MSG_DATA_ID:INDEX is a WeChat article; a Weibo target is a status id"
            )
        if not _digits(value):
            raise InputError(f"{where}: expected a Weibo status id (a number)")
        return WeiboTarget(status_id=int(value))
    raise InputError(f"{where}: unknown platform {platform!r}")


def _digits(text: str) -> bool:
    return text.isascii() and text.isdigit() and int(text) >= 0


def _article_link(value: str, where: str) -> WechatTarget:
    link = value if "://" in value else f"https://{value}"
    parts = urlsplit(link)
    if parts.hostname != ARTICLE_HOST or parts.path.rstrip("/") != "/s":
        raise InputError(
            f"{where}: not a WeChat article link with ids (expected https://{ARTICLE_HOST}/s?"
            "__biz=...&mid=...&idx=...; short links /s/XXXX carry no ids: open the article and "
            "copy its long link)"
        )
    query = parse_qs(parts.query)
    mid, idx = query.get("mid", [""])[0], query.get("idx", [""])[0]
    if not _digits(mid) or int(mid) == 0:
        raise InputError(f"{where}: the link has no numeric mid (the article's msg_data_id)")
    if not _digits(idx) or int(idx) < 1:
        raise InputError(f"{where}: the link has no idx from 1 (the article's place in its send)")
    return WechatTarget(msg_data_id=int(mid), index=int(idx) - 1)
