"""Routes a request to its platform, applies the transport faults, logs the call.

The order (see :mod:`worker.sandbox.faults`): latency, HTML 502, then the platform handler
under the sandbox lock (which checks credentials and the post-authentication faults), then
the malformed-answer fault, then the call log. Admin requests (``/_sandbox/...``) skip all of
it.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Mapping

from worker.sandbox.calls import CallLog, CallRecord, loggable_body
from worker.sandbox.faults import DAMAGE_KINDS, Faults
from worker.sandbox.protocol import (
    CallContext,
    PlatformEndpoints,
    Request,
    Response,
    json_response,
    redact,
)
from worker.sandbox.robots import Robots

ADMIN_PREFIX = "/_sandbox/"

HTML_502 = (
    b"<html>\r\n<head><title>502 Bad Gateway</title></head>\r\n<body>\r\n"
    b"<center><h1>502 Bad Gateway</h1></center>\r\n<hr><center>nginx</center>\r\n"
    b"</body>\r\n</html>\r\n"
)
_NOT_JSON = b"upstream connect error or disconnect/reset before headers. reset reason: overflow"
_BAD_UTF8 = b'{"errcode":0,"errmsg":"\xff\xfe ok"}'
_NOT_OBJECT = b'"ok"'
_DEEP_JSON = b"[" * 100_000 + b"]" * 100_000
_OVERSIZED_BYTES = 9 * 1024 * 1024  # above the client's 8 MiB cap


class Dispatcher:
    """Answers every request: admin, robot webhooks, and each platform's ``paths``."""

    def __init__(
        self,
        *,
        lock: threading.RLock,
        clock: Callable[[], float],
        faults: Faults,
        calls: CallLog,
        platforms: Mapping[str, PlatformEndpoints],
        admin: Callable[[Request], Response],
        robots: Robots | None = None,
    ) -> None:
        self._lock = lock
        self._clock = clock
        self._faults = faults
        self._calls = calls
        self._platforms = platforms
        self._routes = _routes(platforms)
        self._admin = admin
        self._robots = robots

    def dispatch(self, req: Request) -> Response:
        if req.path.startswith(ADMIN_PREFIX):
            return self._admin(req)
        if self._robots is not None and self._robots.handles(req.path):
            with self._lock:
                now = self._clock()
                robot_kind, response = self._robots.handle(req, now)
            self._record(req, "robot", robot_kind, response, None, now)
            return response
        route = self._routes.get(req.path)
        if route is None:
            response = json_response({"error": "no such path", "path": req.path}, status=404)
            self._record(req, "unknown", "unknown", response, None, self._clock())
            return response
        platform, endpoint = route
        injected = self._faults.take_injection(endpoint)
        kind = injected.kind if injected is not None else None
        latency = self._faults.latency
        if latency > 0:
            time.sleep(latency)
        if kind == "html_5xx" or self._faults.roll(self._faults.html_5xx_probability):
            response = Response(
                status=502, body=HTML_502, content_type="text/html", fault="html_5xx"
            )
            self._record(req, platform, endpoint, response, None, self._clock())
            return response
        damage = kind if kind in DAMAGE_KINDS else None
        if damage is None and self._faults.roll(self._faults.malformed_probability):
            damage = "malformed"
        ctx = CallContext(
            endpoint=endpoint, now=0.0, injected=kind if damage is None else None
        )
        with self._lock:
            ctx.now = self._clock()
            response = self._platforms[platform].answer(req, ctx)
        if damage is not None:
            response = self._damage(response, str(damage))
        self._record(req, platform, endpoint, response, ctx.scope, ctx.now)
        return response

    def _damage(self, response: Response, kind: str) -> Response:
        """The same answer damaged: ``malformed`` truncates it to half or replaces it by a
        non-JSON line (at random); the other :data:`DAMAGE_KINDS` as they say."""
        if kind == "bad_utf8":
            body = _BAD_UTF8
        elif kind == "not_object":
            body = _NOT_OBJECT
        elif kind == "deep_json":
            body = _DEEP_JSON
        elif kind == "oversized":
            body = b'{"pad":"' + b"x" * _OVERSIZED_BYTES + b'"}'
        elif self._faults.choice(2) == 0 and len(response.body) > 1:
            body = response.body[: len(response.body) // 2]
        else:
            body = _NOT_JSON
        return Response(
            status=response.status,
            body=body,
            content_type=response.content_type,
            errcode=response.errcode,
            fault=kind,
        )

    def _record(
        self,
        req: Request,
        platform: str,
        endpoint: str,
        response: Response,
        scope: str | None,
        now: float,
    ) -> None:
        self._calls.append(
            CallRecord(
                endpoint=endpoint,
                platform=platform,
                method=req.method,
                path=req.path,
                query=redact(req.query),
                body=loggable_body(req),
                errcode=response.errcode,
                http_status=response.status,
                time=now,
                scope=scope,
                fault=response.fault,
            )
        )


def _routes(platforms: Mapping[str, PlatformEndpoints]) -> dict[str, tuple[str, str]]:
    """Request path -> (platform, endpoint); ValueError for a path two platforms serve."""
    routes: dict[str, tuple[str, str]] = {}
    for platform, api in platforms.items():
        for path, endpoint in api.paths.items():
            if path in routes:
                raise ValueError(f"{platform} and {routes[path][0]} both serve {path}")
            routes[path] = (platform, endpoint)
    return routes
