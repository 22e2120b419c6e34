"""The poll actor against the sandbox: listing pages while comments disappear under it."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from dramatiq.brokers.stub import StubBroker

from tests.pipeline.wechat_runtime import write_rules
from worker.config import AccountConfig, Config, PollingConfig, Secret, WechatTarget
from worker.pipeline.actors import Pipeline
from worker.pipeline.runtime import WorkerRuntime
from worker.platforms import WechatClient
from worker.redis_server import EmbeddedRedis
from worker.sandbox import Sandbox

APP = "wxpolltest"


def sent_comment_ids(broker: StubBroker) -> list[str]:
    ids: list[str] = []
    queue = broker.queues["moderate"]
    while not queue.empty():
        message = json.loads(queue.get_nowait())
        ids.extend(comment["id"] for comment in message["args"][2])
    return ids


def test_deletes_between_pages_do_not_make_the_poll_skip_comments(
    redis_server: EmbeddedRedis, stub_actors: StubBroker, tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    with Sandbox(port=0) as sandbox:
        sandbox.add_wechat_app(app_id=APP, app_secret="poll-secret-123")
        sandbox.add_article(APP, msg_data_id=100, index=0)
        all_ids = [
            sandbox.add_wechat_comment(APP, 100, 0, content=f"留言 {i}", openid=f"o{i:027d}")
            for i in range(120)
        ]
        account = AccountConfig(
            name="oa", platform="wechat", app_id=APP, app_secret=Secret("poll-secret-123"),
            api_base=sandbox.url, targets=(WechatTarget(msg_data_id=100),),
        )
        config = Config(accounts=(account,), polling=PollingConfig(page_size=10),
                        rules=(write_rules(tmp_path),))
        runtime = WorkerRuntime(config=config, redis_url=redis_server.url)
        pipeline = Pipeline(stub_actors, runtime)
        client = runtime.client("oa")
        assert isinstance(client, WechatClient)
        list_comments = client.list_comments

        deleted: set[int] = set()

        def listing_while_we_delete(target: Any, **kwargs: Any) -> Any:
            # Before each page, 4 comments already sent for moderation disappear, as our own
            # deletes make them do while the poll goes on.
            queued = [json.loads(m) for m in list(stub_actors.queues["moderate"].queue)]
            sent = [int(c["id"]) for m in queued for c in m["args"][2]]
            for cid in [c for c in sent if c not in deleted][:4]:
                sandbox.user_delete_comment(APP, 100, 0, cid)
                deleted.add(cid)
            return list_comments(target, **kwargs)

        monkeypatch.setattr(client, "list_comments", listing_while_we_delete)
        try:
            pipeline.poll("oa", "100:0")
        finally:
            runtime.close()
        sent = sent_comment_ids(stub_actors)
        assert sorted(int(i) for i in set(sent)) == sorted(all_ids)
        assert len(sent) == len(set(sent))
        assert len(deleted) > 40  # the list really shifted under the poll


@pytest.mark.parametrize("order", ["newest", "oldest"])
def test_between_full_passes_only_the_new_end_is_read_whichever_it_is(
    order: str, redis_server: EmbeddedRedis, stub_actors: StubBroker, tmp_path: Path
) -> None:
    # WeChat does not document comment/list's order (api-notes §1.4): both must work.
    with Sandbox(port=0) as sandbox:
        sandbox.faults.wechat_list_order = order
        sandbox.add_wechat_app(app_id=APP, app_secret="poll-secret-123")
        sandbox.add_article(APP, msg_data_id=100, index=0)
        old = [sandbox.add_wechat_comment(APP, 100, 0, content=f"留言 {i}", openid=f"o{i}")
               for i in range(120)]
        account = AccountConfig(
            name="oa", platform="wechat", app_id=APP, app_secret=Secret("poll-secret-123"),
            api_base=sandbox.url, targets=(WechatTarget(msg_data_id=100),),
        )
        polling = PollingConfig(page_size=10, full_pass_interval=3600)
        config = Config(accounts=(account,), polling=polling, rules=(write_rules(tmp_path),))
        runtime = WorkerRuntime(config=config, redis_url=redis_server.url)
        pipeline = Pipeline(stub_actors, runtime)
        try:
            pipeline.poll("oa", "100:0")  # the first poll is a full pass
            assert sorted(int(i) for i in sent_comment_ids(stub_actors)) == sorted(old)
            lists_before = len(sandbox.calls("comment/list"))
            new = [sandbox.add_wechat_comment(APP, 100, 0, content=f"新留言 {i}",
                                              openid=f"n{i}") for i in range(15)]
            pipeline.poll("oa", "100:0")
            assert sorted(int(i) for i in sent_comment_ids(stub_actors)) == sorted(new)
            # Not every page again: the new end and one page that shows where the known begin.
            assert len(sandbox.calls("comment/list")) - lists_before <= 3
        finally:
            runtime.close()
