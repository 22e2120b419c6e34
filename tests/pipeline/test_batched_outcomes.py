"""Batched actions (WeChat blacklist, Weibo destroy) told against the rule and comment that
asked for them, and a disabled batched action that calls the platform no more.

The real actors run in this process on a StubBroker: ``poll`` and ``moderate`` are called with
the messages they would have received, ``flush`` sends the batches; state is in a real Redis
and the platforms are the sandbox over loopback HTTP.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from dramatiq.brokers.stub import StubBroker

from worker.config import (
    AccountConfig,
    ActionsConfig,
    Config,
    Secret,
    WechatTarget,
    WeiboTarget,
)
from worker.pipeline.actors import DISABLED_DETAIL, Pipeline
from worker.pipeline.runtime import WorkerRuntime
from worker.redis_server import EmbeddedRedis
from worker.sandbox import Sandbox

APP = "wxbatchoutcomes"
SECRET = "batch-outcomes-secret"
WB_TOKEN = "2.00batch-outcomes-token"
ARTICLE = 300
STATUS = 4_900_000_000_000_001

RULES = """\
version: 1
rules:
  - id: wx-spam
    platforms: [wechat]
    when:
      content:
        includes: [加v]
    then: [delete, blacklist]
  - id: wb-spam
    platforms: [weibo]
    when:
      content:
        includes: [加v]
    then: [delete]
