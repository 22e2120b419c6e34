"""Operational events reach the ``notify.events`` channel from where they happen (issue 14
item 6): a poll that finds the article gone, a quota that pauses polling, an action that
fails for good, a scheduler that takes over a lock its holder stopped renewing. Each is
digested with the channel's next message. (``worker_died`` and ``rules_reload_failed`` need
the daemon's processes: tests/pipeline/test_daemon_events.py.)

The real actors run in this process on a StubBroker, state in a real Redis, WeChat is the
sandbox over loopback HTTP, the channel a plain webhook the sandbox receives.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from dramatiq.brokers.stub import StubBroker
from structlog.testing import capture_logs

from tests.pipeline.wechat_runtime import APP, ARTICLE, TARGET, wechat_runtime
from worker.config import NotifyChannel, NotifyConfig, Secret
from worker.pipeline.actors import Pipeline
from worker.pipeline.lock import RenewableLock
from worker.pipeline.runtime import WorkerRuntime
from worker.pipeline.scheduler import Scheduler
from worker.redis_server import EmbeddedRedis
from worker.sandbox import Sandbox
from worker.subprocesses import wait_for

EVENTS = frozenset({"action_failed", "target_gone", "quota_paused", "scheduler_takeover"})


@pytest.fixture
def sandbox(sandbox: Sandbox) -> Sandbox:
    """conftest's sandbox, with the ``ops`` webhook robot the events go to."""
    sandbox.robots.add("webhook", "ops")
    return sandbox


@pytest.fixture
def runtime(
    tmp_path: Path, sandbox: Sandbox, redis_server: EmbeddedRedis, redis_client: Any,
    stub_actors: StubBroker,
) -> Iterator[WorkerRuntime]:
    ops = NotifyChannel(name="ops", type="webhook", url=Secret(f"{sandbox.url}/hook/ops"))
    notify = NotifyConfig(channels=(ops,), events_channel="ops", events=EVENTS)
    with wechat_runtime(tmp_path, sandbox, redis_server.url, notify=notify) as rt:
        yield rt


def _digest(runtime: WorkerRuntime, sandbox: Sandbox) -> str:
    runtime.notifier.flush_due(force=True)
    return "\n".join(m["body"]["text"] for m in sandbox.robots.get("webhook", "ops").received)


def test_a_gone_target_a_quota_pause_and_a_failed_action_are_told_once_each(
    runtime: WorkerRuntime, pipeline: Pipeline, sandbox: Sandbox
) -> None:
    comment = str(sandbox.add_wechat_comment(APP, ARTICLE, content="加v：abc12345",
                                             openid="oX"))
    sandbox.faults.fail_next(88001, endpoint="comment/list")
    pipeline.poll("oa", TARGET)
    sandbox.faults.fail_next(45009, endpoint="comment/delete")
    pipeline.act("oa", TARGET, comment, "delete", None, "spam")
    # held back by the pause it met (no call, no code): the same pause, told once
    pipeline.act("oa", TARGET, comment, "delete", None, "spam")
    sandbox.faults.fail_next(88000, endpoint="comment/markelect")  # elect disabled
    pipeline.act("oa", TARGET, comment, "elect", None, "spam")

    text = _digest(runtime, sandbox)
    for event, code in (("target_gone", 88001), ("quota_paused", 45009),
                        ("action_failed", 88000)):
        assert f"**{event}**: 1\n" in text, text
        assert str(code) in text, text


def test_a_scheduler_taking_over_a_lock_whose_holder_stopped_renewing_is_told_once(
    runtime: WorkerRuntime, pipeline: Pipeline, sandbox: Sandbox
) -> None:
    # The first scheduler: holds the lock, renewed by hand until it "stops" (a paused or
    # partitioned daemon), so the second one is seen waiting before the lock expires.
    holder = RenewableLock(redis=runtime.redis, key=runtime.keys.scheduler_lock(), ttl=2.0,
                           auto_renew=False)
    assert holder.acquire()
    scheduler = Scheduler(runtime=runtime, actors=pipeline.actors)
    stop = threading.Event()
    thread = threading.Thread(target=scheduler.run, args=(stop,), name="second-scheduler")
    with capture_logs() as logs:
        thread.start()
        try:
            wait_for(lambda: holder.renew() and any(
                e["event"] == "scheduler_waiting" for e in list(logs)),
                timeout=30, what="the second scheduler to wait for the lock")
            # the holder stops renewing: its lock expires and the waiting scheduler takes it
            wait_for(lambda: scheduler.lock.held, timeout=30, what="the takeover")
            assert not holder.renew()  # its lock is the successor's now
        finally:
            stop.set()
            thread.join(timeout=30)
    assert not thread.is_alive()
    assert [e["event"] for e in logs].count("scheduler_started") == 1
    text = _digest(runtime, sandbox)
    assert text.count("**scheduler_takeover**: 1\n") == 1, text
    assert "this daemon took over scheduling" in text, text
