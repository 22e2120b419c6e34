"""How the sandbox reads a WeChat request body, and the codes a bad one gets.

An empty body is 44002, a ``\\uXXXX`` escape in it 40033 (WeChat wants raw UTF-8), anything
but a JSON object 47001; a missing or ill-typed numeric field is 47001 (numbers of any size
and decimal strings are accepted: WxJava sends ``msg_data_id`` as a string); a date not
``YYYY-MM-DD`` is 61500.
"""

from __future__ import annotations

import json
import re
from datetime import date
from typing import Any

from worker.sandbox.protocol import ApiError

_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
# A \uXXXX escape in the raw bytes, not preceded by an escaped backslash ("\\u0041" is text).
_UNICODE_ESCAPE = re.compile(rb"(?<!\\)(?:\\\\)*\\u[0-9a-fA-F]{4}")


def int_field(body: dict[str, Any], name: str, *, default: int | None = None) -> int:
    value = body.get(name)
    if value is None:
        if default is None:
            raise ApiError(47001, f"data format error hint: [{name} missing]")
        return default
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    if isinstance(value, str) and value.isascii() and value.isdigit():
        return int(value)
    raise ApiError(47001, f"data format error hint: [{name} invalid]")


def parse_body(raw: bytes) -> dict[str, Any]:
    """The JSON object of a WeChat POST, or 44002 / 40033 / 47001."""
    if not raw.strip():
        raise ApiError(44002)
    if _UNICODE_ESCAPE.search(raw):
        raise ApiError(40033)
    try:
        data = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError):
        raise ApiError(47001) from None
    if not isinstance(data, dict):
        raise ApiError(47001)
    return data


def date_field(body: dict[str, Any], name: str) -> int:
    """A ``YYYY-MM-DD`` field as its day number (the days since 1970-01-01), or 61500."""
    value = body.get(name)
    if not isinstance(value, str) or not _DATE.match(value):
        raise ApiError(61500)
    try:
        day = date.fromisoformat(value)
    except ValueError:
        raise ApiError(61500) from None
    return (day - date(1970, 1, 1)).days
