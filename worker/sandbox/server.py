"""The HTTP adapter: ``ThreadingHTTPServer`` on 127.0.0.1 in a background thread.

HTTP/1.1 with keep-alive, because the platform clients pool connections and the daemon
benchmark pushes tens of thousands of calls through. Stopping the server also shuts the
open keep-alive connections down, so a client sees a stopped sandbox as stopped instead of
being served by a lingering handler thread.
"""

from __future__ import annotations

import contextlib
import logging
import socket
import threading
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qsl, urlsplit

from worker.sandbox.protocol import Request, Response

LOOPBACK = "127.0.0.1"
_IDLE_TIMEOUT = 60.0  # seconds an idle keep-alive connection is kept
_MAX_BODY = 64 * 1024 * 1024

log = logging.getLogger(__name__)

Dispatch = Callable[[Request], Response]


class _HttpServer(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 128  # the default 5 stalls and resets bursts of new connections

    def __init__(self, port: int, dispatch: Dispatch) -> None:
        self.dispatch = dispatch
        self.open_connections: set[socket.socket] = set()
        self.connections_lock = threading.Lock()
        super().__init__((LOOPBACK, port), _Handler)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "modworker-sandbox"
    sys_version = ""
    timeout = _IDLE_TIMEOUT
    server: _HttpServer

    def setup(self) -> None:
        super().setup()
        # Headers and body leave in separate writes; without this, Nagle's algorithm and
        # the client's delayed ACK add ~40 ms to every keep-alive answer.
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        with self.server.connections_lock:
            self.server.open_connections.add(self.connection)

    def finish(self) -> None:
        with self.server.connections_lock:
            self.server.open_connections.discard(self.connection)
        super().finish()

    def do_GET(self) -> None:
        self._serve()

    def do_POST(self) -> None:
        self._serve()

    def do_PUT(self) -> None:
        self._serve()

    def do_DELETE(self) -> None:
        self._serve()

    def _read_body(self) -> bytes:
        if "chunked" in self.headers.get("Transfer-Encoding", "").lower():
            chunks: list[bytes] = []
            while True:
                size = int(self.rfile.readline().split(b";")[0].strip() or b"0", 16)
                if size == 0:
                    while self.rfile.readline().strip():  # trailers, then the blank line
                        pass
                    return b"".join(chunks)
                chunks.append(self.rfile.read(size))
                self.rfile.readline()
        length = int(self.headers.get("Content-Length") or 0)
        if length > _MAX_BODY:
            raise ValueError(f"request body of {length} bytes is too large")
        return self.rfile.read(length) if length > 0 else b""

    def _serve(self) -> None:
        parts = urlsplit(self.path)
        try:
            body = self._read_body()
            request = Request(
                method=self.command,
                path=parts.path,
                query=dict(parse_qsl(parts.query, keep_blank_values=True)),
                headers={k.lower(): v for k, v in self.headers.items()},
                body=body,
            )
            response = self.server.dispatch(request)
        except Exception:
            # A sandbox bug: say so loudly (the traceback names no token) and answer 500.
            log.exception("sandbox failed on %s %s", self.command, parts.path)
            self.close_connection = True
            response = Response(
                status=500, body=b"sandbox internal error\n", content_type="text/plain"
            )
        self.send_response(response.status)
        self.send_header("Content-Type", response.content_type)
        self.send_header("Content-Length", str(len(response.body)))
        self.end_headers()
        self.wfile.write(response.body)

    def log_message(self, format: str, *args: object) -> None:
        """Silence the per-request stderr line: the call log records requests (redacted),
        and a raw request line would carry ``access_token``."""


class SandboxServer:
    """One listening socket and the thread that serves it."""

    def __init__(self, *, port: int, dispatch: Dispatch) -> None:
        self._httpd = _HttpServer(port, dispatch)
        self._thread = threading.Thread(
            target=self._httpd.serve_forever,
            kwargs={"poll_interval": 0.05},
            name=f"sandbox-{self.port}",
            daemon=True,
        )

    @property
    def port(self) -> int:
        return int(self._httpd.server_address[1])

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._httpd.shutdown()
        self._thread.join()
        with self._httpd.connections_lock:
            connections = list(self._httpd.open_connections)
        for conn in connections:
            # The peer or the handler may have closed it meanwhile: nothing left to do then.
            with contextlib.suppress(OSError):
                conn.shutdown(socket.SHUT_RDWR)
        self._httpd.server_close()
