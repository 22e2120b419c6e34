"""Structured logging: structlog JSON lines on stdout, readable colour on a terminal.

The standard library's loggers (dramatiq, httpx, redis) go through the same renderer, and
every line, ours or theirs, passes the redaction step: registered secret values and
``access_token=`` / ``secret=`` query values never reach the output.

dramatiq's own lines get a stable ``event`` (:data:`DRAMATIQ_EVENTS`) with the message id and
actor as fields. Its "unhandled exception" traceback for a failure our actors raise on purpose
(a :class:`~worker.errors.ModworkerError`: the actor logged it already, as ``poll_failed`` or
``action_retry``) becomes a one-line ``message_failed`` at debug, so ``level: error`` stays for
what needs a person; an unexpected exception keeps its traceback at error.

Under systemd (``JOURNAL_STREAM`` names the output stream), each line starts with the syslog
priority prefix (``<3>`` error ... ``<7>`` debug) that journald reads with
``SyslogLevelPrefix=yes`` (its default), so ``journalctl -p err`` selects by level.
"""

from __future__ import annotations

import logging
import os
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


#: Syslog priorities of our level names (``sd-daemon(3)``): what journald files a line under.
SYSLOG_PRIORITY = {
    "critical": 2, "exception": 3, "error": 3, "warning": 4, "warn": 4, "info": 6, "debug": 7,
    "notset": 7,
}

#: dramatiq's message templates -> the stable event each line is logged as.
DRAMATIQ_EVENTS = {
    "Failed to process message %s with unhandled exception.": "message_failed",
    "Failed to process message %s with expected exception %s.": "message_failed",
    "Retries exceeded for message %r.": "message_retries_exceeded",
    "Aborting message %r.": "message_aborted",
    "Message %s was skipped.": "message_skipped",
    "Message %r has exceeded its age limit.": "message_too_old",
    "Consumer encountered a connection error: %s": "consumer_connection_error",
    "Consumer encountered an unexpected error.": "consumer_error",
    "Failed to requeue messages on queue %r.": "requeue_failed",
}


def journal_is_reader(stream: TextIO) -> bool:
    """Whether ``stream`` is the journal's stream: ``JOURNAL_STREAM`` (``<dev>:<inode>``, set
    by systemd) names the file ``stream`` writes to."""
    expected = os.environ.get("JOURNAL_STREAM")
    if not expected:
        return False
    try:
        info = os.fstat(stream.fileno())
    except (OSError, ValueError, AttributeError):  # no file behind it (a StringIO)
        return False
    return expected == f"{info.st_dev}:{info.st_ino}"


def _journal_prefix(_logger: Any, method: str, rendered: Any) -> Any:
    if not isinstance(rendered, str):
        return rendered
    return f"<{SYSLOG_PRIORITY.get(method, 6)}>{rendered}"


class DramatiqLines(logging.Filter):
    """Gives dramatiq's records a stable event and level (see the module docstring)."""

    def filter(self, record: logging.LogRecord) -> bool:
        if not record.name.startswith("dramatiq"):
            return True
        template = record.msg if isinstance(record.msg, str) else ""
        event = DRAMATIQ_EVENTS.get(template)
        if event is None:
            return True
        fields: dict[str, Any] = {"detail": record.getMessage()}
        args = record.args if isinstance(record.args, tuple) else ()
        message = args[0] if args else None
        if hasattr(message, "message_id"):  # a MessageProxy: ids, never its arguments
            fields = {"message_id": message.message_id,
                      "actor": getattr(message, "actor_name", None),
                      "queue": getattr(message, "queue_name", None)}
        elif isinstance(message, str) and event != "consumer_connection_error":
            fields = {"message_id": message}
        if event == "message_failed":
            error = record.exc_info[1] if record.exc_info else None
            if error is None and len(args) > 1:
                fields["error"] = str(args[1])
            elif error is not None:
                fields["error"] = type(error).__name__
            if error is None or _expected(error):
                # Told already by the actor that raised it, with account and target.
                record.exc_info = None
                record.exc_text = None
                record.levelno, record.levelname = logging.DEBUG, "DEBUG"
        record.msg, record.args = event, None
        record.mw_fields = fields
        return logging.getLogger().isEnabledFor(record.levelno)


def _expected(error: BaseException) -> bool:
    from worker.errors import ModworkerError

    return isinstance(error, ModworkerError)


def _record_fields(
    _logger: Any, _method: str, event_dict: MutableMapping[str, Any]
) -> MutableMapping[str, Any]:
    """Fields a :class:`DramatiqLines` filter attached to a stdlib record."""
    record = event_dict.get("_record")
    fields = getattr(record, "mw_fields", None)
    if fields:
        for key, value in fields.items():
            if value is not None:
                event_dict.setdefault(key, value)
    return event_dict


def configure_logging(
    *, level: str = "INFO", stream: TextIO | None = None, json: bool | None = None,
    journal: bool | None = None,
) -> None:
    """Set up structlog and the stdlib root logger. ``json=None``: JSON unless on a terminal;
    ``journal=None``: priority prefixes when ``JOURNAL_STREAM`` names ``stream``."""
    stream = stream or sys.stdout
    if journal is None:
        journal = journal_is_reader(stream)
    if json is None:
        json = journal or not stream.isatty()
    shared: list[Any] = [
        structlog.contextvars.merge_contextvars,
        _record_fields,
        structlog.stdlib.add_log_level,
        structlog.stdlib.add_logger_name,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
        redact_processor,
    ]
    handler = logging.StreamHandler(stream)
    handler.setFormatter(_formatter(shared, stream=stream, json=json, journal=journal))
    handler.addFilter(DramatiqLines())
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level.upper())
    # httpx logs every request URL at INFO; the URL holds the access token (redacted anyway).
    logging.getLogger("httpx").setLevel(logging.WARNING)
    logging.getLogger("httpcore").setLevel(logging.WARNING)
    _configure_structlog([*shared, structlog.stdlib.ProcessorFormatter.wrap_for_formatter])


def _formatter(
    shared: list[Any], *, stream: TextIO, json: bool, journal: bool
) -> structlog.stdlib.ProcessorFormatter:
    """How every line is rendered, ours (after ``shared``) and the stdlib's alike."""
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
    return structlog.stdlib.ProcessorFormatter(
        foreign_pre_chain=shared,
        processors=[
            structlog.stdlib.ProcessorFormatter.remove_processors_meta,
            *final,
            renderer,
            _redact_rendered,
            *([_journal_prefix] if journal else []),
        ],
    )


def _configure_structlog(processors: list[Any]) -> None:
    """Install ``processors`` into the list structlog already has rather than a new one.

    A logger caches the list it was bound with on first use (``cache_logger_on_first_use``).
    Kept as one list, every logger follows a later configuration, and so does
    ``structlog.testing.capture_logs`` (which edits that list in place): whichever code
    configured logging first, and in whatever order tests run.
    """
    installed = structlog.get_config()["processors"]
    if not isinstance(installed, list):  # configured elsewhere with a tuple: start a list
        installed = []
    installed[:] = processors
    structlog.configure(
        processors=installed,
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=structlog.stdlib.BoundLogger,
        cache_logger_on_first_use=True,
    )


def get_logger(name: str | None = None) -> Any:
    return structlog.get_logger(name)
