"""Notify: digests, robot signing and rate limits, failing channels, marks, no secret logged.

Against the sandbox's robot webhooks over loopback HTTP and a real Redis; the notifier and the
sandbox share the sandbox's clock, so rate-limit windows are moved through, not waited out.
"""

from __future__ import annotations

import io
import json
import logging
import time
from collections.abc import Iterator
from typing import Any

import pytest
import redis

from worker.config import NotifyChannel, NotifyConfig, Secret
from worker.logs import configure_logging
from worker.notify.digest import digest
from worker.notify.notifier import MAX_ATTEMPTS, Notifier
from worker.sandbox import Sandbox

DING_TOKEN = "ding-token-5b2e9c81f0a4"
DING_SECRET = "SECding-secret-7d1c4e9a2b"
FEISHU_TOKEN = "feishu-hook-3a9c0e7b55d1"
FEISHU_SECRET = "feishu-secret-e4b8a1c09f"
WECOM_KEY = "wecom-key-0c9d8e7f6a5b"


@pytest.fixture
def sandbox() -> Iterator[Sandbox]:
    # A clock that moves only by advance_time: rate windows of a second must not roll over
    # while a slow (loaded) machine is still sending within one.
    start = time.time()
    with Sandbox(port=0, clock=lambda: start) as box:
        box.robots.add("dingtalk", DING_TOKEN, DING_SECRET)
        box.robots.add("feishu", FEISHU_TOKEN, FEISHU_SECRET)
        box.robots.add("wecom", WECOM_KEY)
        box.robots.add("webhook", "plain")
        yield box


def _channels(box: Sandbox, ding_secret: str = DING_SECRET) -> tuple[NotifyChannel, ...]:
    return (
        NotifyChannel(name="ding", type="dingtalk",
                      url=Secret(f"{box.url}/robot/send?access_token={DING_TOKEN}"),
                      secret=Secret(ding_secret)),
        NotifyChannel(name="feishu", type="feishu",
                      url=Secret(f"{box.url}/open-apis/bot/v2/hook/{FEISHU_TOKEN}"),
                      secret=Secret(FEISHU_SECRET)),
        NotifyChannel(name="wecom", type="wecom",
                      url=Secret(f"{box.url}/cgi-bin/webhook/send?key={WECOM_KEY}")),
        NotifyChannel(name="plain", type="webhook", url=Secret(f"{box.url}/hook/plain")),
    )


def _notifier(box: Sandbox, client: redis.Redis, audit: list[dict[str, Any]],
              **config: Any) -> Notifier:
    settings: dict[str, Any] = {"channels": _channels(box), "events_channel": "ding",
                                "events": frozenset({"action_failed", "worker_died"})}
    settings.update(config)
    return Notifier(redis=client, config=NotifyConfig(**settings), audit=audit.append,
                    clock=box.now)


def _entry(i: int, *, rule: str = "spam", **extra: Any) -> dict[str, Any]:
    return {"kind": "rule", "rule": rule, "mode": "enforce", "dry_run": False,
            "platform": "wechat", "account": "main-oa", "target": "2247:0",
            "comment_id": str(i), "author": f"oU{i}", "content": f"加微信领取免费资料 第{i}条",
            "actions": ["delete", "notify"], **extra}


def test_digest_counts_per_rule_with_examples_outcomes_and_marks() -> None:
    entries = [_entry(i) for i in range(5)]
    entries.append(_entry(9, rule="wave", mode="shadow", wave="wave:1"))
    entries.append(_entry(10, rule="spam", dry_run=True))
    entries.append({"kind": "event", "event": "action_failed", "account": "main-oa",
                    "comment_id": "77", "detail": "delete failed: 88000"})
    messages = digest(entries, examples=2,
                      outcome_of=lambda e: {"delete": "ok"} if e["comment_id"] == "0" else {})
    assert len(messages) == 1
    text = messages[0].text
    assert messages[0].title == "modworker: 7 comments, 1 event"
    assert "**spam**: 5 comments\n" in text
    assert "- main-oa / 2247:0 · oU0: “加微信领取免费资料 第0条” → delete ok" in text
    assert "- main-oa / 2247:0 · oU1: “加微信领取免费资料 第1条” → delete\n" in text
    assert "- … and 3 more" in text
    assert "**wave**: 1 comment [shadow rule: nothing was changed]" in text
    assert "(wave wave:1)" in text
    assert "**spam**: 1 comment [dry_run: nothing was changed]" in text
    assert "**action_failed**: 1\n- main-oa / 77: delete failed: 88000" in text


