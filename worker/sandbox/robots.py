"""The team-chat robots' webhooks: WeCom, DingTalk, Feishu, and plain webhooks.

Each robot is registered with its token (and signing secret), checks signatures as the vendor
documents (shared/api-notes.md section 8), counts messages per minute (and per second on
Feishu) and answers its own "too fast" error beyond, and keeps what it received. ``fail_next``
makes a robot answer an error (or HTTP 500) for the next N messages.

Paths: ``/cgi-bin/webhook/send?key=K`` (WeCom), ``/robot/send?access_token=T[&timestamp&sign]``
(DingTalk), ``/open-apis/bot/v2/hook/T`` (Feishu), ``/hook/NAME`` (plain webhook).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import urllib.parse
from collections import deque
from dataclasses import dataclass, field
from typing import Any

from worker.sandbox.protocol import Request, Response, json_response

WECOM_PATH = "/cgi-bin/webhook/send"
DINGTALK_PATH = "/robot/send"
FEISHU_PREFIX = "/open-apis/bot/v2/hook/"
WEBHOOK_PREFIX = "/hook/"
SIGN_WINDOW = 3600.0  # a signature's timestamp must be within an hour of now (both vendors)

#: (limit, window seconds) per robot type, and its rate-limit answer.
LIMITS: dict[str, tuple[tuple[int, float], ...]] = {
    "wecom": ((20, 60.0),), "dingtalk": ((20, 60.0),), "feishu": ((5, 1.0), (100, 60.0)),
    "webhook": (),
}


@dataclass
class Robot:
    kind: str
    token: str
    secret: str | None = None
    received: list[dict[str, Any]] = field(default_factory=list)
    sent_at: deque[float] = field(default_factory=deque)
    failures: deque[tuple[int, int | None]] = field(default_factory=deque)  # (status, code)
    rejected: int = 0


class Robots:
    def __init__(self) -> None:
        self._robots: dict[tuple[str, str], Robot] = {}

    def add(self, kind: str, token: str, secret: str | None = None) -> Robot:
        if kind not in LIMITS:
            raise ValueError(f"unknown robot type {kind!r}")
        robot = Robot(kind, token, secret)
        self._robots[(kind, token)] = robot
        return robot

    def get(self, kind: str, token: str) -> Robot:
        return self._robots[(kind, token)]

    def fail_next(self, kind: str, token: str, count: int, *, status: int = 200,
                  code: int | None = None) -> None:
        """The next ``count`` messages get HTTP ``status`` with errcode ``code``."""
        self.get(kind, token).failures.extend([(status, code)] * count)

    @staticmethod
    def handles(path: str) -> bool:
        return (path in (WECOM_PATH, DINGTALK_PATH)
                or path.startswith((FEISHU_PREFIX, WEBHOOK_PREFIX)))

    def handle(self, req: Request, now: float) -> tuple[str, Response]:
        """The robot type (for the call log) and the answer."""
        if req.path == WECOM_PATH:
            kind, token = "wecom", req.query.get("key", "")
        elif req.path == DINGTALK_PATH:
            kind, token = "dingtalk", req.query.get("access_token", "")
        elif req.path.startswith(FEISHU_PREFIX):
            kind, token = "feishu", req.path[len(FEISHU_PREFIX):]
        else:
            kind, token = "webhook", req.path[len(WEBHOOK_PREFIX):]
        robot = self._robots.get((kind, token))
        if robot is None or req.method != "POST":
            return kind, _answer(kind, 404 if kind == "webhook" else 200,
                                 _NO_ROBOT[kind], "no such robot")
        try:
            body = json.loads(req.body)
        except ValueError:
            return kind, _answer(kind, 400, _BAD_BODY[kind], "body is not JSON")
        if not isinstance(body, dict):
            return kind, _answer(kind, 400, _BAD_BODY[kind], "body is not an object")
        problem = self._signature_problem(robot, req, body, now)
        if problem is not None:
            robot.rejected += 1
            return kind, _answer(kind, 200, _BAD_SIGN[kind], problem)
        if robot.failures:
            status, code = robot.failures.popleft()
            return kind, _answer(kind, status, code, "injected failure")
        if self._too_fast(robot, now):
            robot.rejected += 1
            return kind, _answer(kind, 200 if kind != "webhook" else 429, _RATE[kind],
                                 "send too fast, exceed the limit")
        robot.sent_at.append(now)
        robot.received.append({"at": now, "body": body})
        return kind, _answer(kind, 200, 0, "ok")

    @staticmethod
    def _signature_problem(robot: Robot, req: Request, body: dict[str, Any],
                           now: float) -> str | None:
        if robot.secret is None:
            return None
        if robot.kind == "dingtalk":
            stamp, sign = req.query.get("timestamp", ""), req.query.get("sign", "")
            if not stamp.isdigit() or abs(int(stamp) / 1000 - now) > SIGN_WINDOW:
                return "timestamp missing or not within one hour"
            mac = hmac.new(robot.secret.encode(), f"{stamp}\n{robot.secret}".encode(),
                           hashlib.sha256).digest()
            # The query parser has decoded the URL encoding once already.
            if not hmac.compare_digest(urllib.parse.unquote_plus(sign) if "%" in sign else sign,
                                       base64.b64encode(mac).decode()):
                return "sign not match"
            return None
        if robot.kind == "feishu":
            stamp, sign = str(body.get("timestamp", "")), str(body.get("sign", ""))
            if not stamp.isdigit() or abs(int(stamp) - now) > SIGN_WINDOW:
                return "timestamp is not within one hour from current time"
            mac = hmac.new(f"{stamp}\n{robot.secret}".encode(), b"", hashlib.sha256).digest()
            if not hmac.compare_digest(sign, base64.b64encode(mac).decode()):
                return "sign match fail"
        return None

    @staticmethod
    def _too_fast(robot: Robot, now: float) -> bool:
        limits = LIMITS[robot.kind]
        longest = max((w for _, w in limits), default=0.0)
        while robot.sent_at and robot.sent_at[0] <= now - longest:
            robot.sent_at.popleft()
        return any(sum(1 for t in robot.sent_at if t > now - window) >= limit
                   for limit, window in limits)


_NO_ROBOT = {"wecom": 93000, "dingtalk": 300001, "feishu": 19001, "webhook": None}
_BAD_BODY = {"wecom": 40008, "dingtalk": 40035, "feishu": 9499, "webhook": None}
_BAD_SIGN = {"wecom": None, "dingtalk": 310000, "feishu": 19021, "webhook": None}
_RATE = {"wecom": 45009, "dingtalk": 130101, "feishu": 11232, "webhook": None}


def _answer(kind: str, status: int, code: int | None, message: str) -> Response:
    if kind == "feishu":
        payload: dict[str, Any] = {"code": code or 0, "msg": "success" if not code else message,
                                   "data": {}}
    elif kind == "webhook":
        payload = {"ok": status < 300 and not code, "message": message}
    else:
        payload = {"errcode": code or 0, "errmsg": "ok" if not code else message}
    return json_response(payload, status=status, errcode=code if code is not None else 0)
