"""The scheduler's side on an injected clock, with a real Redis and the sandbox's APIs:
discovery, budgets from openapi/quota/get, adaptive intervals and retirement."""

from __future__ import annotations

from collections.abc import Iterator
from itertools import pairwise

import pytest
import redis

from worker.config import ACCOUNT_LISTING, Config, QuotaConfig, load_config_text
from worker.pipeline.keys import Keys
from worker.pipeline.seen import SeenComments
from worker.platforms import WechatClient, WeiboClient, make_client
from worker.sandbox import Sandbox
from worker.targets.scheduling import TargetScheduling
from worker.targets.tracking import record_poll

APP, SECRET, TOKEN = "wxsched", "secret-sched", "2.00sched"


@pytest.fixture
def sandbox() -> Iterator[Sandbox]:
    with Sandbox(port=0, seed=3) as sb:
        sb.add_wechat_app(app_id=APP, app_secret=SECRET)
        sb.add_weibo_token(access_token=TOKEN, uid=42)
        yield sb


def make_config(sb: Sandbox, polling: str = "{interval: 60s, max_interval: 8m, "
                "retire_after: 1d, jitter: 0}") -> Config:
    return load_config_text(
        f"polling: {polling}\nquota: {{poll_share: 0.5, refresh: 1h}}\n"
        "accounts:\n"
        f"  - {{name: oa, platform: wechat, app_id: {APP}, app_secret: {SECRET},\n"
        f"     api_base: '{sb.url}', discover: 3d, targets: [{{msg_data_id: 9}}]}}\n"
        f"  - {{name: wb, platform: weibo, access_token: '{TOKEN}', api_base: '{sb.url}'}}\n",
        environ={},
    )


@pytest.fixture
def scheduling(sandbox: Sandbox, redis_client: redis.Redis) -> Iterator[TargetScheduling]:
    config = make_config(sandbox)
    clients: dict[str, WechatClient | WeiboClient] = {}

    def client(name: str) -> WechatClient | WeiboClient:
        if name not in clients:
            made = make_client(config.account(name), redis=redis_client, quota=QuotaConfig(),
                               key_prefix="mw")
            assert isinstance(made, WechatClient | WeiboClient)
            clients[name] = made
        return clients[name]

    seen = SeenComments(redis=redis_client, keys=Keys(prefix="mw"))
    yield TargetScheduling.for_redis(config=config, redis=redis_client, client=client,
                                     gone=seen.gone_targets)
    for made in clients.values():
        made.close()


def test_discovery_budget_and_first_polls(sandbox: Sandbox, scheduling: TargetScheduling) -> None:
    now = sandbox.now()
    sandbox.publish_articles(APP, msg_data_id=77, count=2, at=now - 86400)
    sandbox.publish_articles(APP, msg_data_id=78, at=now - 6 * 86400)  # outside 3 days
    sandbox.faults.quota = {"comment/list": 1000}
    due = scheduling.due(now)
    keys = {(d.target.account, d.target.key, d.target.source) for d in due}
    assert keys == {("oa", "9:0", "config"), ("oa", "77:0", "discovered"),
                    ("oa", "77:1", "discovered"), ("wb", ACCOUNT_LISTING, "config")}
    assert len(sandbox.calls("datacube/getarticlesummary")) == 3
    budget = scheduling.book.budget("oa")
    assert budget is not None and budget.budget.limit == 1000 and budget.spent == 3
    assert scheduling.due(now + 1) == []  # nothing due again before an interval
    assert len(sandbox.calls("datacube/getarticlesummary")) == 3  # once a day, not a tick


def test_intervals_double_when_quiet_and_a_target_retires(
    sandbox: Sandbox, scheduling: TargetScheduling
) -> None:
    now = sandbox.now()
    book, policy = scheduling.book, scheduling.policy
    polled_at: list[float] = []
    t = now
    while t < now + 3 * 86400:
        for poll in scheduling.due(t):
            if poll.target.key == "9:0":
                polled_at.append(t)
                record_poll(book, policy, account="oa", tkey=poll.target.tkey, now=t,
                            new=1 if t == now else 0)
        t += 60
    gaps = [round(b - a) for a, b in pairwise(polled_at)]
    assert gaps[:4] == [60, 120, 240, 480]  # doubling up to max_interval (8 min)
    assert set(gaps[4:]) == {480}
    assert polled_at[-1] - now < 86400 + 480  # retired after a day without news
    row = book.status(scheduling.targets[0].tkey)
    assert row.temperature is not None and row.temperature.retired


def test_a_small_daily_limit_holds_polls_back(
    sandbox: Sandbox, scheduling: TargetScheduling
) -> None:
    sandbox.faults.quota = {"comment/list": 20}  # 10 polls for the day
    now = sandbox.now()
    sent = 0
    for step in range(0, 3600, 10):
        sent += sum(1 for d in scheduling.due(now + step) if d.target.account == "oa")
    assert 1 <= sent <= 10


def test_gone_targets_are_not_polled_and_said_once(
    sandbox: Sandbox, scheduling: TargetScheduling, redis_client: redis.Redis
) -> None:
    from structlog.testing import capture_logs

    from worker.pipeline.keys import target_key

    seen = SeenComments(redis=redis_client, keys=Keys(prefix="mw"))
    seen.mark_target_gone(target_key(platform="wechat", account="oa", target="9:0"), "88001")
    now = sandbox.now()
    with capture_logs() as logs:
        first = {d.target.key for d in scheduling.due(now)}
        scheduling.due(now + 3600)
    assert "9:0" not in first
    assert [e["event"] for e in logs].count("target_not_polled") == 1
