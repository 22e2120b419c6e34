"""Fixtures: the sandbox over real loopback HTTP, accounts pointing at it, clients on a real
Redis (``redis_client`` from tests/conftest.py)."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Callable, Iterator
from typing import Any, TypeVar

import pytest
import redis

from worker.config import AccountConfig, QuotaConfig, Secret
from worker.logs import configure_logging
from worker.platforms import WechatClient, WeiboClient
from worker.sandbox import Sandbox

APP_ID = "wx0123456789abcdef"
APP_SECRET = "app-secret-0f1e2d3c4b5a69788796"
MSG = 22_474_836_501_234_567_890_123  # beyond 32 and 64 bits: "msg_data_id of any size"
TARGET = f"{MSG}:1"  # the second article of the send: index 1
FOLLOWERS = [f"oFollower{i:02d}_abcdefghijklmn" for i in range(30)]
FOREIGN = "oForeignAppOpenid_zyxwvutsrq"
UNKNOWN = "oNobodyKnowsThisOpenid_00000"
WEIBO_TOKEN = "2.00WeiboAccessTokenValue_q1w2e3r4t5y6"
WEIBO_UID = 1404376560
STATUS = 4890123456789012
FAN = 777


@pytest.fixture
def sb() -> Iterator[Sandbox]:
    with Sandbox(seed=7) as sandbox:
        sandbox.add_wechat_app(app_id=APP_ID, app_secret=APP_SECRET)
        sandbox.add_article(APP_ID, msg_data_id=MSG, index=1)
        sandbox.add_follower(APP_ID, *FOLLOWERS)
        sandbox.add_foreign_openid(APP_ID, FOREIGN)
        sandbox.add_weibo_token(access_token=WEIBO_TOKEN, uid=WEIBO_UID)
        sandbox.add_weibo_post(WEIBO_UID, status_id=STATUS, text="our post")
        yield sandbox


def wechat_account(sb: Sandbox, **overrides: Any) -> AccountConfig:
    fields: dict[str, Any] = {
        "name": "main-oa",
        "platform": "wechat",
        "app_id": APP_ID,
        "app_secret": Secret(APP_SECRET),
        "api_base": sb.url,
    }
    fields.update(overrides)
    return AccountConfig(**fields)


def weibo_account(sb: Sandbox, **overrides: Any) -> AccountConfig:
    fields: dict[str, Any] = {
        "name": "brand-weibo",
        "platform": "weibo",
        "access_token": Secret(WEIBO_TOKEN),
        "api_base": sb.url,
    }
    fields.update(overrides)
    return AccountConfig(**fields)


Client = TypeVar("Client", WechatClient, WeiboClient)


def _clients(
    cls: type[Client], account: Callable[..., AccountConfig], redis_client: redis.Redis
) -> Iterator[Callable[..., Client]]:
    """A fixture's body: a maker of ``cls`` clients on ``account(**overrides)``, each
    closed when the test is done."""
    made: list[Client] = []

    def make(quota: QuotaConfig | None = None, **overrides: Any) -> Client:
        client = cls(
            account=account(**overrides),
            redis=redis_client,
            quota=quota or QuotaConfig(),
            key_prefix="t",
        )
        made.append(client)
        return client

    yield make
    for client in made:
        client.close()


@pytest.fixture
def make_wechat(
    sb: Sandbox, redis_client: redis.Redis
) -> Iterator[Callable[..., WechatClient]]:
    yield from _clients(WechatClient, lambda **o: wechat_account(sb, **o), redis_client)


@pytest.fixture
def wechat(make_wechat: Callable[..., WechatClient]) -> WechatClient:
    return make_wechat()


@pytest.fixture
def make_weibo(sb: Sandbox, redis_client: redis.Redis) -> Iterator[Callable[..., WeiboClient]]:
    yield from _clients(WeiboClient, lambda **o: weibo_account(sb, **o), redis_client)


@pytest.fixture
def weibo(make_weibo: Callable[..., WeiboClient]) -> WeiboClient:
    return make_weibo()


def add_comments(sb: Sandbox, n: int, **kwargs: Any) -> list[int]:
    return [
        sb.add_wechat_comment(APP_ID, MSG, 1, content=f"评论 {i}", **kwargs) for i in range(n)
    ]


@pytest.fixture
def log_output() -> Iterator[io.StringIO]:
    """Every log line (structlog and stdlib, JSON, DEBUG and up) of the test, in a buffer."""
    buf = io.StringIO()
    root = logging.getLogger()
    saved_handlers, saved_level = list(root.handlers), root.level
    configure_logging(level="DEBUG", stream=buf, json=True)
    yield buf
    for handler in list(root.handlers):
        root.removeHandler(handler)
    for handler in saved_handlers:
        root.addHandler(handler)
    root.setLevel(saved_level)


def events(buf: io.StringIO) -> list[dict[str, Any]]:
    return [json.loads(line) for line in buf.getvalue().splitlines() if line.startswith("{")]
