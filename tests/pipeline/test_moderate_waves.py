"""The moderate actor with a wave rule and notify: earlier members acted on once, notify
entries queued for the digest (marked under dry_run and for shadow rules).

The real actors run in this process on a StubBroker, state in a real Redis, WeChat is the
sandbox over loopback HTTP.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from dramatiq.brokers.stub import StubBroker

from tests.pipeline.wechat_runtime import APP, ARTICLE, wechat_runtime, wechat_sandbox
from worker.config import NotifyChannel, NotifyConfig, Secret
from worker.pipeline.actors import Pipeline
from worker.pipeline.runtime import WorkerRuntime
from worker.redis_server import EmbeddedRedis
from worker.sandbox import Sandbox

AD = "加微信领取免费资料，限时优惠快来看看吧"

RULES = """\
version: 1
rules:
  - id: wave
    when: {content: {repeated: {at_least: 3, within: 1h}}}
    then: [delete, {notify: mods}]
  - id: trial
    mode: shadow
    when: {content: {includes: [领取免费]}}
    then: [delete, {notify: mods}]
"""


@pytest.fixture(params=[False, True], ids=["enforced", "dry_run"])
def runtime(
    request: pytest.FixtureRequest, tmp_path: Path, sandbox: Sandbox,
    redis_server: EmbeddedRedis, stub_actors: StubBroker,
) -> Iterator[WorkerRuntime]:
    mods = NotifyChannel(name="mods", type="webhook", url=Secret(f"{sandbox.url}/hook/mods"))
    with wechat_runtime(tmp_path, sandbox, redis_server.url, rules=RULES, dry_run=request.param,
                        notify=NotifyConfig(channels=(mods,))) as rt:
        yield rt


@pytest.fixture
def sandbox() -> Iterator[Sandbox]:
    with wechat_sandbox() as box:
        box.robots.add("webhook", "mods")
        yield box


def _moderate_all(pipeline: Pipeline, stub_actors: StubBroker) -> None:
    pipeline.poll("oa", f"{ARTICLE}:0")
    queue = stub_actors.queues["moderate"]
    while not queue.empty():
        pipeline.moderate(*json.loads(queue.get_nowait())["args"])


def test_a_wave_acts_on_its_earlier_members_once_and_tells_the_channel(
    runtime: WorkerRuntime, pipeline: Pipeline, sandbox: Sandbox, stub_actors: StubBroker
) -> None:
    ids = [sandbox.add_wechat_comment(APP, ARTICLE, content=AD + "!" * i, openid=f"oW{i}")
           for i in range(2)]
    _moderate_all(pipeline, stub_actors)
    ids.append(sandbox.add_wechat_comment(APP, ARTICLE, content="~" + AD, openid="oW2"))
    ids.append(sandbox.add_wechat_comment(APP, ARTICLE, content=AD + "😀", openid="oW3"))
    _moderate_all(pipeline, stub_actors)

    waves = runtime.audit.read(kind="wave", limit=10)
    assert len(waves) == 2 and len({w["wave"] for w in waves}) == 1
    assert {int(w["comment_id"]) for w in waves} == set(ids[:2])
    acts = [json.loads(m)["args"] for m in list(stub_actors.queues["act"].queue)]
    if runtime.config.dry_run:
        assert acts == []
    else:  # each copy deleted once: two as the wave's earlier members, two on their own
        assert sorted(int(a[2]) for a in acts if a[3] == "delete") == sorted(ids)

    runtime.notifier.flush_due(force=True)
    (message,) = sandbox.robots.get("webhook", "mods").received
    text = message["body"]["text"]
    mark = " [dry_run: nothing was changed]" if runtime.config.dry_run else ""
    assert f"**wave**: 4 comments{mark}\n" in text
    # A comment is told once a channel, for the first rule that asks (enforced first): the
    # shadow rule tells only the two copies the wave rule had not matched yet.
    assert "**trial**: 2 comments [shadow rule: nothing was changed]\n" in text
    entries = message["body"]["entries"]
    assert {e["wave"] for e in entries if e["rule"] == "wave"} >= {waves[0]["wave"], None}


@pytest.mark.parametrize("enabled", [False, True], ids=["as_shipped", "switched_on"])
def test_disabled_wave_rules_record_no_comment_in_the_wave_state(
    enabled: bool, tmp_path: Path, sandbox: Sandbox, redis_server: EmbeddedRedis,
    redis_client: Any, stub_actors: StubBroker, repo_root: Path,
) -> None:
    """rules/waves.yaml as shipped (its rules off) beside an enforced rule: the daemon's
    moderation keeps nothing of the account's comments for them; switched on, it does."""
    rules = (repo_root / "rules" / "waves.yaml").read_text(encoding="utf-8") + """
  - id: trial
    when: {content: {includes: [领取免费]}}
    then: [delete]
"""
    if enabled:
        rules = rules.replace("enabled: false", "enabled: true")
    mods = NotifyConfig(channels=(NotifyChannel(name="moderators", type="webhook",
                                                url=Secret(f"{sandbox.url}/hook/mods")),))
    with wechat_runtime(tmp_path, sandbox, redis_server.url, rules=rules, notify=mods) as rt:
        for i in range(3):
            sandbox.add_wechat_comment(APP, ARTICLE, content=f"{AD}{i}", openid=f"oD{i}")
        _moderate_all(Pipeline(stub_actors, rt), stub_actors)
        assert len(rt.audit.read(kind="decision", limit=10)) == 3  # the page was decided
        recorded = list(redis_client.scan_iter(match=f"{rt.keys.prefix}:wave:*"))
    assert bool(recorded) == enabled, recorded
