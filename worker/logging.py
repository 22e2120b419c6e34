"""Structured logging: structlog JSON lines on stdout, readable colour on a terminal.

The standard library's loggers (dramatiq, httpx, redis) go through the same renderer, and
every line, ours or theirs, passes the redaction step: registered secret values and
``access_token=`` / ``secret=`` query values never reach the output.
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Iterable, MutableMapping
from typing import Any, TextIO

import structlog

from worker.redaction import redact, register_secret

__all__ = ["configure_logging", "get_logger", "redact", "register_secret"]


def _redact_value(value: Any) -> Any:
    if isinstance(value, str):
        return redact(value)
    if isinstance(value, dict):
        return {k: _redact_value(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return type(value)(_redact_value(v) for v in value)
    if isinstance(value, BaseException | bytes):
        return redact(str(value))
    return value


def redact_processor(
    _logger: Any, _method: str, event_dict: MutableMapping[str, Any]
) -> MutableMapping[str, Any]:
    for key, value in list(event_dict.items()):
        event_dict[key] = _redact_value(value)
    return event_dict


def _redact_rendered(_logger: Any, _method: str, rendered: Any) -> Any:
    """Last line of defence: the rendered line itself (tracebacks included)."""
    return redact(rendered) if isinstance(rendered, str) else rendered


def configure_logging(
    *, level: str = "INFO", stream: TextIO | None = None, json: bool | None = None
) -> None:
    """Set up structlog and the stdlib root logger. ``json=None``: JSON unless on a terminal."""
    stream = stream or sys.stdout
    if json is None:
        json = not stream.isatty()
    shared: list[Any] = [
        structlog.contextvars.merge_contextvars,
        structlog.stdlib.add_log_level,
        structlog.stdlib.add_logger_name,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
        redact_processor,
    ]
    renderer: Any = (
        structlog.processors.JSONRenderer(ensure_ascii=False)
        if json
        else structlog.dev.ConsoleRenderer(
            colors=stream.isatty(), exception_formatter=structlog.dev.plain_traceback
        )  # plain: rich, when installed, would print the frames' locals (see below)
    )
    # Tracebacks as data, without the frames' local variables: their reprs are cut to 80
    # characters, so a secret in them (an access token in a request's params) reached the
    # output as a prefix that the redaction of the whole value could not recognise.
    final: Iterable[Any] = (
        [structlog.processors.ExceptionRenderer(
            structlog.tracebacks.ExceptionDictTransformer(show_locals=False)
        )] if json else []
    )
    formatter = structlog.stdlib.ProcessorFormatter(
        foreign_pre_chain=shared,
        processors=[
            structlog.stdlib.ProcessorFormatter.remove_processors_meta,
            *final,
            renderer,
            _redact_rendered,
        ],
    )
    handler = logging.StreamHandler(stream)
    handler.setFormatter(formatter)
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level.upper())
    # httpx logs every request URL at INFO; the URL holds the access token (redacted anyway).
    logging.getLogger("httpx").setLevel(logging.WARNING)
    logging.getLogger("httpcore").setLevel(logging.WARNING)
    structlog.configure(
        processors=[*shared, structlog.stdlib.ProcessorFormatter.wrap_for_formatter],
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=structlog.stdlib.BoundLogger,
        cache_logger_on_first_use=True,
    )


def get_logger(name: str | None = None) -> Any:
    return structlog.get_logger(name)
