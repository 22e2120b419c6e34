"""Seed data: a JSON document describing apps, articles, comments, Weibo users and posts.

Used by ``python -m worker.sandbox --seed-file seed.json``, by ``POST /_sandbox/seed`` and by
:meth:`Sandbox.load_seed`. Loading is additive: it may be applied several times, and an app
or article given again is updated, not replaced. Every key except the ids is optional::

    {
      "wechat": {
        "apps": [
          {
            "app_id": "wx0123456789abcdef",
            "app_secret": "sandbox-secret",
            "followers": ["oA1", "oA2"],          # openids of this app (blacklistable)
            "foreign_openids": ["oZ9"],           # another app's openids (49003)
            "blacklist": ["oA2"],                 # already blacklisted (become followers)
            "revoked_apis": ["comment/reply/add"],  # endpoints answering 48001
            "articles": [
              {
                "msg_data_id": 2247483650,        # any size
                "index": 0,                       # 0-based, default 0
                "comments_open": true, "privilege": true, "limited": false,
                "max_elected": null,              # null: no limit on elected comments
                "comments": [                     # ids 1, 2, ... in this order
                  {"content": "...", "openid": "oA1",       # openid null/absent: none
                   "create_time": 1700000000,               # default: now
                   "elected": false,
                   "reply": "thanks" | {"content": "...", "create_time": 1700000100},
                   "user_deleted": false}
                ]
              }
            ]
          }
        ]
      },
      "weibo": {
        "tokens": [{"access_token": "2.00abc", "uid": 1404376560,
                    "screen_name": "brand", "expires_in": null}],   # seconds from now
        "users": [{"uid": 777, "screen_name": "fan"}],
        "posts": [
          {"status_id": 4890123456789012,
           "owner_uid": 1404376560,               # or "access_token": "2.00abc"
           "text": "...", "created_at": 1700000000,
           "comments": [{"text": "...", "uid": 777, "created_at": 1700000050.25}]}
        ]
      },
      "faults": {"busy_probability": 0.1, "quota": {"comment/reply/add": 3}}
    }

Applying returns what was created: ``{"wechat_comments": [[app_id, msg_data_id, index,
user_comment_id], ...], "weibo_comments": [id, ...]}``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from worker.sandbox.sandbox import Sandbox


def _reply(value: Any) -> tuple[str | None, int | None]:
    if value is None:
        return None, None
    if isinstance(value, str):
        return value, None
    return str(value["content"]), value.get("create_time")


def _apply_wechat(sb: Sandbox, section: Mapping[str, Any], report: dict[str, Any]) -> None:
    for app in section.get("apps") or []:
        app_id = str(app["app_id"])
        sb.add_wechat_app(app_id=app_id, app_secret=str(app["app_secret"]))
        if app.get("followers"):
            sb.add_follower(app_id, *app["followers"])
        if app.get("foreign_openids"):
            sb.add_foreign_openid(app_id, *app["foreign_openids"])
        if app.get("blacklist"):
            sb.blacklist_openids(app_id, *app["blacklist"])
        for endpoint in app.get("revoked_apis") or []:
            sb.revoke_api(app_id, endpoint)
        for art in app.get("articles") or []:
            msg_data_id, index = int(art["msg_data_id"]), int(art.get("index", 0))
            sb.add_article(
                app_id,
                msg_data_id=msg_data_id,
                index=index,
                comments_open=bool(art.get("comments_open", True)),
                privilege=bool(art.get("privilege", True)),
                limited=bool(art.get("limited", False)),
                max_elected=art.get("max_elected"),
            )
            for item in art.get("comments") or []:
                reply, reply_time = _reply(item.get("reply"))
                cid = sb.add_wechat_comment(
                    app_id,
                    msg_data_id,
                    index,
                    content=str(item["content"]),
                    openid=item.get("openid"),
                    create_time=item.get("create_time"),
                    elected=bool(item.get("elected", False)),
                    reply=reply,
                    reply_time=reply_time,
                )
                if item.get("user_deleted"):
                    sb.user_delete_comment(app_id, msg_data_id, index, cid)
                report["wechat_comments"].append([app_id, msg_data_id, index, cid])


def _apply_weibo(sb: Sandbox, section: Mapping[str, Any], report: dict[str, Any]) -> None:
    for tok in section.get("tokens") or []:
        sb.add_weibo_token(
            access_token=str(tok["access_token"]),
            uid=int(tok["uid"]),
            screen_name=tok.get("screen_name"),
            expires_in=tok.get("expires_in"),
        )
    for user in section.get("users") or []:
        sb.set_weibo_user(int(user["uid"]), screen_name=str(user["screen_name"]))
    for post in section.get("posts") or []:
        owner: str | int = (
            int(post["owner_uid"]) if "owner_uid" in post else str(post["access_token"])
        )
        status_id = int(post["status_id"])
        sb.add_weibo_post(
            owner,
            status_id=status_id,
            text=str(post.get("text", "")),
            created_at=post.get("created_at"),
        )
        for item in post.get("comments") or []:
            cid = sb.add_weibo_comment(
                status_id,
                text=str(item["text"]),
                uid=int(item["uid"]),
                created_at=item.get("created_at"),
                screen_name=item.get("screen_name"),
            )
            report["weibo_comments"].append(cid)


def apply_seed(sb: Sandbox, data: Mapping[str, Any]) -> dict[str, Any]:
    """Apply one seed document to ``sb``; raises KeyError/ValueError/TypeError when malformed."""
    unknown = set(data) - {"wechat", "weibo", "faults"}
    if unknown:
        raise ValueError(f"unknown seed sections: {sorted(unknown)}")
    report: dict[str, Any] = {"wechat_comments": [], "weibo_comments": []}
    _apply_wechat(sb, data.get("wechat") or {}, report)
    _apply_weibo(sb, data.get("weibo") or {}, report)
    if data.get("faults"):
        sb.faults.update(data["faults"])
    return report
