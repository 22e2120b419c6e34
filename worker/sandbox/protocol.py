"""Transport-neutral request/response types and the error every sandbox handler raises.

The HTTP adapter (:mod:`worker.sandbox.server`) turns bytes into a :class:`Request`; the
dispatcher answers with a :class:`Response`. Keeping HTTP out of the handlers lets the
platform logic be read (and reasoned about) without ``http.server`` in the way.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, fields
from typing import TYPE_CHECKING, Any, Protocol, TypeVar

if TYPE_CHECKING:
    from _typeshed import DataclassInstance

WECHAT_CONTENT_TYPE = "application/json; encoding=utf-8"
WEIBO_CONTENT_TYPE = "application/json;charset=UTF-8"
SANDBOX_CONTENT_TYPE = "application/json; charset=utf-8"

REDACTED = "***"
# Query or body keys whose values never reach the call log.
SECRET_KEYS = frozenset({"access_token", "secret", "appsecret", "app_secret"})


@dataclass(frozen=True, slots=True, kw_only=True)
class Request:
    """One HTTP request as the dispatcher sees it. Header names are lower-cased."""

    method: str
    path: str
    query: Mapping[str, str]
    headers: Mapping[str, str]
    body: bytes


@dataclass(frozen=True, slots=True, kw_only=True)
class Response:
    """One answer. ``errcode`` is what the call log records (0 = success, None = no code)."""

    status: int
    body: bytes
    content_type: str
    errcode: int | None = None
    fault: str | None = None


@dataclass(slots=True, kw_only=True)
class CallContext:
    """What a platform handler knows about the call besides the request itself.

    ``injected`` is a one-shot fault taken for this call (``"busy"`` or an error code; the
    dispatcher handles the HTML and malformed ones). The handler sets ``scope`` (the WeChat
    appid or ``weibo:<uid>``) once it knows whose call this is.
    """

    endpoint: str
    now: float
    injected: str | int | None = None
    scope: str | None = None


class ApiError(Exception):
    """A documented platform error; the dispatcher renders it in the platform's error shape.

    ``message`` is the text shown to the client; ``http_status`` matters only to Weibo
    (WeChat answers every error with HTTP 200).
    """

    def __init__(self, code: int, message: str | None = None, *, http_status: int = 200) -> None:
        super().__init__(code, message)
        self.code = code
        self.message = message
        self.http_status = http_status


def dump_json(payload: Any) -> bytes:
    """Raw UTF-8 JSON, as both platforms send it (no ``\\uXXXX`` escapes), except when a
    string holds a lone surrogate (an emoji cut by UTF-16 truncation): UTF-8 cannot carry it,
    so the answer is escaped, as the platforms' is."""
    try:
        return json.dumps(payload, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
    except UnicodeEncodeError:
        return json.dumps(payload, separators=(",", ":")).encode("ascii")


def json_response(
    payload: Any,
    *,
    status: int = 200,
    content_type: str = SANDBOX_CONTENT_TYPE,
    errcode: int | None = None,
) -> Response:
    return Response(
        status=status, body=dump_json(payload), content_type=content_type, errcode=errcode
    )


def redact(mapping: Mapping[str, Any]) -> dict[str, Any]:
    """A copy of ``mapping`` with every secret-bearing key's value replaced by ``***``."""
    return {k: (REDACTED if k in SECRET_KEYS else v) for k, v in mapping.items()}


class PlatformEndpoints(Protocol):
    """One platform's side of the sandbox, as the dispatcher and the facade see it (the
    platform's ``worker.sandbox.<name>_endpoints`` module builds it; see
    :mod:`worker.sandbox.platforms`)."""

    @property
    def paths(self) -> Mapping[str, str]:
        """Request path -> endpoint name (what the call log and the faults call it)."""
        ...

    def answer(self, req: Request, ctx: CallContext) -> Response:
        """Answer a call to one of ``paths`` (the caller holds the sandbox lock), an
        :class:`ApiError` rendered in the platform's error shape."""
        ...

    def to_state(self) -> dict[str, Any]:
        """A JSON-able dump of the platform's state (no token or secret values)."""
        ...


_Limits = TypeVar("_Limits", bound="DataclassInstance")


def take_limits(cls: type[_Limits], limits: dict[str, Any]) -> _Limits:
    """A ``cls`` (a dataclass of a platform's limits) from the entries of ``limits`` named
    like its fields, removed from ``limits``; the others are left to the other platforms."""
    names = {f.name for f in fields(cls)}
    return cls(**{name: limits.pop(name) for name in names & set(limits)})
