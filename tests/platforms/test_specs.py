"""Every platform spec, walked against its client and the sandbox: each action a spec
declares is carried out by its client (a missing one fails here, not in production), its
batched action goes through ``send_batch``, and the tables derived from the specs agree."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import get_args

import pytest
import redis

from worker.comment import Comment
from worker.config import ACCOUNT_KEYS, AccountConfig, PollingConfig, QuotaConfig
from worker.errors import PermanentError, UnknownPlatformError
from worker.platform_specs import (
    ACTION_PLATFORMS,
    PLATFORM_NAMES,
    SPECS,
    Action,
    Platform,
    PlatformSpec,
    platform_spec,
)
from worker.platforms import BatchOutcome, PlatformClient, make_client
from worker.rules.loader import PLATFORM_NAMES as RULE_PLATFORM_NAMES
from worker.sandbox import Sandbox

from .conftest import APP_ID, FOLLOWERS, MSG, STATUS, TARGET, wechat_account, weibo_account


@dataclass(frozen=True)
class Arrangement:
    """How to point a client of one platform at the sandbox and give it something to act on."""

    account: Callable[[Sandbox], AccountConfig]
    target: str
    comment: Callable[[Sandbox], str]  # a fresh comment's id
    batch_item: Callable[[Sandbox], str]  # an id its batched action takes


def _wechat_comment(sb: Sandbox) -> str:
    return str(sb.add_wechat_comment(APP_ID, MSG, 1, content="评论", openid=FOLLOWERS[0]))


def _weibo_comment(sb: Sandbox) -> str:
    return str(sb.add_weibo_comment(STATUS, text="评论", uid=777))


ARRANGEMENTS = {
    "wechat": Arrangement(account=wechat_account, target=TARGET, comment=_wechat_comment,
                          batch_item=lambda sb: FOLLOWERS[1]),
    "weibo": Arrangement(account=weibo_account, target=str(STATUS), comment=_weibo_comment,
                         batch_item=_weibo_comment),
}


def test_every_spec_is_walked() -> None:
    assert set(ARRANGEMENTS) == set(SPECS), "add an Arrangement for every platform spec"


def _client(sb: Sandbox, redis_client: redis.Redis, spec: PlatformSpec) -> PlatformClient:
    client = make_client(ARRANGEMENTS[spec.name].account(sb), redis=redis_client,
                         quota=QuotaConfig(), key_prefix="t")
    assert client.spec is spec
    return client


@pytest.mark.parametrize("name", sorted(SPECS))
def test_every_declared_action_reaches_the_platform(
    sb: Sandbox, redis_client: redis.Redis, name: str
) -> None:
    spec = SPECS[name]
    arrangement = ARRANGEMENTS[name]
    client = _client(sb, redis_client, spec)
    try:
        for action in sorted(spec.actions - {spec.batch_action}):
            before = len(sb.calls())
            # Any answer but a refusal will do (delete_reply of no reply is already done).
            client.perform(action, arrangement.target, arrangement.comment(sb),
                           "thanks" if action is Action.REPLY else None)
            assert len(sb.calls()) > before, f"{action} made no call"
        for action in sorted(spec.reconciled):
            comment = arrangement.comment(sb)
            client.perform(action, arrangement.target, comment)
            assert client.effect_holds(action, arrangement.target, comment), action
        item = arrangement.batch_item(sb)
        outcome = client.send_batch([item])
        assert outcome == BatchOutcome(done=[item])
        again = client.send_batch([item], uncertain=[item])  # a repeat is done, not failed
        assert again.done == [item] and not again.failed
        unserved = {c.path for c in sb.calls() if c.platform != name}
        assert not unserved, f"the sandbox serves no {name} endpoint at {sorted(unserved)}"
    finally:
        client.close()


@pytest.mark.parametrize("name", sorted(SPECS))
def test_the_sandbox_serves_every_spec(sb: Sandbox, name: str) -> None:
    assert sb.platform(name).paths, f"worker/sandbox/{name}_endpoints.py serves no path"
    assert sb.state()[name] == sb.platform(name).to_state()


@pytest.mark.parametrize("name", sorted(SPECS))
def test_undeclared_actions_are_refused_without_a_call(
    sb: Sandbox, redis_client: redis.Redis, name: str
) -> None:
    spec = SPECS[name]
    client = _client(sb, redis_client, spec)
    try:
        for action in sorted(set(Action) - spec.actions):
            with pytest.raises(PermanentError, match=str(action)):
                client.perform(action, ARRANGEMENTS[name].target, "1")
        assert sb.calls() == []
    finally:
        client.close()


class _ListSink:
    def __init__(self) -> None:
        self.comments: list[Comment] = []
        self.stored: str | None = None

    def send(self, comments: list[Comment]) -> int:
        known = {c.id for c in self.comments}
        new = [c for c in comments if c.id not in known]
        self.comments.extend(new)
        return len(new)

    def keep_alive(self) -> None:
        pass

    def cursor(self) -> str | None:
        return self.stored

    def set_cursor(self, value: float) -> None:
        self.stored = repr(value)

    def advance_cursor(self, value: int) -> None:
        self.stored = str(max(value, int(self.stored or 0)))


@pytest.mark.parametrize("name", sorted(SPECS))
def test_poll_lists_every_comment_once(sb: Sandbox, redis_client: redis.Redis, name: str) -> None:
    arrangement = ARRANGEMENTS[name]
    ids = {arrangement.comment(sb) for _ in range(7)}
    client = _client(sb, redis_client, SPECS[name])
    sink = _ListSink()
    polling = PollingConfig(page_size=3)
    try:
        assert client.poll(arrangement.target, sink, polling) == 7
        assert {c.id for c in sink.comments} == ids
        assert sink.cursor() is not None
        later = arrangement.comment(sb)
        assert client.poll(arrangement.target, sink, polling) == 1
        assert sink.comments[-1].id == later
    finally:
        client.close()


def test_derived_tables_agree_with_the_specs() -> None:
    assert PLATFORM_NAMES == RULE_PLATFORM_NAMES == tuple(SPECS) == get_args(Platform)
    assert set(ACCOUNT_KEYS) == set(SPECS), "config.yaml needs the keys of every platform"
    for spec in SPECS.values():
        assert spec.batch_action in spec.actions
        assert spec.reconciled <= spec.actions - {spec.batch_action}
        for action in spec.actions:
            assert spec.name in ACTION_PLATFORMS[action]
    assert set(ACTION_PLATFORMS) == {a.value for a in Action}


def test_an_unknown_platform_is_named() -> None:
    with pytest.raises(UnknownPlatformError, match=r"'mastodon'.*wechat, weibo"):
        platform_spec("mastodon")
