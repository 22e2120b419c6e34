"""Admin endpoints under ``/_sandbox/``: seed, add, inspect and set faults over HTTP.

They exist for process mode (``python -m worker.sandbox``), where tests and ``modworker
demo`` cannot call the :class:`Sandbox` methods. They are never faulted nor logged as calls.
JSON in, JSON out; a bad request is HTTP 400 ``{"ok": false, "error": "..."}``.

=======  ===============================  ==============================================
method   path                             body / answer
=======  ===============================  ==============================================
GET      /_sandbox/health                 ``{"ok": true}``
GET      /_sandbox/state                  :meth:`Sandbox.state`
GET      /_sandbox/calls?endpoint=E       ``{"calls": [CallRecord, ...]}``
POST     /_sandbox/reset_calls            ``{}``
POST     /_sandbox/seed                   a seed document (:mod:`worker.sandbox.seed`)
GET      /_sandbox/faults                 the fault settings
POST     /_sandbox/faults                 settings to change (:meth:`Faults.update`)
POST     /_sandbox/invalidate_tokens      ``{"app_id": "wx..." | null}``
POST     /_sandbox/advance_time           ``{"seconds": 7200}``
POST     /_sandbox/wechat/app             ``{"app_id", "app_secret"}``
POST     /_sandbox/wechat/article         :meth:`Sandbox.add_article` arguments
POST     /_sandbox/wechat/publish         ``{"app_id", "msg_data_id", "count", "at",
                                          "title"}``: :meth:`Sandbox.publish_articles`
POST     /_sandbox/wechat/comment         :meth:`Sandbox.add_wechat_comment` arguments,
                                          answers ``{"user_comment_id": n}``
POST     /_sandbox/wechat/user_delete     ``{"app_id", "msg_data_id", "index",
                                          "user_comment_id"}``
POST     /_sandbox/wechat/followers       ``{"app_id", "openids": [...],
                                          "foreign": false}``
POST     /_sandbox/wechat/revoke_api      ``{"app_id", "endpoint", "restore": false}``
POST     /_sandbox/weibo/token            :meth:`Sandbox.add_weibo_token` arguments
POST     /_sandbox/weibo/post             ``{"owner_uid" | "access_token", "status_id",
                                          "text", "created_at"}``
POST     /_sandbox/weibo/comment          :meth:`Sandbox.add_weibo_comment` arguments,
                                          answers ``{"id": n}``
POST     /_sandbox/weibo/delete_post      ``{"status_id"}``
POST     /_sandbox/robot                  ``{"type", "token", "secret": null}``: a team-chat
                                          robot (:mod:`worker.sandbox.robots`)
GET      /_sandbox/robot?type=T&token=K   ``{"received": [...], "rejected": n}``
POST     /_sandbox/robot/fail             ``{"type", "token", "count", "status", "code"}``
=======  ===============================  ==============================================
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from worker.sandbox.protocol import Request, Response, json_response

if TYPE_CHECKING:
    from worker.sandbox.sandbox import Sandbox

Handler = Callable[[dict[str, Any], Request], Any]


def _robot_state(sandbox: Sandbox, kind: str, token: str) -> dict[str, Any]:
    robot = sandbox.robots.get(kind, token)
    return {"received": robot.received, "rejected": robot.rejected}


def _error(message: str, status: int = 400) -> Response:
    return json_response({"ok": False, "error": message}, status=status)


class Admin:
    def _robot(self, body: dict[str, Any], req: Request) -> dict[str, Any]:
        return _robot_state(self._sb, req.query.get("type", ""), req.query.get("token", ""))

    def _add_robot(self, body: dict[str, Any], req: Request) -> None:
        secret = body.get("secret")
        self._sb.robots.add(str(body["type"]), str(body["token"]),
                            str(secret) if secret is not None else None)

    def __init__(self, sandbox: Sandbox) -> None:
        self._sb = sandbox
        self._routes: dict[tuple[str, str], Handler] = {
            ("GET", "health"): lambda body, req: {},
            ("POST", "robot"): self._add_robot,
            ("GET", "robot"): self._robot,
            ("POST", "robot/fail"): lambda body, req: self._sb.robots.fail_next(
                str(body["type"]), str(body["token"]), int(body.get("count", 1)),
                status=int(body.get("status", 200)), code=body.get("code"),
            ),
            ("GET", "state"): lambda body, req: self._sb.state(),
            ("GET", "calls"): self._calls,
            ("POST", "reset_calls"): self._reset_calls,
            ("POST", "seed"): lambda body, req: self._sb.load_seed(body),
            ("GET", "faults"): lambda body, req: self._sb.faults.to_dict(),
            ("POST", "faults"): self._faults,
            ("POST", "invalidate_tokens"): lambda body, req: {
                "invalidated": self._sb.invalidate_tokens(body.get("app_id"))
            },
            ("POST", "advance_time"): self._advance_time,
            ("POST", "wechat/app"): lambda body, req: self._sb.add_wechat_app(
                str(body["app_id"]), str(body["app_secret"])
            ),
            ("POST", "wechat/article"): self._article,
            ("POST", "wechat/comment"): self._wechat_comment,
            ("POST", "wechat/publish"): self._publish,
            ("POST", "wechat/user_delete"): lambda body, req: self._sb.user_delete_comment(
                str(body["app_id"]),
                int(body["msg_data_id"]),
                int(body.get("index", 0)),
                int(body["user_comment_id"]),
            ),
            ("POST", "wechat/followers"): self._followers,
            ("POST", "wechat/revoke_api"): self._revoke_api,
            ("POST", "weibo/token"): lambda body, req: self._sb.add_weibo_token(**body),
            ("POST", "weibo/post"): self._weibo_post,
            ("POST", "weibo/comment"): lambda body, req: {"id": self._sb.add_weibo_comment(**body)},
            ("POST", "weibo/delete_post"): lambda body, req: self._sb.delete_weibo_post(
                int(body["status_id"])
            ),
        }

    def handle(self, req: Request) -> Response:
        name = req.path.removeprefix("/_sandbox/").strip("/")
        route = self._routes.get((req.method, name))
        if route is None:
            known = any(path == name for _, path in self._routes)
            status = 405 if known else 404
            return _error(f"{req.method} /_sandbox/{name}: no such admin call", status)
        body: Any = {}
        if req.body.strip():
            try:
                body = json.loads(req.body.decode("utf-8"))
            except (UnicodeDecodeError, json.JSONDecodeError) as exc:
                return _error(f"body is not JSON: {exc}")
        if not isinstance(body, dict):
            return _error("body must be a JSON object")
        try:
            result = route(body, req)
        except (KeyError, ValueError, TypeError) as exc:
            return _error(f"{type(exc).__name__}: {exc}")
        payload = {"ok": True}
        if isinstance(result, dict):
            payload.update(result)
        return json_response(payload)

    def _calls(self, body: dict[str, Any], req: Request) -> dict[str, Any]:
        endpoint = req.query.get("endpoint") or None
        return {"calls": [c.to_dict() for c in self._sb.calls(endpoint)]}

    def _reset_calls(self, body: dict[str, Any], req: Request) -> None:
        self._sb.reset_calls()

    def _faults(self, body: dict[str, Any], req: Request) -> dict[str, Any]:
        self._sb.faults.update(body)
        return self._sb.faults.to_dict()

    def _advance_time(self, body: dict[str, Any], req: Request) -> dict[str, Any]:
        self._sb.advance_time(float(body["seconds"]))
        return {"time": self._sb.now()}

    def _article(self, body: dict[str, Any], req: Request) -> None:
        args = dict(body)
        app_id = str(args.pop("app_id"))
        self._sb.add_article(app_id, **args)

    def _publish(self, body: dict[str, Any], req: Request) -> dict[str, Any]:
        published = self._sb.publish_articles(
            str(body["app_id"]), msg_data_id=int(body["msg_data_id"]),
            count=int(body.get("count", 1)), at=body.get("at"), title=str(body.get("title", "")),
        )
        return {"articles": [{"msg_data_id": m, "index": i} for m, i in published]}

    def _wechat_comment(self, body: dict[str, Any], req: Request) -> dict[str, Any]:
        args = dict(body)
        app_id = str(args.pop("app_id"))
        msg_data_id = int(args.pop("msg_data_id"))
        index = int(args.pop("index", 0))
        return {"user_comment_id": self._sb.add_wechat_comment(app_id, msg_data_id, index, **args)}

    def _followers(self, body: dict[str, Any], req: Request) -> None:
        openids = [str(o) for o in body["openids"]]
        if body.get("foreign"):
            self._sb.add_foreign_openid(str(body["app_id"]), *openids)
        else:
            self._sb.add_follower(str(body["app_id"]), *openids)

    def _revoke_api(self, body: dict[str, Any], req: Request) -> None:
        if body.get("restore"):
            self._sb.restore_api(str(body["app_id"]), str(body["endpoint"]))
        else:
            self._sb.revoke_api(str(body["app_id"]), str(body["endpoint"]))

    def _weibo_post(self, body: dict[str, Any], req: Request) -> None:
        owner: str | int = (
            int(body["owner_uid"]) if "owner_uid" in body else str(body["access_token"])
        )
        self._sb.add_weibo_post(
            owner,
            status_id=int(body["status_id"]),
            text=str(body.get("text", "")),
            created_at=body.get("created_at"),
        )
