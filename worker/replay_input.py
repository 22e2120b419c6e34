"""``modworker replay``'s input: one JSON object a line, read into a :class:`Comment`.

A line is read by :meth:`Comment.from_dict` (the fields a queue message holds; ``platform``
defaults to ``wechat`` and ``id`` to the line number). JSON is decoded by orjson, and a line
orjson refuses (a lone surrogate, NaN, nesting deeper than 1,024) or reads differently from
the standard library (an integer id beyond 64 bits, which orjson makes a float) is decoded
again by the standard library, which stays the reference: the same lines are taken, with the
same values, and a line neither takes gets the standard library's reason.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Any, BinaryIO

import orjson

from worker.comment import Comment
from worker.errors import CommentFormatError, InputError
from worker.textclean import without_lone_surrogates

_decode = json.JSONDecoder().decode


class LineError(ValueError):
    """One input line cannot be used; the message says why."""


def parse_line(raw: bytes, line_number: int) -> Comment:
    """The comment of one input line; :class:`LineError` (never anything else) when the line
    cannot be used, so one bad line is skipped, not the run aborted."""
    try:
        data: Any = orjson.loads(raw)
    except orjson.JSONDecodeError:
        data = None
    if type(data) is not dict:
        return _parse_by_reference(raw, line_number)
    try:  # orjson refuses lone surrogates: the text needs no cleaning
        if "id" not in data:
            data["id"] = line_number
        return Comment.from_dict(data, defaults=_DEFAULTS)
    except CommentFormatError:
        # Read again: an id of more than 64 bits is a float to orjson, an integer here.
        return _parse_by_reference(raw, line_number)


_DEFAULTS = {"platform": "wechat"}  # and ``id``: the line number


def _parse_by_reference(raw: bytes, line_number: int) -> Comment:
    try:
        return _comment_of(_json_object(raw), line_number)
    except LineError:
        raise
    except RecursionError as exc:
        raise LineError("nested too deeply") from exc
    except (ValueError, OverflowError) as exc:  # e.g. a number of more than 4,300 digits
        raise LineError(f"unusable value: {exc}") from exc


def _json_object(raw: bytes) -> dict[str, Any]:
    try:
        data: Any = _decode(raw.decode("utf-8"))
    except UnicodeDecodeError as exc:
        raise LineError(f"not UTF-8: {exc}") from exc
    except json.JSONDecodeError as exc:
        raise LineError(f"invalid JSON: {exc}") from exc
    if not isinstance(data, dict):
        raise LineError("expected a JSON object")
    return data


def _comment_of(data: dict[str, Any], line_number: int) -> Comment:
    comment_id = data.get("id")
    if isinstance(comment_id, str) and without_lone_surrogates(comment_id) != comment_id:
        # An output line must name its input: an id cannot be written out altered.
        raise LineError(f"'id' holds a lone surrogate: {ascii(comment_id)[:80]}")
    for name in ("content", "account", "target", "author"):
        value = data.get(name)
        if isinstance(value, str):
            # As the daemon sees platform text: a lone surrogate (a cut emoji) becomes U+FFFD.
            data[name] = without_lone_surrogates(value)
    if "id" not in data:
        data["id"] = line_number
    try:
        return Comment.from_dict(data, defaults=_DEFAULTS)
    except CommentFormatError as exc:
        raise LineError(str(exc)) from exc


def open_source(source: Path) -> tuple[BinaryIO, int | None]:
    """The input's byte stream (``-``: standard input) and its size when known."""
    if str(source) == "-":
        return sys.stdin.buffer, None
    try:
        handle = source.open("rb")
    except OSError as exc:
        raise InputError(f"cannot read {source}: {exc.strerror}") from exc
    try:
        size = os.fstat(handle.fileno()).st_size
    except OSError:
        size = None
    return handle, size
