"""The daemon's moderate actor with shadow rules: enforcement as if they did not exist, their
hits after an enforced stop audited and counted as after_stop (rules-spec.md v1.2).

The real actors run in this process on a StubBroker, state in a real Redis, WeChat is the
sandbox over loopback HTTP.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from dramatiq.brokers.stub import StubBroker

from tests.pipeline.wechat_runtime import APP, ARTICLE, wechat_runtime
from worker.pipeline.actors import Pipeline
from worker.pipeline.runtime import WorkerRuntime
from worker.redis_server import EmbeddedRedis
from worker.sandbox import Sandbox

RULES = """\
version: 1
rules:
  - id: trial-stop
    priority: 100
    mode: shadow
    when: {content: {includes: [加v]}}
    then: [delete]
    stop: true
  - id: spam
    priority: 50
    when: {content: {includes: [加v]}}
    then: [delete]
    stop: true
  - id: trial-below
    mode: shadow
    when: {content: {includes: [领福利]}}
    then: [blacklist]
"""


@pytest.fixture
def runtime(
    tmp_path: Path, sandbox: Sandbox, redis_server: EmbeddedRedis, stub_actors: StubBroker
) -> Iterator[WorkerRuntime]:
    with wechat_runtime(tmp_path, sandbox, redis_server.url, rules=RULES) as rt:
        yield rt


def test_a_shadow_stop_leaves_the_spam_rule_acting_and_later_shadow_hits_are_marked(
    runtime: WorkerRuntime, pipeline: Pipeline, sandbox: Sandbox, stub_actors: StubBroker
) -> None:
    comment_id = sandbox.add_wechat_comment(APP, ARTICLE, content="加v：abc 领福利", openid="oA")
    pipeline.poll("oa", f"{ARTICLE}:0")
    queue = stub_actors.queues["moderate"]
    while not queue.empty():
        pipeline.moderate(*json.loads(queue.get_nowait())["args"])

    acts = [json.loads(m)["args"] for m in list(stub_actors.queues["act"].queue)]
    assert [(a[2], a[3], a[5]) for a in acts] == [(str(comment_id), "delete", "spam")]
    (decision,) = runtime.audit.read(kind="decision", limit=10)
    assert decision["rules"] == ["trial-stop", "spam"]  # trial-stop ended no enforced rule
    assert "after_stop" not in decision  # and trial-below, a shadow rule, after it
    stats = runtime.stats.snapshot()["rules"]
    assert stats["spam"]["hits"]["enforce"] == 1
    assert stats["trial-stop"]["hits"]["shadow"] == 1


def test_shadow_hits_after_an_enforced_stop_are_audited_and_counted(
    runtime: WorkerRuntime, pipeline: Pipeline, sandbox: Sandbox, stub_actors: StubBroker,
    tmp_path: Path,
) -> None:
    (tmp_path / "rules.yaml").write_text(
        RULES.replace("    stop: true\n  - id: spam", "  - id: spam", 1), encoding="utf-8")
    runtime.rules.request_reload()
    sandbox.add_wechat_comment(APP, ARTICLE, content="加v：abc 领福利", openid="oA")
    pipeline.poll("oa", f"{ARTICLE}:0")
    queue = stub_actors.queues["moderate"]
    while not queue.empty():
        pipeline.moderate(*json.loads(queue.get_nowait())["args"])

    (decision,) = runtime.audit.read(kind="decision", limit=10)
    assert decision["rules"] == ["trial-stop", "spam", "trial-below"]
    assert decision["after_stop"] == ["trial-below"]
    assert {"type": "blacklist", "rule": "trial-below", "mode": "shadow",
            "after_stop": True} in decision["actions"]
    stats = runtime.stats.snapshot()["rules"]
    assert stats["trial-below"]["hits"]["shadow"] == 1
    assert stats["trial-below"]["after_stop"] == 1
