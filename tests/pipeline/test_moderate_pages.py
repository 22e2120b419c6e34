"""The moderate actor decides a poll's page in one evaluation (``RuleSet.evaluate_many``), in
order: an offense recorded for one comment counts for the comments after it in the same page,
and a comment whose own evaluation fails is failed alone.

The real actors run in this process on a StubBroker, state in a real Redis, WeChat is the
sandbox over loopback HTTP.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import pytest
from dramatiq.brokers.stub import StubBroker

from tests.pipeline.wechat_runtime import ARTICLE, wechat_runtime
from worker.comment import Comment
from worker.pipeline.actors import Pipeline
from worker.pipeline.runtime import WorkerRuntime
from worker.redis_server import EmbeddedRedis
from worker.rules import Decision, RuleSet
from worker.sandbox import Sandbox

TARGET = f"{ARTICLE}:0"

RULES = """\
version: 1
rules:
  - id: spam
    when: {content: {includes: [加v]}}
    then: [delete]
  - id: repeat-offender
    when: {author: {offenses: {at_least: 1, within: 1d}}}
    then: [delete]
"""


@pytest.fixture
def runtime(
    tmp_path: Path, sandbox: Sandbox, redis_server: EmbeddedRedis, stub_actors: StubBroker
) -> Iterator[WorkerRuntime]:
    with wechat_runtime(tmp_path, sandbox, redis_server.url, rules=RULES) as rt:
        yield rt


def comment(cid: int, content: str, author: str) -> dict[str, Any]:
    return Comment(platform="wechat", id=str(cid), content=content, account="oa",
                   target=TARGET, author=author, created_at=1_700_000_000.0 + cid).to_dict()


def decisions(rt: WorkerRuntime) -> dict[str, dict[str, Any]]:
    return {str(r["comment_id"]): r for r in rt.audit.read(kind="decision", limit=100)}


def test_a_page_is_decided_in_one_evaluation_and_an_offense_counts_for_the_next_comment(
    runtime: WorkerRuntime, pipeline: Pipeline, evaluated_pages: list[int]
) -> None:
    page = [
        comment(1, "写得真好", "oOther"),
        comment(2, "加v：abc12345", "oSpammer"),
        comment(3, "你好呀", "oSpammer"),  # clean, but its author offended one comment earlier
        {"platform": "wechat", "id": "4"},  # unreadable: failed alone, not evaluated
        comment(5, "同意", "oOther"),
    ]
    pipeline.moderate("oa", TARGET, page)

    assert evaluated_pages == [4]
    records = decisions(runtime)
    assert [records[c]["rules"] for c in ("1", "2", "3", "5")] == [
        [], ["spam"], ["repeat-offender"], []]
    assert records["4"]["outcome"] == "failed"


def test_a_comment_whose_evaluation_fails_is_failed_alone_and_the_page_decided(
    runtime: WorkerRuntime, pipeline: Pipeline, monkeypatch: pytest.MonkeyPatch
) -> None:
    evaluate = RuleSet.evaluate

    def page_scan_fails(self: RuleSet, comments: Sequence[Comment], **kwargs: Any) -> Any:
        for _ in ():  # a generator, as evaluate_many is: it fails when first asked
            yield
        raise ValueError("the page's scan failed")

    def fails_on_poison(self: RuleSet, comment: Comment, **kwargs: Any) -> Decision:
        if "poison" in comment.content:
            raise ValueError("this comment's evaluation failed")
        return evaluate(self, comment, **kwargs)

    monkeypatch.setattr(RuleSet, "evaluate_many", page_scan_fails)
    monkeypatch.setattr(RuleSet, "evaluate", fails_on_poison)
    page = [comment(1, "加v：abc12345", "oA"), comment(2, "poison", "oB"),
            comment(3, "加v：zzz998877", "oC")]
    pipeline.moderate("oa", TARGET, page)

    records = decisions(runtime)
    assert records["1"]["rules"] == ["spam"] and "outcome" not in records["1"]
    assert records["2"]["outcome"] == "failed"
    assert records["2"]["detail"] == "ValueError: this comment's evaluation failed"
    assert records["3"]["rules"] == ["spam"] and "outcome" not in records["3"]
