"""One bad comment does not poison its page: text cleaned at parse time, failures isolated per
comment in ``moderate``.

The real actors run in this process on a StubBroker; state is in a real Redis and the
platform is the sandbox over loopback HTTP.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import redis
from dramatiq.brokers.stub import StubBroker

from tests.pipeline.wechat_runtime import APP, ARTICLE, TARGET, wechat_runtime
from worker.commands.audit import audit_row
from worker.pipeline.actors import Pipeline
from worker.pipeline.runtime import WorkerRuntime
from worker.sandbox import Sandbox

CUT_EMOJI = "\ud83d"  # the first half of 😀: what UTF-16 truncation leaves


def comment(cid: int, content: str, **fields: Any) -> dict[str, Any]:
    return {"platform": "wechat", "id": str(cid), "content": content, "account": "oa",
            "target": TARGET, "author": f"o{cid:027d}", "created_at": 1_700_000_000.0,
            **fields}


def act_messages(broker: StubBroker) -> list[list[Any]]:
    return [json.loads(m)["args"] for m in list(broker.queues["act"].queue)]


def decisions(rt: WorkerRuntime) -> dict[str, dict[str, Any]]:
    return {str(r["comment_id"]): r for r in rt.audit.read(kind="decision", limit=100)}


def test_a_comment_that_cannot_be_stored_is_failed_and_the_rest_of_its_page_goes_on(
    runtime: WorkerRuntime, pipeline: Pipeline, stub_actors: StubBroker
) -> None:
    # A page sent before text was cleaned at parse time (still queued at an upgrade), and an
    # entry without content: each is given up alone, with its reason.
    page = [
        comment(1, "加v：abc12345 first"),
        comment(2, f"cut emoji {CUT_EMOJI}"),
        {"platform": "wechat", "id": "3"},
        comment(4, "加v：zzz998877 after the bad ones"),
        comment(5, "写得真好"),
    ]
    pipeline.moderate("oa", TARGET, page)

    records = decisions(runtime)
    assert sorted(records) == ["1", "2", "3", "4", "5"]
    assert records["2"]["outcome"] == "failed"
    assert "UnicodeEncodeError" in records["2"]["detail"]
    assert records["3"]["outcome"] == "failed"
    assert records["3"]["detail"] == "CommentFormatError: no 'content'"
    # the CLI row
    assert audit_row(records["3"])[-3:] == ["failed", "", "CommentFormatError: no 'content'"]
    assert records["1"]["rules"] == ["spam"] and records["4"]["rules"] == ["spam"]
    assert records["5"]["rules"] == [] and "outcome" not in records["5"]
    assert [(args[2], args[3]) for args in act_messages(stub_actors)] == [
        ("1", "delete"), ("4", "delete"),
    ]


def test_a_failed_record_is_told_against_its_own_comment_not_the_next_match(
    runtime: WorkerRuntime, pipeline: Pipeline, stub_actors: StubBroker
) -> None:
    # The unstorable record is queued with clean ones and sent when a later comment matches:
    # only its own comment is given up; the matching one still acts.
    page = [comment(1, "写得真好"), comment(2, f"{CUT_EMOJI} hmm"), comment(3, "加v：abc12345")]
    pipeline.moderate("oa", TARGET, page)

    records = decisions(runtime)
    assert [records[c].get("outcome") for c in ("1", "2", "3")] == [None, "failed", None]
    assert [(args[2], args[3]) for args in act_messages(stub_actors)] == [("3", "delete")]


def test_a_lone_surrogate_from_the_platform_is_replaced_and_its_page_moderated(
    runtime: WorkerRuntime, pipeline: Pipeline, sandbox: Sandbox, stub_actors: StubBroker
) -> None:
    sandbox.add_wechat_comment(APP, ARTICLE, content=f"加v：abc12345 {CUT_EMOJI}",
                               openid="oCutEmoji")
    sandbox.add_wechat_comment(APP, ARTICLE, content="whole emoji \U0001f600 stays",
                               openid="oWhole")
    spam = sandbox.add_wechat_comment(APP, ARTICLE, content="加v：zzz998877", openid="oSpam")

    pipeline.poll("oa", TARGET)
    queue = stub_actors.queues["moderate"]
    while not queue.empty():
        pipeline.moderate(*json.loads(queue.get_nowait())["args"])

    contents = sorted(r["content"] for r in decisions(runtime).values())
    assert contents == ["whole emoji \U0001f600 stays", "加v：abc12345 \ufffd", "加v：zzz998877"]
    assert all("outcome" not in r for r in decisions(runtime).values())
    assert str(spam) in {args[2] for args in act_messages(stub_actors)}


def test_redis_unreachable_fails_the_whole_message_for_a_retry_not_each_comment(
    tmp_path: Path, sandbox: Sandbox, stub_actors: StubBroker
) -> None:
    with (wechat_runtime(tmp_path, sandbox, "redis://127.0.0.1:1/0") as rt,  # nothing listens
          pytest.raises(redis.ConnectionError)):
        Pipeline(stub_actors, rt).moderate(
            "oa", TARGET, [comment(1, "加v：abc12345"), comment(2, "写得真好")]
        )


def test_a_page_that_fills_the_batch_buffer_sends_a_flush_message(
    runtime: WorkerRuntime, pipeline: Pipeline, stub_actors: StubBroker
) -> None:
    pipeline.moderate("oa", TARGET, [comment(i, f"加v：abc{i}") for i in range(1, 20)])
    assert runtime.buffer("oa").pending_count() == 19
    assert "flush" not in stub_actors.queues or stub_actors.queues["flush"].empty()
    pipeline.moderate("oa", TARGET, [comment(20, "加v：abc20"), comment(21, "写得真好")])
    assert runtime.buffer("oa").pending_count() == 20
    assert [json.loads(m)["args"] for m in stub_actors.queues["flush"].queue] == [["oa"]]
