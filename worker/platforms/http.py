"""One HTTP exchange with a platform: send, time, parse JSON, classify failures, log.

Every failure below the platform's own answer becomes a :class:`TransientError` carrying the
HTTP status when there was one: timeouts, connection errors, HTML error pages, and any answer
that cannot be decoded (truncated or non-JSON, bad UTF-8, nested too deep, not a JSON object
where one is due, or larger than :data:`MAX_ANSWER_BYTES`): a
:class:`~worker.errors.MalformedAnswerError`, logged as one ``platform.malformed_answer``
event and retried like a busy answer. A JSON answer carrying a
platform error code is classified through :mod:`worker.platforms.codes`. Exception texts never
hold a URL (the query carries the access token) and pass through :func:`worker.logs.redact`.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import httpx
import structlog

from worker import metrics
from worker.errors import MalformedAnswerError, PlatformError, RateLimitedError
from worker.logs import redact
from worker.platforms.codes import Kind, classify, classify_http_status, make_error

_log = structlog.get_logger()

JSONBody = dict[str, Any] | list[Any]
CodeReader = Callable[[Any], tuple[int | None, str]]

#: The largest answer body read (after decompression). The biggest documented answers (a
#: 200-comment Weibo page with user objects, a 1,000-openid blacklist page) stay under 1 MiB;
#: a larger body is a broken or hostile server, and reading it on would only cost memory.
MAX_ANSWER_BYTES = 8 * 1024 * 1024


class Undecodable(ValueError):
    """Why an answer body could not be used (becomes a MalformedAnswerError)."""


def decode_body(raw: bytes, *, array_ok: bool) -> JSONBody:
    """The JSON object (or array, when ``array_ok``) of an answer body; Undecodable naming
    the reason otherwise."""
    try:
        body = json.loads(raw)
    except UnicodeDecodeError:
        raise Undecodable("not UTF-8") from None
    except RecursionError:
        raise Undecodable("JSON nested too deep") from None
    except ValueError:
        raise Undecodable("not JSON") from None
    if isinstance(body, dict) or (array_ok and isinstance(body, list)):
        return body
    raise Undecodable(f"JSON {type(body).__name__}, not an object")


@dataclass(frozen=True, slots=True)
class Answer:
    """A parsed platform answer: HTTP status and the decoded JSON body."""

    status: int
    body: Any
    code: int | None
    message: str
    duration_ms: float


def dump_json(data: Mapping[str, Any]) -> bytes:
    """JSON as raw UTF-8: WeChat refuses ``\\uXXXX`` escapes (40033)."""
    return json.dumps(data, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


def next_minute(now: float | None = None) -> float:
    """Unix time of the start of the next minute."""
    now = time.time() if now is None else now
    return (int(now) // 60 + 1) * 60.0


class Transport:
    """Sends requests for one account of one platform over a shared ``httpx.Client``.

    ``read_code`` extracts ``(code, message)`` from a decoded body: ``(None, "")`` or
    ``(0, ...)`` when the body reports no error.
    """

    def __init__(
        self,
        *,
        http: httpx.Client,
        platform: str,
        account: str,
        read_code: CodeReader,
        max_answer_bytes: int = MAX_ANSWER_BYTES,
    ) -> None:
        self.http = http
        self.max_answer_bytes = max_answer_bytes
        self.platform = platform
        self.account = account
        self._read_code = read_code

    def error(
        self,
        kind: Kind,
        message: str,
        *,
        endpoint: str,
        code: int | None = None,
        http_status: int | None = None,
    ) -> PlatformError:
        err = make_error(
            kind,
            redact(message),
            platform=self.platform,
            endpoint=endpoint,
            account=self.account,
            code=code,
            http_status=http_status,
        )
        if isinstance(err, RateLimitedError):
            err.retry_at = next_minute()
        return err

    def request(
        self,
        method: str,
        url: str,
        *,
        endpoint: str,
        params: Mapping[str, str] | None = None,
        json_body: Mapping[str, Any] | None = None,
        form: Mapping[str, str] | None = None,
        array_ok: bool = False,
    ) -> Answer:
        """Send one request; return the decoded answer or raise the classified error.

        The body must be a JSON object, or an array when ``array_ok`` (Weibo's batch
        endpoints answer arrays); anything else is a MalformedAnswerError (transient).
        """
        started = time.perf_counter()
        status, ctype, raw = self._exchange(
            method, url, endpoint=endpoint, started=started, params=params,
            json_body=json_body, form=form,
        )
        body = self._decoded(raw, array_ok=array_ok, endpoint=endpoint, started=started,
                             status=status, ctype=ctype)
        code, message = self._read_code(body)
        logged = 0 if code is None and 200 <= status < 300 else code  # 0: success
        duration = self._log_call(endpoint, started, http_status=status, errcode=logged)
        self._raise_for_error(endpoint, status, code, message)
        return Answer(status=status, body=body, code=code, message=message, duration_ms=duration)

    def _exchange(
        self,
        method: str,
        url: str,
        *,
        endpoint: str,
        started: float,
        params: Mapping[str, str] | None,
        json_body: Mapping[str, Any] | None,
        form: Mapping[str, str] | None,
    ) -> tuple[int, str, bytes | None]:
        """Send the request: (HTTP status, content type, body or None when oversized); a
        timeout or connection failure is a TransientError."""
        headers: dict[str, str] = {"Accept": "application/json"}
        content: bytes | None = None
        if json_body is not None:
            content = dump_json(json_body)
            headers["Content-Type"] = "application/json; charset=utf-8"
        try:
            with self.http.stream(
                method, url, params=params, content=content, data=form, headers=headers
            ) as response:
                ctype = response.headers.get("content-type", "?").split(";")[0]
                return response.status_code, ctype, self._read_capped(response)
        except httpx.TimeoutException as exc:
            self._log_call(endpoint, started, error=type(exc).__name__)
            raise self.error(
                Kind.TRANSIENT, f"timeout ({type(exc).__name__})", endpoint=endpoint
            ) from None
        except httpx.HTTPError as exc:
            self._log_call(endpoint, started, error=type(exc).__name__)
            raise self.error(
                Kind.TRANSIENT,
                f"connection failed ({type(exc).__name__}: {exc})",
                endpoint=endpoint,
            ) from None

    def _decoded(
        self, raw: bytes | None, *, array_ok: bool, endpoint: str, started: float, status: int,
        ctype: str,
    ) -> JSONBody:
        """The decoded body; MalformedAnswerError (logged) when it is oversized or not the
        JSON object (or array, when ``array_ok``) every answer is."""
        try:
            if raw is None:
                raise Undecodable(f"larger than {self.max_answer_bytes} bytes")
            return decode_body(raw, array_ok=array_ok)
        except Undecodable as exc:
            size = "oversized" if raw is None else f"{len(raw)} bytes"
            self._log_call(endpoint, started, http_status=status, error="malformed body")
            _log.warning(
                "platform.malformed_answer", platform=self.platform, account=self.account,
                endpoint=endpoint, http_status=status, content_type=ctype, size=size,
                reason=str(exc),
            )
            raise MalformedAnswerError(
                f"malformed answer ({exc}): HTTP {status}, {ctype}, {size}",
                platform=self.platform,
                endpoint=endpoint,
                account=self.account,
                http_status=status,
            ) from None

    def _raise_for_error(
        self, endpoint: str, status: int, code: int | None, message: str
    ) -> None:
        """Raise the classified error of an answer carrying an error code or a failing HTTP
        status (a server failure is transient, whatever its code says)."""
        if code not in (None, 0):
            kind = classify(self.platform, endpoint, code)
            if status >= 500 and kind is Kind.PERMANENT:
                kind = Kind.TRANSIENT
            raise self.error(kind, message, endpoint=endpoint, code=code, http_status=status)
        if not 200 <= status < 300:
            raise self.error(
                classify_http_status(status),
                message or f"HTTP {status}",
                endpoint=endpoint,
                http_status=status,
            )

    def _read_capped(self, response: httpx.Response) -> bytes | None:
        """The body, or None (unread beyond the cap) when it exceeds MAX_ANSWER_BYTES."""
        declared = response.headers.get("content-length", "")
        if declared.isdigit() and int(declared) > self.max_answer_bytes:
            return None
        chunks: list[bytes] = []
        size = 0
        for chunk in response.iter_bytes():
            size += len(chunk)
            if size > self.max_answer_bytes:
                return None
            chunks.append(chunk)
        return b"".join(chunks)

    def malformed(self, endpoint: str, answer: Answer, what: str) -> MalformedAnswerError:
        """The error for a JSON answer whose shape is not the documented one."""
        return MalformedAnswerError(
            f"unexpected answer shape: {what}",
            platform=self.platform,
            endpoint=endpoint,
            account=self.account,
            http_status=answer.status,
        )

    def _log_call(
        self,
        endpoint: str,
        started: float,
        *,
        http_status: int | None = None,
        errcode: int | None = None,
        error: str | None = None,
    ) -> float:
        duration_ms = round((time.perf_counter() - started) * 1000, 1)
        metrics.count_api_call(self.platform, endpoint, duration_ms=duration_ms, errcode=errcode,
                               http_status=http_status, error=error)
        _log.debug(
            "platform.call",
            platform=self.platform,
            account=self.account,
            endpoint=endpoint,
            errcode=errcode,
            http_status=http_status,
            duration_ms=duration_ms,
            **({"error": error} if error else {}),
        )
        return duration_ms


def new_http_client(timeout: float = 10.0) -> httpx.Client:
    """The HTTP client a platform client makes when it is given none."""
    return httpx.Client(
        timeout=httpx.Timeout(timeout, connect=min(timeout, 5.0)),
        limits=httpx.Limits(max_connections=100, max_keepalive_connections=20),
        headers={"User-Agent": "modworker"},
    )
