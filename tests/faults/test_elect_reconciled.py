"""An elect whose earlier call may have reached WeChat unanswered is checked, not repeated.

WeChat answers ``markelect`` of an elected comment with a plain success, so a second call
cannot be told from a first. When a worker dies (or Redis goes away) between the call and the
done marker, the lease expires and a redelivery claims the action again; the fault suite saw
that elect called twice. ``act`` now marks such calls and, finding a mark, reads the comment's
state instead of calling again.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from dramatiq.brokers.stub import StubBroker

from tests.pipeline.daemon_harness import (
    APP_ID,
    APP_SECRET,
    ARTICLE_A,
    PRAISE,
    WEIBO_TOKEN,
    make_sandbox,
    ok_calls,
    write_config,
)
from worker.config import load_config
from worker.pipeline.actors import Pipeline
from worker.pipeline.actors.act import calling_key
from worker.pipeline.keys import ActionKey
from worker.pipeline.runtime import WorkerRuntime
from worker.platforms import WechatClient
from worker.redis_server import EmbeddedRedis
from worker.sandbox import Sandbox

pytestmark = pytest.mark.faults

TARGET = f"{ARTICLE_A}:0"


@pytest.fixture
def setup(tmp_path: Path) -> Iterator[tuple[Sandbox, Pipeline, str]]:
    """A sandbox with one praise comment, a Redis, and a WorkerRuntime the actors run with."""
    with EmbeddedRedis(state_dir=tmp_path / "redis", appendonly=False) as server, \
            make_sandbox() as sandbox:
        cid = sandbox.add_wechat_comment(APP_ID, ARTICLE_A, 0, content=PRAISE, openid="oFan1")
        config = load_config(
            write_config(tmp_path, sandbox.url, redis_url=server.url),
            environ={**os.environ, "TEST_WX_SECRET": APP_SECRET, "TEST_WB_TOKEN": WEIBO_TOKEN},
        )
        runtime = WorkerRuntime(config=config, redis_url=server.url)
        try:
            yield sandbox, Pipeline(StubBroker(), runtime), str(cid)
        finally:
            runtime.close()


def mark_calling(runtime: WorkerRuntime, cid: str) -> None:
    """What a call that died unanswered leaves behind (its lease long expired)."""
    key = ActionKey(platform="wechat", account="oa", target=TARGET, comment=cid, action="elect")
    runtime.redis.set(calling_key(runtime, key), "1")


def test_a_call_that_reached_the_platform_unanswered_is_not_repeated(
    setup: tuple[Sandbox, Pipeline, str],
) -> None:
    sandbox, pipeline, cid = setup
    runtime = pipeline.runtime
    client = runtime.client("oa")
    assert isinstance(client, WechatClient)
    client.elect(TARGET, cid)  # the earlier call: it took effect, its answer reached nobody
    mark_calling(runtime, cid)

    pipeline.act("oa", TARGET, cid, "elect", None, "praise")

    assert len(ok_calls(sandbox, "comment/markelect")) == 1, "elect called a second time"
    key = ActionKey(platform="wechat", account="oa", target=TARGET, comment=cid, action="elect")
    done = runtime.ledger.get_done(key)
    assert done is not None and done.outcome == "already_done"


def test_a_call_that_never_reached_the_platform_is_made(
    setup: tuple[Sandbox, Pipeline, str],
) -> None:
    sandbox, pipeline, cid = setup
    runtime = pipeline.runtime
    mark_calling(runtime, cid)  # the earlier attempt died before its request left

    pipeline.act("oa", TARGET, cid, "elect", None, "praise")

    assert len(ok_calls(sandbox, "comment/markelect")) == 1
    assert sandbox.wechat_comment(APP_ID, ARTICLE_A, 0, int(cid))["elected"]


def test_a_first_elect_calls_without_reading_the_state(
    setup: tuple[Sandbox, Pipeline, str],
) -> None:
    sandbox, pipeline, cid = setup
    runtime = pipeline.runtime

    pipeline.act("oa", TARGET, cid, "elect", None, "praise")

    assert len(ok_calls(sandbox, "comment/markelect")) == 1
    assert sandbox.calls("comment/list") == [], "no listing when no earlier call is in doubt"
    key = ActionKey(platform="wechat", account="oa", target=TARGET, comment=cid, action="elect")
    assert not runtime.redis.exists(calling_key(runtime, key)), (
        "the mark goes once the done marker is written"
    )