def test_a_long_digest_is_split_under_the_byte_limit() -> None:
    entries = [_entry(i, rule=f"rule-{i}", content="长" * 200) for i in range(60)]
    messages = digest(entries, examples=3, max_bytes=4000)
    assert len(messages) > 1
    assert all(len(m.text.encode()) <= 4000 for m in messages)
    assert messages[0].title.endswith(f"(1/{len(messages)})")
    assert sum(m.text.count("comment\n") + m.text.endswith("comment") for m in messages) == 60


def test_signed_robots_get_the_digest(sandbox: Sandbox, redis_client: redis.Redis) -> None:
    audit: list[dict[str, Any]] = []
    notifier = _notifier(sandbox, redis_client, audit)
    for name in ("ding", "feishu", "wecom", "plain"):
        notifier.add(name, _entry(1))
    assert notifier.event("action_failed", account="main-oa", detail="delete failed")
    assert not notifier.event("target_gone", detail="not asked for")
    assert notifier.flush_due() == 4
    ding = sandbox.robots.get("dingtalk", DING_TOKEN)
    assert ding.rejected == 0 and len(ding.received) == 1
    body = ding.received[0]["body"]
    assert body["msgtype"] == "markdown"
    assert "**spam**: 1 comment" in body["markdown"]["text"]
    assert "**action_failed**: 1" in body["markdown"]["text"]
    feishu = sandbox.robots.get("feishu", FEISHU_TOKEN)
    assert feishu.rejected == 0
    assert "spam" in feishu.received[0]["body"]["content"]["text"]
    assert sandbox.robots.get("wecom", WECOM_KEY).received[0]["body"]["msgtype"] == "markdown"
    plain = sandbox.robots.get("webhook", "plain").received[0]["body"]
    assert plain["entries"][0]["comment_id"] == "1"
    assert [a["outcome"] for a in audit] == ["ok"] * 4


def test_an_event_told_once_is_queued_by_the_first_teller_only(
    sandbox: Sandbox, redis_client: redis.Redis
) -> None:
    notifier = _notifier(sandbox, redis_client, [])
    told = [notifier.event("action_failed", once=files, detail=f"by {who}")
            for who, files in (("worker-0", "f1"), ("worker-1", "f1"), ("worker-0", "f2"))]
    assert told == [True, False, True]  # the same files failing twice; other files again
    assert notifier.flush_due() >= 1
    text = sandbox.robots.get("dingtalk", DING_TOKEN).received[0]["body"]["markdown"]["text"]
    assert "**action_failed**: 2" in text and "by worker-1" not in text, text
    assert notifier.flush_due() == 0  # the interval has not run out; nothing pending anyway


def test_a_stale_signature_is_refused(sandbox: Sandbox, redis_client: redis.Redis) -> None:
    audit: list[dict[str, Any]] = []
    config = NotifyConfig(channels=_channels(sandbox))
    notifier = Notifier(redis=redis_client, config=config, audit=audit.append,
                        clock=lambda: sandbox.now() - 7200)
    for name in ("ding", "feishu"):
        notifier.add(name, _entry(1))
    assert notifier.flush_due() == 0
    assert [(a["channel"], a["errcode"]) for a in audit] == [("ding", 310000), ("feishu", 19021)]


