"""The daemon's HTTP listener (``metrics.host:metrics.port``): ``/metrics``, ``/healthz`` and
``/readyz``.

``/healthz`` and ``/readyz`` answer 200 when healthy and 503 otherwise, with the report of
:mod:`worker.health` as the JSON body (what is wrong under ``problems``); 503 with
``"status": "starting"`` until the daemon has reached Redis. Every other path is the
Prometheus exposition of ``registry`` (404 when metrics are not served).
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterable
from socketserver import ThreadingMixIn
from typing import TYPE_CHECKING, Any
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

import structlog

from worker.health import HealthProbe

if TYPE_CHECKING:
    from _typeshed.wsgi import StartResponse, WSGIEnvironment
    from prometheus_client import CollectorRegistry

log = structlog.get_logger("worker.listener")

HEALTH_PATHS = ("/healthz", "/readyz")


class _ThreadingServer(ThreadingMixIn, WSGIServer):
    daemon_threads = True


class _QuietHandler(WSGIRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        """Probes every few seconds would flood the log."""


def make_app(
    *, registry: CollectorRegistry | None, probe: Callable[[], HealthProbe | None],
) -> Callable[[WSGIEnvironment, StartResponse], Iterable[bytes]]:
    metrics_app = None
    if registry is not None:
        from prometheus_client import make_wsgi_app

        metrics_app = make_wsgi_app(registry)

    def app(environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        path = environ.get("PATH_INFO", "")
        if path in HEALTH_PATHS:
            return _health(path, probe(), start_response)
        if metrics_app is None:
            start_response("404 Not Found", [("Content-Type", "text/plain")])
            return [b"metrics are not enabled (metrics.enabled)\n"]
        served: Iterable[bytes] = metrics_app(environ, start_response)
        return served

    return app


def _health(
    path: str, probe: HealthProbe | None, start_response: StartResponse
) -> Iterable[bytes]:
    if probe is None:
        body: dict[str, Any] = {"status": "starting", "problems": ["the daemon is starting"]}
        ok = False
    else:
        try:
            report = probe.live() if path == "/healthz" else probe.ready()
        except Exception as exc:  # noqa: BLE001 - a probe must answer, and say why
            log.warning("health_check_failed", path=path, detail=str(exc))
            body, ok = {"status": "unhealthy", "problems": [f"health check failed: {exc}"]}, False
        else:
            body, ok = report.to_dict(), report.ok
    status = "200 OK" if ok else "503 Service Unavailable"
    start_response(status, [("Content-Type", "application/json"), ("Cache-Control", "no-store")])
    return [json.dumps(body, ensure_ascii=False).encode() + b"\n"]


class Listener:
    """A running listener (a daemon thread)."""

    def __init__(self, server: WSGIServer) -> None:
        self.server = server
        self.thread = threading.Thread(target=server.serve_forever, name="listener",
                                       daemon=True)
        self.thread.start()

    @property
    def host(self) -> str:
        return str(self.server.server_address[0])

    @property
    def port(self) -> int:
        return int(self.server.server_address[1])

    @property
    def base_url(self) -> str:
        return f"http://{self.host}:{self.port}"

    @property
    def url(self) -> str:
        """The metrics URL (``/healthz`` and ``/readyz`` beside it)."""
        return f"{self.base_url}/metrics"

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(timeout=5)


def start_listener(
    host: str, port: int, *, registry: CollectorRegistry | None,
    probe: Callable[[], HealthProbe | None],
) -> Listener:
    """Serve on ``host:port`` (0: any free port). Raises OSError when it cannot listen."""
    app = make_app(registry=registry, probe=probe)
    server = make_server(host, port, app, server_class=_ThreadingServer,
                         handler_class=_QuietHandler)
    return Listener(server)
