from __future__ import annotations

import datetime
import enum
import json
import time
from typing import Any

import pytest
import redis

from tests.pipeline.conftest import FakeClock
from worker.pipeline.audit import AuditLog
from worker.pipeline.keys import Keys
from worker.platform_specs import Action


@pytest.fixture
def audit(redis_client: redis.Redis, clock: FakeClock) -> AuditLog:
    return AuditLog(redis=redis_client, clock=clock)


def decision(comment_id: str, account: str = "main", rules: list[str] | None = None,
             actions: list[Any] | None = None) -> dict[str, Any]:
    return {
        "kind": "decision", "platform": "wechat", "account": account, "target": "1:0",
        "comment_id": comment_id, "rules": rules or ["spam"],
        "actions": actions if actions is not None else [{"type": "delete"}],
    }


def action(comment_id: str, act: str, outcome: str, account: str = "main",
           rule: str = "spam", **extra: Any) -> dict[str, Any]:
    return {
        "kind": "action", "platform": "wechat", "account": account, "target": "1:0",
        "comment_id": comment_id, "rule": rule, "action": act, "outcome": outcome,
        "attempt": 1, **extra,
    }


def test_round_trip_newest_first(audit: AuditLog, clock: FakeClock) -> None:
    audit.append(decision("1"))
    audit.append(action("1", "delete", "ok", errcode=None, detail={"note": "删除"}))
    records = audit.read()
    assert [r["kind"] for r in records] == ["action", "decision"]
    newest = records[0]
    assert newest["detail"] == {"note": "删除"}
    assert newest["errcode"] is None and newest["attempt"] == 1
    assert newest["ts"] == clock.now
    assert "stream_id" in newest
    assert records[1]["actions"] == [{"type": "delete"}]


def test_chinese_stays_readable_in_the_stream(
    audit: AuditLog, redis_client: redis.Redis
) -> None:
    audit.append(action("1", "reply", "ok", detail="感谢留言"))
    [(_, fields)] = redis_client.xrange(Keys().audit()) or []
    assert fields is not None
    assert "感谢留言".encode() in fields[b"detail"]


class Colour(enum.Enum):
    RED = 1


def test_every_value_reads_back_as_the_standard_library_wrote_it(audit: AuditLog) -> None:
    values: dict[str, Any] = {
        "text": "感谢留言 \"quoted\" \n\t\x00 \U0001f600", "whole": 7, "huge": 2**70,
        "float": 1e16, "nan": float("nan"), "inf": float("-inf"), "yes": True, "none": None,
        "list": [1, "二", [None, 2.5]], "nested": {"a": {"b": [False]}}, "int_keys": {1: "x"},
        "tuple": (1, 2), "enum": Colour.RED, "str_enum": Action.DELETE,
        "when": datetime.datetime(2024, 1, 2, 3, 4, 5), "empty": [],
    }
    audit.append({"kind": "decision", **values})
    [record] = audit.read()
    for name, value in values.items():
        expected = json.loads(json.dumps(value, ensure_ascii=False, default=str))
        assert json.dumps(record[name]) == json.dumps(expected), name


def test_a_record_redis_cannot_store_is_refused_when_encoded(
    audit: AuditLog, redis_client: redis.Redis
) -> None:
    with pytest.raises(UnicodeEncodeError):
        audit.encode(decision("1") | {"content": "cut \ud83d"})
    fields = audit.encode(decision("2"))
    assert audit.length() == 0
    audit.append_encoded(fields)
    assert [r["comment_id"] for r in audit.read()] == ["2"]


def test_filters(audit: AuditLog) -> None:
    audit.append(decision("1", rules=["spam", "ads"], actions=[{"type": "delete"}]))
    audit.append(decision("2", account="other", rules=["abuse"],
                          actions=[{"type": "blacklist"}, {"type": "delete"}]))
    audit.append(action("1", "delete", "ok"))
    audit.append(action("2", "blacklist", "failed", account="other", rule="abuse", errcode=40003))
    audit.append(action("2", "delete", "already_done", account="other", rule="abuse"))
    audit.append(decision("3", rules=["spam"], actions=[]))

    def cids(**filters: Any) -> list[str]:
        return [r["comment_id"] for r in audit.read(**filters)]

    assert cids(account="other") == ["2", "2", "2"]
    assert cids(rule="ads") == ["1"]
    assert cids(rule="abuse") == ["2", "2", "2"]
    assert cids(rule="spam") == ["3", "1", "1"]
    assert cids(action="blacklist") == ["2", "2"]
    assert cids(action="delete", kind="action") == ["2", "1"]
    assert cids(outcome="failed") == ["2"]
    assert cids(outcome="ok", account="other") == []
    assert cids(kind="decision", limit=2) == ["3", "2"]
    assert audit.read(outcome="failed")[0]["errcode"] == 40003


def test_time_window(audit: AuditLog) -> None:
    for i in range(5):
        audit.append(decision(str(i)))
    records = audit.read()
    stamps = [int(r["stream_id"].split("-")[0]) for r in records]
    mid = stamps[2]
    since = audit.read(since=mid / 1000)
    assert all(int(r["stream_id"].split("-")[0]) >= mid for r in since)
    assert len(since) == sum(1 for s in stamps if s >= mid)
    until = audit.read(until=mid / 1000)
    assert len(until) == sum(1 for s in stamps if s <= mid)
    assert audit.read(since=(stamps[0] + 1) / 1000) == []


def test_read_pages_through_many_records(audit: AuditLog) -> None:
    for i in range(1200):
        audit.append(decision(str(i), account="a" if i % 2 else "b"))
    got = audit.read(account="b", limit=1000)
    assert len(got) == 600
    assert [r["comment_id"] for r in got[:3]] == ["1198", "1196", "1194"]
    assert got[-1]["comment_id"] == "0"


def test_records_older_than_the_retention_are_dropped_however_many(
    redis_client: redis.Redis,
) -> None:
    # By age, not by count: 150,000 records a day are all kept for the retention period, and
    # a record past it goes (exact trimming here; in production whole nodes at a time).
    audit = AuditLog(redis=redis_client, retention=1.0, approximate=False)
    for i in range(300):
        audit.append(decision(str(i)))
    assert audit.length() == 300
    time.sleep(1.2)  # the newest of them is now past the retention
    audit.append(decision("new"))
    assert [r["comment_id"] for r in audit.read()] == ["new"]
    assert AuditLog(redis=redis_client).retention == 7 * 86400


def test_invalid_records_are_refused(audit: AuditLog) -> None:
    with pytest.raises(ValueError):
        audit.append({"kind": "other"})
    with pytest.raises(ValueError):
        audit.append(action("1", "delete", "great"))
    assert audit.length() == 0