def test_a_wrong_secret_is_refused_retried_and_audited_without_blocking(
    sandbox: Sandbox, redis_client: redis.Redis
) -> None:
    audit: list[dict[str, Any]] = []
    bad = NotifyConfig(channels=_channels(sandbox, ding_secret="SECwrong-secret-000"))
    notifier = Notifier(redis=redis_client, config=bad, audit=audit.append, clock=sandbox.now)
    notifier.add("ding", _entry(1))
    assert notifier.flush(bad.channel("ding")) == 0
    assert sandbox.robots.get("dingtalk", DING_TOKEN).rejected == 1
    assert audit[-1]["outcome"] == "retry" and audit[-1]["errcode"] == 310000
    assert redis_client.llen(notifier.key("ding", "outbox")) == 1  # kept for the next flush
    for _ in range(MAX_ATTEMPTS - 1):
        notifier.flush(bad.channel("ding"))
    assert audit[-1]["outcome"] == "failed" and audit[-1]["attempt"] == MAX_ATTEMPTS
    assert redis_client.llen(notifier.key("ding", "outbox")) == 0


def test_a_failing_channel_is_retried_and_delivers_later(
    sandbox: Sandbox, redis_client: redis.Redis
) -> None:
    audit: list[dict[str, Any]] = []
    notifier = _notifier(sandbox, redis_client, audit)
    sandbox.robots.fail_next("feishu", FEISHU_TOKEN, 2, status=500)
    notifier.add("feishu", _entry(1))
    channel = notifier.config.channel("feishu")
    assert notifier.flush(channel) == 0
    notifier.add("feishu", _entry(2))  # moderation goes on queueing meanwhile
    assert notifier.flush(channel) == 0
    assert notifier.flush(channel) == 2  # the first digest, then the second
    assert [a["outcome"] for a in audit] == ["retry", "retry", "ok", "ok"]
    received = sandbox.robots.get("feishu", FEISHU_TOKEN).received
    assert ["第1条" in r["body"]["content"]["text"] for r in received] == [True, False]


def test_an_unreachable_channel_fails_without_raising(redis_client: redis.Redis) -> None:
    audit: list[dict[str, Any]] = []
    channel = NotifyChannel(name="gone", type="wecom",
                            url=Secret("http://127.0.0.1:9/cgi-bin/webhook/send?key=k-123456"))
    notifier = Notifier(redis=redis_client, config=NotifyConfig(channels=(channel,)),
                        audit=audit.append)
    notifier.add("gone", _entry(1))
    assert notifier.flush_due() == 0
    assert audit[0]["outcome"] == "retry"
    assert audit[0]["detail"] == "wecom did not answer: ConnectError"


@pytest.mark.parametrize(("kind", "token", "name", "limit", "window"), [
    ("wecom", WECOM_KEY, "wecom", 20, 60.0),
    ("dingtalk", DING_TOKEN, "ding", 20, 60.0),
    ("feishu", FEISHU_TOKEN, "feishu", 5, 1.0),
])
def test_rate_limits_hold_messages_back_instead_of_being_refused(
    sandbox: Sandbox, redis_client: redis.Redis, kind: str, token: str, name: str,
    limit: int, window: float,
) -> None:
    audit: list[dict[str, Any]] = []
    notifier = _notifier(sandbox, redis_client, audit)
    channel = notifier.config.channel(name)
    outbox = notifier.key(name, "outbox")
    for i in range(limit + 5):  # one digest message each, as if from as many intervals
        redis_client.rpush(outbox, json.dumps({"title": f"m{i}", "text": f"m{i}",
                                               "entries": 1, "attempt": 0}))
    assert notifier.flush(channel) == limit
    assert redis_client.llen(outbox) == 5
    sandbox.advance_time(window + 0.01)
    assert notifier.flush(channel) == 5
    robot = sandbox.robots.get(kind, token)
    assert robot.rejected == 0 and len(robot.received) == limit + 5


