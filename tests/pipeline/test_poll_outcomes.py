"""How poll outcomes are recorded and told (worker.pipeline.poll_outcomes), on a real Redis."""

from __future__ import annotations

import io
import json
import sys
from collections.abc import Iterator
from typing import Any

import pytest
import redis

from worker.errors import (
    AuthError,
    PermanentError,
    QuotaError,
    TargetGoneError,
    TransientError,
)
from worker.logs import configure_logging
from worker.pipeline.audit import AuditLog
from worker.pipeline.freshness import Freshness
from worker.pipeline.keys import Keys
from worker.pipeline.poll_outcomes import PollOutcomes, failure_reason
from worker.platforms.codes import W_STABLE_TOKEN

REVOKED = AuthError("invalid_access_token", platform="weibo", endpoint="comments/to_me/biz",
                    account="brand", code=21332)
WRONG_SECRET = PermanentError("invalid credential", platform="wechat", endpoint=W_STABLE_TOKEN,
                              account="main-oa", code=40001)


@pytest.fixture
def lines() -> Iterator[io.StringIO]:
    buf = io.StringIO()
    configure_logging(level="DEBUG", stream=buf, json=True, journal=False)
    yield buf
    configure_logging(level="INFO", stream=sys.stdout, json=True)


def _events(buf: io.StringIO) -> list[dict[str, Any]]:
    return [json.loads(line) for line in buf.getvalue().splitlines()]


def test_error_classes() -> None:
    assert failure_reason(REVOKED) == "credentials"
    assert failure_reason(WRONG_SECRET) == "credentials"
    assert failure_reason(TransientError("busy", platform="weibo", endpoint="x", code=-1)) \
        == "transient"
    assert failure_reason(QuotaError("quota", platform="wechat", endpoint="x", code=45009)) \
        == "quota"
    assert failure_reason(TargetGoneError("gone", platform="wechat", endpoint="x",
                                          code=88001)) == "gone"
    assert failure_reason(PermanentError("bad", platform="wechat", endpoint="comment/list",
                                         code=47001)) == "permanent"


def test_a_revoked_token_is_one_error_then_quiet_warnings_until_it_works_again(
    redis_client: redis.Redis, lines: io.StringIO,
) -> None:
    fresh = Freshness(redis=redis_client, keys=Keys())
    outcomes = PollOutcomes(fresh)
    outcomes.succeeded(account="brand", platform="weibo", target="42", new_comments=1,
                       duration_ms=3.0)
    for _ in range(3):
        outcomes.failed(account="brand", platform="weibo", target="42", error=REVOKED,
                        next_step="polled again at the next interval")
    events = _events(lines)
    errors = [e for e in events if e["level"] == "error"]
    assert [e["event"] for e in errors] == ["credentials_rejected"]
    assert errors[0]["account"] == "brand" and errors[0]["errcode"] == 21332
    failed = [e for e in events if e["event"] == "poll_failed"]
    assert len(failed) == 3 and {e["level"] for e in failed} == {"warning"}
    assert failed[-1] == {**failed[-1], "account": "brand", "target": "42",
                          "reason": "credentials", "error": "AuthError", "errcode": 21332,
                          "next": "polled again at the next interval",
                          "consecutive_failures": 3}
    [record] = fresh.targets()
    assert record.failures == 3 and record.last_ok is not None
    state = fresh.credential("brand")
    assert state is not None and state.status == "rejected"
    outcomes.succeeded(account="brand", platform="weibo", target="42", new_comments=0,
                       duration_ms=3.0)
    recovered = _events(lines)[-2]
    assert (recovered["event"], recovered["level"]) == ("credentials_accepted", "warning")


def test_a_retried_transient_failure_is_info(redis_client: redis.Redis,
                                            lines: io.StringIO) -> None:
    outcomes = PollOutcomes(Freshness(redis=redis_client, keys=Keys()))
    busy = TransientError("system busy", platform="wechat", endpoint="comment/list", code=-1)
    outcomes.failed(account="main-oa", platform="wechat", target="1:0", error=busy,
                    next_step="retried", retrying=True)
    [event] = _events(lines)
    assert (event["event"], event["level"], event["reason"]) == ("poll_failed", "info",
                                                                 "transient")


def test_the_audit_gets_failed_polls_and_those_with_news_not_idle_ones(
    redis_client: redis.Redis, lines: io.StringIO,
) -> None:
    audit = AuditLog(redis=redis_client)
    outcomes = PollOutcomes(Freshness(redis=redis_client, keys=Keys()), audit)
    def ok(new: int) -> None:
        outcomes.succeeded(account="brand", platform="weibo", target="42", new_comments=new,
                           duration_ms=1.0)

    ok(0)  # idle: not audited
    outcomes.failed(account="brand", platform="weibo", target="42", error=REVOKED,
                    next_step="polled again at the next interval")
    ok(0)  # ends a failure
    ok(2)  # found comments
    records = audit.read(kind="poll")
    assert [(r["outcome"], r.get("new_comments")) for r in records] == [
        ("ok", 2), ("ok", 0), ("failed", None)
    ]
    assert records[1]["detail"] == "after 1 failed poll(s)"
    assert records[2]["reason"] == "credentials" and records[2]["errcode"] == 21332
