"""The daemon's decision audit names what each rule matched in the original text, for the
matching v2 keys too (sounds_like, numerals, spaced-out words, look-alike letters, allow).

The real moderate actor runs in this process on a StubBroker; state is in a real Redis.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from dramatiq.brokers.stub import StubBroker

from tests.pipeline.wechat_runtime import TARGET, wechat_runtime
from worker.pipeline.actors import Pipeline
from worker.pipeline.runtime import WorkerRuntime
from worker.redis_server import EmbeddedRedis
from worker.sandbox import Sandbox

RULES = """\
version: 1
normalize: {numerals: true}
rules:
  - id: lure
    when:
      any:
        - content: {sounds_like: [微信], allow: [微信, 维新]}
        - content: {regex: ['1[3-9](?:[\\s.-]?\\d){9}']}
        - content: {includes_word: [vx, fuck]}
    then: [delete]
  - id: wave
    when: {content: {repeated: {at_least: 5, within: 1h}}}
    then: [delete]
"""


@pytest.fixture
def runtime(
    tmp_path: Path, sandbox: Sandbox, redis_server: EmbeddedRedis, redis_client: Any,
    stub_actors: StubBroker,
) -> Iterator[WorkerRuntime]:
    with wechat_runtime(tmp_path, sandbox, redis_server.url, rules=RULES) as rt:
        yield rt


def test_the_decision_audit_records_the_span_each_rule_matched(
    runtime: WorkerRuntime, pipeline: Pipeline
) -> None:
    texts = ["快加 维信 好友", "电话一三八〇〇一三八〇〇〇", "🅥🅧：abc", "f u c k you",
             "戊戌维新和微信", "今天天气不错"]
    page = [{"platform": "wechat", "id": str(i), "content": text, "account": "oa",
             "target": TARGET, "author": f"o{i:027d}", "created_at": 1_700_000_000.0}
            for i, text in enumerate(texts)]
    pipeline.moderate("oa", TARGET, page)

    records = {str(r["comment_id"]): r for r in runtime.audit.read(kind="decision", limit=100)}
    assert [records[str(i)].get("spans") for i in range(len(texts))] == [
        {"lure": [3, 5, "维信"]},
        {"lure": [2, 13, "一三八〇〇一三八〇〇〇"]},
        {"lure": [0, 2, "🅥🅧"]},
        {"lure": [0, 7, "f u c k"]},
        None,  # nothing matched: no spans computed
        None,
    ]