def test_feishu_hundred_a_minute(sandbox: Sandbox, redis_client: redis.Redis) -> None:
    notifier = _notifier(sandbox, redis_client, [])
    channel = notifier.config.channel("feishu")
    outbox = notifier.key("feishu", "outbox")
    for i in range(110):
        redis_client.rpush(outbox, json.dumps({"title": "t", "text": str(i), "entries": 1,
                                               "attempt": 0}))
    sent = 0
    for _ in range(30):  # 5 a second for 30 seconds would be 150
        sent += notifier.flush(channel)
        sandbox.advance_time(1.01)
    assert sent == 100
    assert sandbox.robots.get("feishu", FEISHU_TOKEN).rejected == 0


def test_the_robots_own_rate_limit_answer_defers(
    sandbox: Sandbox, redis_client: redis.Redis
) -> None:
    audit: list[dict[str, Any]] = []
    notifier = _notifier(sandbox, redis_client, audit)
    sandbox.robots.fail_next("wecom", WECOM_KEY, 1, code=45009)
    notifier.add("wecom", _entry(1))
    assert notifier.flush(notifier.config.channel("wecom")) == 0
    assert audit[-1]["outcome"] == "deferred" and audit[-1]["errcode"] == 45009
    assert notifier.flush(notifier.config.channel("wecom")) == 1


def test_no_secret_in_any_log_line(sandbox: Sandbox, redis_client: redis.Redis) -> None:
    stream = io.StringIO()
    configure_logging(level="DEBUG", stream=stream, json=True)
    logging.getLogger("httpx").setLevel(logging.DEBUG)
    logging.getLogger("httpcore").setLevel(logging.DEBUG)
    try:
        audit: list[dict[str, Any]] = []
        bad = NotifyConfig(channels=_channels(sandbox, ding_secret="SECwrong-secret-000"))
        for config in (bad, NotifyConfig(channels=_channels(sandbox))):
            notifier = Notifier(redis=redis_client, config=config, audit=audit.append,
                                clock=sandbox.now)
            sandbox.robots.fail_next("feishu", FEISHU_TOKEN, 1, status=500)
            for name in ("ding", "feishu", "wecom", "plain"):
                notifier.add(name, _entry(1))
            notifier.flush_due(force=True)
    finally:
        configure_logging(level="INFO", stream=io.StringIO(), json=True)
    output = stream.getvalue() + json.dumps(audit, ensure_ascii=False)
    assert '"event": "notify"' in output and "httpx" in output
    for secret in (DING_TOKEN, DING_SECRET, FEISHU_TOKEN, FEISHU_SECRET, WECOM_KEY,
                   "SECwrong-secret-000"):
        assert secret not in output


def test_robots_through_the_sandbox_admin_api(sandbox: Sandbox, redis_client: redis.Redis) -> None:
    import httpx
    with httpx.Client(base_url=sandbox.url) as client:
        added = client.post("/_sandbox/robot", json={"type": "feishu", "token": "adm-tok-77",
                                                     "secret": "adm-secret-77"})
        assert added.json() == {"ok": True}
        client.post("/_sandbox/robot/fail", json={"type": "feishu", "token": "adm-tok-77",
                                                   "count": 1, "code": 11232})
        channel = NotifyChannel(name="f", type="feishu",
                                url=Secret(f"{sandbox.url}/open-apis/bot/v2/hook/adm-tok-77"),
                                secret=Secret("adm-secret-77"))
        notifier = Notifier(redis=redis_client, config=NotifyConfig(channels=(channel,)),
                            clock=sandbox.now)
        notifier.add("f", _entry(1))
        assert notifier.flush(channel) == 0  # 11232: deferred
        assert notifier.flush(channel) == 1
        state = client.get("/_sandbox/robot", params={"type": "feishu", "token": "adm-tok-77"})
        assert len(state.json()["received"]) == 1 and state.json()["rejected"] == 0
