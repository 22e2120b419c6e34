"""An article listing more comments than the seen set's size cap is not re-listed every poll."""

from __future__ import annotations

from pathlib import Path

import pytest
from dramatiq.brokers.stub import StubBroker

from tests.pipeline.test_poll import APP, sent_comment_ids
from tests.pipeline.wechat_runtime import write_rules
from worker.config import AccountConfig, Config, PollingConfig, Secret, WechatTarget
from worker.pipeline.actors import Pipeline
from worker.pipeline.runtime import WorkerRuntime
from worker.redis_server import EmbeddedRedis
from worker.sandbox import Sandbox

COMMENTS = 25_000  # above SeenComments' default max_entries (20,000)


@pytest.mark.parametrize("order", ["newest", "oldest"])
def test_an_incremental_poll_with_nothing_new_lists_at_most_two_pages(
    order: str, redis_server: EmbeddedRedis, stub_actors: StubBroker, tmp_path: Path
) -> None:
    with Sandbox(port=0) as sandbox:
        sandbox.faults.wechat_list_order = order
        sandbox.add_wechat_app(app_id=APP, app_secret="poll-secret-123")
        sandbox.add_article(APP, msg_data_id=100, index=0)
        for i in range(COMMENTS):
            sandbox.add_wechat_comment(APP, 100, 0, content=f"留言 {i}", openid=f"o{i}")
        account = AccountConfig(
            name="oa", platform="wechat", app_id=APP, app_secret=Secret("poll-secret-123"),
            api_base=sandbox.url, targets=(WechatTarget(msg_data_id=100),),
        )
        polling = PollingConfig(full_pass_interval=3600)
        config = Config(accounts=(account,), polling=polling, rules=(write_rules(tmp_path),))
        runtime = WorkerRuntime(config=config, redis_url=redis_server.url)
        pipeline = Pipeline(stub_actors, runtime)
        try:
            pipeline.poll("oa", "100:0")  # the first poll is a full pass
            assert len(set(sent_comment_ids(stub_actors))) == COMMENTS
            lists_before = len(sandbox.calls("comment/list"))
            pipeline.poll("oa", "100:0")
            assert sent_comment_ids(stub_actors) == []  # nothing moderated again
            assert len(sandbox.calls("comment/list")) - lists_before <= 2
        finally:
            runtime.close()
