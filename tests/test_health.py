"""Health and readiness reports (worker.health) and their HTTP endpoints (worker.listener),
on a real Redis."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import redis

from worker.config import AccountConfig, Config, WechatTarget, WeiboTarget
from worker.health import (
    BEAT_STALE,
    HealthProbe,
    LocalState,
    read_beats,
    remove_beat,
    write_beat,
)
from worker.listener import start_listener
from worker.pipeline.freshness import Freshness
from worker.pipeline.keys import Keys

CONFIG = Config(accounts=(
    AccountConfig(name="main-oa", platform="wechat", targets=(WechatTarget(msg_data_id=1),)),
    AccountConfig(name="brand", platform="weibo", targets=(WeiboTarget(status_id=2),)),
))
KEYS = Keys()


def _local(scheduler: bool = True, workers: dict[int, bool] | None = None,
           started_at: float = 0.0) -> LocalState:
    return LocalState(scheduler_alive=scheduler, workers=workers or {0: True, 1: True},
                      started_at=started_at)


def _hold_scheduler_lock(client: redis.Redis) -> None:
    client.set(KEYS.scheduler_lock(), "someone", px=15_000)


def _problems(report: Any) -> list[str]:
    return list(report.to_dict()["problems"])


def test_live_when_redis_answers_the_scheduler_runs_and_workers_are_up(
    redis_client: redis.Redis,
) -> None:
    _hold_scheduler_lock(redis_client)
    report = HealthProbe(config=CONFIG, redis=redis_client, local=_local).live()
    assert report.ok, report.to_dict()
    assert report.to_dict()["status"] == "ok"


def test_unhealthy_when_redis_is_down(tmp_path: Path) -> None:
    down = redis.Redis.from_url(f"unix://{tmp_path / 'nothing.sock'}", socket_timeout=1)
    report = HealthProbe(config=CONFIG, redis=down, local=_local).live()
    assert not report.ok
    [problem] = _problems(report)
    assert problem.startswith("redis: unreachable")


def test_unhealthy_when_the_scheduler_thread_is_dead(redis_client: redis.Redis) -> None:
    _hold_scheduler_lock(redis_client)  # another daemon may schedule: this one is still broken
    report = HealthProbe(config=CONFIG, redis=redis_client,
                         local=lambda: _local(scheduler=False)).live()
    assert _problems(report) == ["scheduler_thread: the scheduler thread died"]


def test_unhealthy_while_a_worker_is_restarting(redis_client: redis.Redis) -> None:
    _hold_scheduler_lock(redis_client)
    report = HealthProbe(config=CONFIG, redis=redis_client,
                         local=lambda: _local(workers={0: True, 1: False})).live()
    assert _problems(report) == ["workers: worker process(es) 1 of 2 not alive (restarting)"]


def test_unhealthy_when_no_scheduler_holds_the_lock_after_start(
    redis_client: redis.Redis,
) -> None:
    starting = HealthProbe(config=CONFIG, redis=redis_client, clock=lambda: 5.0,
                           local=lambda: _local(started_at=0.0)).live()
    assert starting.ok and starting.notes  # just started: not yet a problem
    later = HealthProbe(config=CONFIG, redis=redis_client, clock=lambda: 100.0,
                        local=lambda: _local(started_at=0.0)).live()
    assert _problems(later) == ["scheduler: no scheduler holds the lock: nothing polls"]


def test_from_another_shell_the_daemons_beats_tell_about_workers(
    redis_client: redis.Redis,
) -> None:
    _hold_scheduler_lock(redis_client)
    probe = HealthProbe(config=CONFIG, redis=redis_client, clock=lambda: 1000.0)
    assert _problems(probe.live())[0].startswith("workers: no daemon reported")
    write_beat(redis_client, KEYS, _local(workers={0: True, 1: False}), now=1000.0)
    [problem] = _problems(probe.live())
    assert "1 of 2 worker process(es) alive" in problem
    write_beat(redis_client, KEYS, _local(), now=1000.0)
    assert probe.live().ok
    stale = HealthProbe(config=CONFIG, redis=redis_client, clock=lambda: 1001.0 + BEAT_STALE)
    assert not stale.live().ok  # the daemon stopped beating
    assert read_beats(redis_client, KEYS, now=1000.0)
    remove_beat(redis_client, KEYS)
    assert read_beats(redis_client, KEYS, now=1000.0) == {}


def test_ready_only_once_every_account_was_accepted(redis_client: redis.Redis) -> None:
    _hold_scheduler_lock(redis_client)
    probe = HealthProbe(config=CONFIG, redis=redis_client, local=_local)
    fresh = Freshness(redis=redis_client, keys=KEYS)
    assert probe.live().ok
    assert _problems(probe.ready()) == [
        "credentials: main-oa: not accepted yet; brand: not accepted yet"
    ]
    fresh.credentials_accepted("main-oa")
    fresh.credentials_accepted("brand")
    assert probe.ready().ok
    fresh.credentials_rejected("brand", errcode=21332, detail="invalid_access_token")
    assert _problems(probe.ready()) == [
        "credentials: brand: rejected (21332): invalid_access_token"
    ]
    assert probe.live().ok  # a refused account does not make the process unhealthy


# -- over HTTP -----------------------------------------------------------------------------

def _get(url: str) -> tuple[int, dict[str, Any]]:
    try:
        with urllib.request.urlopen(url, timeout=10) as answer:
            return answer.status, json.loads(answer.read())
    except urllib.error.HTTPError as err:
        return err.code, json.loads(err.read())


@pytest.fixture
def listener(redis_client: redis.Redis) -> Iterator[tuple[str, dict[str, HealthProbe | None]]]:
    holder: dict[str, HealthProbe | None] = {"probe": None}
    served = start_listener("127.0.0.1", 0, registry=None, probe=lambda: holder["probe"])
    try:
        yield served.base_url, holder
    finally:
        served.close()


def test_endpoints_answer_200_or_503_with_what_is_wrong(
    listener: tuple[str, dict[str, HealthProbe | None]], redis_client: redis.Redis,
) -> None:
    base, holder = listener
    status, body = _get(f"{base}/healthz")
    assert (status, body["status"]) == (503, "starting")
    holder["probe"] = HealthProbe(config=CONFIG, redis=redis_client, local=_local)
    _hold_scheduler_lock(redis_client)
    status, body = _get(f"{base}/healthz")
    assert (status, body["status"]) == (200, "ok")
    assert body["checks"]["redis"]["ok"] is True
    status, body = _get(f"{base}/readyz")
    assert status == 503 and body["problems"][0].startswith("credentials: main-oa")
    with pytest.raises(urllib.error.HTTPError) as err:
        urllib.request.urlopen(f"{base}/metrics", timeout=10)
    assert err.value.code == 404
