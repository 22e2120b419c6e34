"""Log lines: journal priority prefixes under systemd, dramatiq's lines as stable events."""

from __future__ import annotations

import io
import json
import logging
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
import structlog
from dramatiq import Message
from dramatiq.broker import MessageProxy

from worker.errors import TransientError
from worker.logs import configure_logging

EMIT = """
import structlog
from worker.logs import configure_logging
configure_logging(level="DEBUG")
log = structlog.get_logger("t")
log.debug("d_event")
log.info("i_event", account="a")
log.warning("w_event")
log.error("e_event")
"""


def _run_emitter(tmp_path: Path, *, journal: bool) -> list[str]:
    out = tmp_path / "out.log"
    with out.open("wb") as handle:
        env = {k: v for k, v in os.environ.items() if k != "JOURNAL_STREAM"}
        if journal:
            info = os.fstat(handle.fileno())
            env["JOURNAL_STREAM"] = f"{info.st_dev}:{info.st_ino}"
        subprocess.run([sys.executable, "-c", EMIT], stdout=handle, env=env, check=True,
                       timeout=60)
    return out.read_text().splitlines()


def test_journal_stream_gets_syslog_priority_prefixes(tmp_path: Path) -> None:
    lines = _run_emitter(tmp_path, journal=True)
    assert [line[:3] for line in lines] == ["<7>", "<6>", "<4>", "<3>"]
    records = [json.loads(line[3:]) for line in lines]
    assert [r["event"] for r in records] == ["d_event", "i_event", "w_event", "e_event"]
    assert records[1]["account"] == "a"


def test_plain_json_without_the_journal(tmp_path: Path) -> None:
    lines = _run_emitter(tmp_path, journal=False)
    assert [json.loads(line)["level"] for line in lines] == ["debug", "info", "warning", "error"]


def test_journal_stream_naming_another_file_is_not_the_journal(tmp_path: Path) -> None:
    other = tmp_path / "other"
    other.write_text("")
    info = os.stat(other)
    out = tmp_path / "out.log"
    with out.open("wb") as handle:
        env = {**os.environ, "JOURNAL_STREAM": f"{info.st_dev}:{info.st_ino}"}
        subprocess.run([sys.executable, "-c", EMIT], stdout=handle, env=env, check=True,
                       timeout=60)
    assert all(line.startswith("{") for line in out.read_text().splitlines())


@pytest.fixture
def captured() -> Iterator[io.StringIO]:
    buf = io.StringIO()
    configure_logging(level="DEBUG", stream=buf, json=True, journal=False)
    yield buf
    configure_logging(level="INFO", stream=sys.stdout, json=True)


def _message() -> MessageProxy:
    return MessageProxy(Message(queue_name="poll", actor_name="poll",
                                args=("brand", "4890123456789012"), kwargs={}, options={}))


def _fail(error: BaseException) -> None:
    logger = logging.getLogger("dramatiq.worker.WorkerThread")
    try:
        raise error
    except BaseException:
        logger.error("Failed to process message %s with unhandled exception.", _message(),
                     exc_info=True)


def _lines(buf: io.StringIO) -> list[dict[str, object]]:
    return [json.loads(line) for line in buf.getvalue().splitlines()]


def test_a_failure_our_actor_raised_is_one_debug_line_without_traceback(
    captured: io.StringIO,
) -> None:
    _fail(TransientError("busy", platform="weibo", endpoint="comments/to_me/biz", code=-1))
    [line] = _lines(captured)
    assert line["event"] == "message_failed" and line["level"] == "debug"
    assert line["actor"] == "poll" and line["error"] == "TransientError"
    assert "exception" not in line
    assert "4890123456789012" not in json.dumps(line)  # ids, never the message's arguments


def test_an_unexpected_exception_stays_an_error_with_its_traceback(
    captured: io.StringIO,
) -> None:
    _fail(ZeroDivisionError("bug"))
    [line] = _lines(captured)
    assert line["event"] == "message_failed" and line["level"] == "error"
    assert line["message_id"] and line["error"] == "ZeroDivisionError"
    assert "ZeroDivisionError" in json.dumps(line["exception"])


def test_retries_exceeded_names_the_message(captured: io.StringIO) -> None:
    logging.getLogger("dramatiq.middleware.retries.Retries").warning(
        "Retries exceeded for message %r.", "6c9d0e"
    )
    [line] = _lines(captured)
    assert line == {**line, "event": "message_retries_exceeded", "message_id": "6c9d0e",
                    "level": "warning"}


def test_demoted_lines_are_dropped_below_the_level() -> None:
    buf = io.StringIO()
    configure_logging(level="INFO", stream=buf, json=True, journal=False)
    try:
        _fail(TransientError("busy", platform="weibo", endpoint="x", code=-1))
    finally:
        configure_logging(level="INFO", stream=sys.stdout, json=True)
    assert buf.getvalue() == ""


def test_a_logger_cached_under_one_configuration_follows_the_next(
    captured: io.StringIO,
) -> None:
    # cache_logger_on_first_use binds a logger for good on its first line; a later
    # configuration (another test's, or capture_logs) must still reach it, or tests that
    # capture logs pass or fail with the order they run in.
    log = structlog.get_logger("worker.test_logs.cached")
    log.info("first_line")
    later = io.StringIO()
    configure_logging(level="INFO", stream=later, json=True, journal=False)
    log.info("second_line")
    with structlog.testing.capture_logs() as seen:
        log.info("third_line", account="a")
    log.info("fourth_line")
    assert "first_line" in captured.getvalue() and "second_line" not in captured.getvalue()
    assert [json.loads(line)["event"] for line in later.getvalue().splitlines()] == [
        "second_line", "fourth_line"]
    assert [(e["event"], e["account"]) for e in seen] == [("third_line", "a")]
