"""The call log: one :class:`CallRecord` per platform request, secrets redacted.

Tests assert on it ("the client sent raw UTF-8", "50 concurrent calls caused 1 token
fetch", "the batch held 20 openids"), so it records what the client sent, parsed, with
every ``access_token`` / ``secret`` value replaced by ``***``. The log is bounded
(``max_calls``, oldest dropped first) so a long benchmark cannot exhaust memory.
"""

from __future__ import annotations

import json
import threading
from collections import deque
from dataclasses import asdict, dataclass
from typing import Any
from urllib.parse import parse_qsl

from worker.sandbox.protocol import Request, redact

_TEXT_CAP = 4096


@dataclass(frozen=True, slots=True, kw_only=True)
class CallRecord:
    """One request as the sandbox saw it and what it answered.

    ``errcode`` is the code answered (0 on success, WeChat errcode or Weibo error_code as an
    int; None for an HTML 502); ``scope`` is the WeChat appid or ``weibo:<uid>`` once known;
    ``fault`` names the injected fault (``html_5xx``, ``malformed``) if any; ``time`` is on
    the sandbox clock.
    """

    endpoint: str
    platform: str
    method: str
    path: str
    query: dict[str, str]
    body: Any
    errcode: int | None
    http_status: int
    time: float
    scope: str | None = None
    fault: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def loggable_body(req: Request) -> Any:
    """The request body parsed for the log: a JSON value, a form dict, or (capped) text."""
    if not req.body:
        return None
    text = req.body.decode("utf-8", "replace")
    content_type = req.headers.get("content-type", "")
    if "application/x-www-form-urlencoded" in content_type:
        return redact(dict(parse_qsl(text, keep_blank_values=True)))
    try:
        value = json.loads(text)
    except json.JSONDecodeError:
        return text[:_TEXT_CAP]
    return redact(value) if isinstance(value, dict) else value


class CallLog:
    def __init__(self, *, max_calls: int) -> None:
        self._lock = threading.Lock()
        self._records: deque[CallRecord] = deque(maxlen=max_calls)

    def append(self, record: CallRecord) -> None:
        with self._lock:
            self._records.append(record)

    def select(self, endpoint: str | None = None) -> list[CallRecord]:
        with self._lock:
            if endpoint is None:
                return list(self._records)
            return [r for r in self._records if r.endpoint == endpoint]

    def clear(self) -> None:
        with self._lock:
            self._records.clear()