"""


@pytest.fixture
def sandbox() -> Iterator[Sandbox]:
    with Sandbox(port=0) as box:
        box.add_wechat_app(app_id=APP, app_secret=SECRET)
        box.add_article(APP, msg_data_id=ARTICLE, index=0)
        box.add_weibo_token(access_token=WB_TOKEN, uid=1001)
        box.add_weibo_post(WB_TOKEN, status_id=STATUS)
        yield box


@pytest.fixture
def runtime(
    tmp_path: Path, sandbox: Sandbox, redis_server: EmbeddedRedis, stub_actors: StubBroker
) -> Iterator[WorkerRuntime]:
    rules = tmp_path / "rules.yaml"
    rules.write_text(RULES, encoding="utf-8")
    config = Config(
        rules=(rules,),
        actions=ActionsConfig(batch_max_wait=0.0),
        accounts=(
            AccountConfig(name="oa", platform="wechat", app_id=APP, app_secret=Secret(SECRET),
                          api_base=sandbox.url, targets=(WechatTarget(msg_data_id=ARTICLE),)),
            AccountConfig(name="wb", platform="weibo", access_token=Secret(WB_TOKEN),
                          api_base=sandbox.url, targets=(WeiboTarget(status_id=STATUS),)),
        ),
    )
    rt = WorkerRuntime(config=config, redis_url=redis_server.url)
    yield rt
    rt.close()


def poll_and_moderate(pipeline: Pipeline, account: str, target: str) -> None:
    """One poll, then every moderate message it sent (act and flush messages stay queued)."""
    broker = pipeline.actors.poll.broker
    pipeline.poll(account, target)
    queue = broker.queues["moderate"]
    while not queue.empty():
        message = json.loads(queue.get_nowait())
        pipeline.moderate(*message["args"])


def batched_records(rt: WorkerRuntime, action: str) -> list[dict[str, Any]]:
    records = rt.audit.read(kind="action", action=action, limit=1000)
    return sorted(records, key=lambda r: (str(r.get("openid")), str(r["comment_id"])))


def test_batched_outcomes_name_their_rule_and_comment(
    runtime: WorkerRuntime, pipeline: Pipeline, sandbox: Sandbox, stub_actors: StubBroker
) -> None:
    first_a = sandbox.add_wechat_comment(APP, ARTICLE, content="加v：abc12345 领福利",
                                         openid="oA")
    second_a = sandbox.add_wechat_comment(APP, ARTICLE, content="加v：abc12345 再说一次",
                                          openid="oA")
    first_b = sandbox.add_wechat_comment(APP, ARTICLE, content="加v：zzz998877", openid="oB")
    sandbox.add_wechat_comment(APP, ARTICLE, content="写得真好", openid="oC")
    spam_weibo = [sandbox.add_weibo_comment(STATUS, text=f"加v：wb{i}", uid=7000 + i)
                  for i in range(2)]
    # Newest first: oA's second comment is listed (and queues oA) before its first.
    assert second_a > first_a

    poll_and_moderate(pipeline, "oa", f"{ARTICLE}:0")
    poll_and_moderate(pipeline, "wb", str(STATUS))
    pipeline.flush("oa")
    pipeline.flush("wb")

    assert sorted(sandbox.blacklist(APP)) == ["oA", "oB"]
    assert all(sandbox.weibo_comment(cid)["deleted"] for cid in spam_weibo)
    blacklist = batched_records(runtime, "blacklist")
    assert [(r["openid"], r["comment_id"], r["target"], r["rule"], r["outcome"])
            for r in blacklist] == [
        ("oA", str(first_a), f"{ARTICLE}:0", "wx-spam", "already_done"),
        ("oA", str(second_a), f"{ARTICLE}:0", "wx-spam", "ok"),
        ("oB", str(first_b), f"{ARTICLE}:0", "wx-spam", "ok"),
    ]
    destroyed = [r for r in batched_records(runtime, "delete") if r["platform"] == "weibo"]
    assert sorted((r["comment_id"], r["target"], r["rule"], r["outcome"]) for r in destroyed) == [
        (str(cid), str(STATUS), "wb-spam", "ok") for cid in sorted(spam_weibo)
    ]

    stats = runtime.stats.snapshot()["rules"]
    assert stats["wx-spam"]["actions"]["blacklist"] == {"ok": 2, "already_done": 1}
    assert stats["wb-spam"]["actions"]["delete"] == {"ok": 2}
    # Origins are dropped once told: nothing is left behind in Redis for done ids.
    assert runtime.buffer("oa").origins(["oA", "oB"]) == {}


def test_a_disabled_blacklist_fails_its_batches_without_calling(
    runtime: WorkerRuntime, pipeline: Pipeline, sandbox: Sandbox, stub_actors: StubBroker
) -> None:
    sandbox.revoke_api(APP, "tags/members/batchblacklist")
    first = sandbox.add_wechat_comment(APP, ARTICLE, content="加v：abc12345", openid="oA")
    poll_and_moderate(pipeline, "oa", f"{ARTICLE}:0")
    pipeline.flush("oa")  # 48001: the action is disabled for the account
    assert runtime.ledger.is_disabled("oa", "blacklist")
    assert len(sandbox.calls("tags/members/batchblacklist")) == 1

    later = sandbox.add_wechat_comment(APP, ARTICLE, content="加v：zzz998877", openid="oB")
    poll_and_moderate(pipeline, "oa", f"{ARTICLE}:0")
    pipeline.flush("oa")
    assert len(sandbox.calls("tags/members/batchblacklist")) == 1  # no second call
    assert sandbox.blacklist(APP) == []
    failed = batched_records(runtime, "blacklist")
    assert [(r["openid"], r["comment_id"], r["rule"], r["outcome"]) for r in failed] == [
        ("oA", str(first), "wx-spam", "failed"),
        ("oB", str(later), "wx-spam", "failed"),
    ]
    assert failed[0]["detail"].startswith("48001")
    assert failed[1]["detail"] == DISABLED_DETAIL
    assert runtime.buffer("oa").pending_count() == 0


FOREIGN_STATUS = STATUS + 1  # a post of another user among the Weibo account's targets


def weibo_runtime_with_a_foreign_post(
    tmp_path: Path, sandbox: Sandbox, redis_server: EmbeddedRedis, *, max_retries: int = 5
) -> WorkerRuntime:
    """A runtime (set for the actors) of one Weibo account polling its own post and
    FOREIGN_STATUS, a post of another user; the caller closes it."""
    sandbox.add_weibo_token(access_token="2.00someone-else", uid=2002)
    sandbox.add_weibo_post("2.00someone-else", status_id=FOREIGN_STATUS)
    rules = tmp_path / "rules.yaml"
    rules.write_text(RULES, encoding="utf-8")
    config = Config(
        rules=(rules,),
        actions=ActionsConfig(batch_max_wait=0.0, max_retries=max_retries),
        accounts=(AccountConfig(
            name="wb", platform="weibo", access_token=Secret(WB_TOKEN), api_base=sandbox.url,
            targets=(WeiboTarget(status_id=STATUS), WeiboTarget(status_id=FOREIGN_STATUS)),
        ),),
    )
    rt = WorkerRuntime(config=config, redis_url=redis_server.url)
    return rt


def test_a_weibo_comment_destroy_batch_keeps_is_given_up_not_resent_forever(
    tmp_path: Path, sandbox: Sandbox, redis_server: EmbeddedRedis, stub_actors: StubBroker
) -> None:
    # A post of another user among the account's targets: destroy_batch answers for the
    # account's own comments and quietly keeps the other's (no error while one id succeeds).
    # Kept ids go back to the buffer, max_retries times (0 here), then fail.
    rt = weibo_runtime_with_a_foreign_post(tmp_path, sandbox, redis_server, max_retries=0)
    pipeline = Pipeline(stub_actors, rt)
    try:
        kept = sandbox.add_weibo_comment(FOREIGN_STATUS, text="加v：kept", uid=8001)
        own = sandbox.add_weibo_comment(STATUS, text="加v：own", uid=7000)
        poll_and_moderate(pipeline, "wb", str(STATUS))
        poll_and_moderate(pipeline, "wb", str(FOREIGN_STATUS))
        pipeline.flush("wb")
        assert sandbox.weibo_comment(own)["deleted"]
        assert not sandbox.weibo_comment(kept)["deleted"]
        assert len(sandbox.calls("comments/destroy_batch/own/biz")) == 1
        records = [r for r in batched_records(rt, "delete") if r["comment_id"] == str(kept)]
        assert [(r["rule"], r["outcome"], r["detail"]) for r in records] == [
            ("wb-spam", "failed", "kept by the platform after 1 destroy_batch call(s)"),
        ]
        assert rt.buffer("wb").pending_count() == 0
        assert rt.redis.hlen(rt.keys.refused("wb")) == 0
    finally:
        rt.close()


def test_a_comment_not_ours_fails_alone_and_the_rest_of_its_batch_is_deleted(
    tmp_path: Path, sandbox: Sandbox, redis_server: EmbeddedRedis, stub_actors: StubBroker
) -> None:
    # destroy_batch answering 20203 for a whole batch with one comment that is not ours:
    # the batch is split, the account's own comments go, the other one fails on its own.
    sandbox.faults.destroy_mode = "atomic"
    rt = weibo_runtime_with_a_foreign_post(tmp_path, sandbox, redis_server)
    pipeline = Pipeline(stub_actors, rt)
    try:
        theirs = sandbox.add_weibo_comment(FOREIGN_STATUS, text="加v：theirs", uid=8001)
        own = [sandbox.add_weibo_comment(STATUS, text=f"加v：own{i}", uid=7000) for i in range(3)]
        poll_and_moderate(pipeline, "wb", str(FOREIGN_STATUS))
        poll_and_moderate(pipeline, "wb", str(STATUS))
        pipeline.flush("wb")
        assert all(sandbox.weibo_comment(cid)["deleted"] for cid in own)
        assert not sandbox.weibo_comment(theirs)["deleted"]
        records = {r["comment_id"]: (r["outcome"], r["detail"])
                   for r in batched_records(rt, "delete")}
        assert records[str(theirs)] == ("failed", "not your own comment (20203)")
        assert all(records[str(cid)][0] == "ok" for cid in own)
        assert rt.buffer("wb").pending_count() == 0
    finally:
        rt.close()
