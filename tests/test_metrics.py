"""Prometheus metrics: the hooks, the message middleware, the loopback exposition, and
multiprocess mode summed across two real processes.

prometheus_client is imported at the top, before any test sets PROMETHEUS_MULTIPROC_DIR: this
test process keeps its values in memory (the single-process tests), since the library picks
its value store at import time. The spawned processes import it with the variable set.
"""

from __future__ import annotations

import multiprocessing
import os
import socket
from collections.abc import Iterator
from pathlib import Path
from typing import TypedDict

import dramatiq
import httpx
import prometheus_client
import pytest
import redis
from dramatiq.brokers.stub import StubBroker
from dramatiq.middleware import Retries
from prometheus_client.parser import text_string_to_metric_families

from worker import metrics
from worker.config import Config, MetricsConfig
from worker.health import HealthProbe
from worker.metrics import MULTIPROC_ENV, ExpositionError
from worker.pipeline.freshness import Freshness
from worker.pipeline.keys import Keys

Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]


@pytest.fixture(autouse=True)
def _metrics_off() -> Iterator[None]:
    metrics.disable()
    yield
    metrics.disable()


def scrape(url: str) -> Samples:
    with httpx.Client(trust_env=False, timeout=5) as client:  # no proxy for loopback
        response = client.get(url)
    response.raise_for_status()
    samples: Samples = {}
    for family in text_string_to_metric_families(response.text):
        for sample in family.samples:
            samples[(sample.name, frozenset(sample.labels.items()))] = sample.value
    return samples


def value(samples: Samples, name: str, **labels: str) -> float:
    return samples.get((name, frozenset(labels.items())), 0.0)


def test_disabled_metrics_do_nothing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(MULTIPROC_ENV, raising=False)
    config = Config(state_dir=tmp_path, metrics=MetricsConfig(enabled=False))
    assert metrics.serve_daemon(config) is None
    assert not (tmp_path / "metrics").exists() and MULTIPROC_ENV not in os.environ
    assert metrics.enable_in_worker(config) is False
    assert metrics.active() is None and metrics.broker_middleware() == []
    # Every hook is a no-op without counters (nothing to raise on, nothing created).
    metrics.count_rule_hit("spam", "enforce")
    metrics.count_action("delete", "ok")
    metrics.count_api_call("wechat", "comment/delete", duration_ms=1.0, errcode=45009)
    metrics.count_quota_pause("wechat", "main", "comment/delete")
    assert metrics.active() is None


class _CallOutcome(TypedDict, total=False):
    """How one API call ended, as ``count_api_call`` takes it."""

    errcode: int | None
    http_status: int | None
    error: str


def _run_messages(m: metrics.Metrics) -> None:
    """Three messages through a real dramatiq Worker: one succeeds, one fails twice and is
    given up (one retry)."""
    broker = StubBroker(
        middleware=[Retries(max_retries=1, min_backoff=1, max_backoff=1),
                    metrics.MessageMetrics(m)],
        fail_fast_default=False,
    )

    def ok() -> None:
        return None

    def broken() -> None:
        raise RuntimeError("always")

    ok_actor = dramatiq.actor(broker=broker, actor_name="ok", queue_name="q")(ok)
    broken_actor = dramatiq.actor(broker=broker, actor_name="broken", queue_name="q")(broken)
    worker = dramatiq.Worker(broker, worker_timeout=50)
    worker.start()
    try:
        ok_actor.send()
        broken_actor.send()
        broker.join("q", timeout=10_000)
        worker.join()
    finally:
        worker.stop()
        broker.close()


def test_counters_are_served_over_loopback_http() -> None:
    registry = prometheus_client.CollectorRegistry()
    m = metrics.enable(registry)
    assert metrics.active() is m and len(metrics.broker_middleware()) == 1
    metrics.count_rule_hit("spam", "enforce")
    metrics.count_rule_hit("spam", "enforce")
    metrics.count_rule_hit("praise", "shadow")
    metrics.count_action("delete", "ok")
    metrics.count_action("reply", "failed")
    calls: list[_CallOutcome] = [
        {"errcode": 0, "http_status": 200},
        {"errcode": None, "http_status": 200},
        {"errcode": 45009, "http_status": 200},
        {"errcode": None, "http_status": 502},
        {"error": "ReadTimeout"},
        {"http_status": 200, "error": "malformed body"},
    ]
    for call in calls:
        metrics.count_api_call("wechat", "comment/delete", duration_ms=120.0, **call)
    metrics.count_quota_pause("weibo", "brand", "comments/show")
    _run_messages(m)

    exposition = metrics.start_exposition("127.0.0.1", 0, registry)
    try:
        assert exposition.host == "127.0.0.1" and exposition.port > 0
        samples = scrape(exposition.url)
    finally:
        exposition.close()

    assert value(samples, "modworker_rule_hits_total", rule="spam", mode="enforce") == 2
    assert value(samples, "modworker_rule_hits_total", rule="praise", mode="shadow") == 1
    assert value(samples, "modworker_actions_total", action="reply", outcome="failed") == 1
    api = {"platform": "wechat", "endpoint": "comment/delete"}
    assert value(samples, "modworker_api_calls_total", **api) == 6
    assert value(samples, "modworker_api_call_duration_seconds_count", **api) == 6
    assert value(samples, "modworker_api_call_duration_seconds_bucket", **api, le="0.1") == 0
    assert value(samples, "modworker_api_call_duration_seconds_bucket", **api, le="0.25") == 6
    errors = {code for (name, labels), _ in samples.items()
              if name == "modworker_api_errors_total" for key, code in labels if key == "code"}
    assert errors == {"45009", "http_502", "ReadTimeout", "malformed"}
    assert value(samples, "modworker_quota_pauses_total", platform="weibo", account="brand",
                 endpoint="comments/show") == 1
    ok = {"queue_name": "q", "actor_name": "ok"}
    broken = {"queue_name": "q", "actor_name": "broken"}
    assert value(samples, "dramatiq_messages_total", **ok) == 1
    assert value(samples, "dramatiq_message_errors_total", **ok) == 0
    assert value(samples, "dramatiq_messages_total", **broken) == 2
    assert value(samples, "dramatiq_message_errors_total", **broken) == 2
    assert value(samples, "dramatiq_message_retries_total", **broken) == 1
    assert value(samples, "dramatiq_message_rejects_total", **broken) == 1
    assert value(samples, "dramatiq_message_duration_milliseconds_count", **broken) == 2


def test_the_error_code_label() -> None:
    code = metrics.error_code
    assert code(errcode=0, http_status=200, error=None) is None
    assert code(errcode=None, http_status=204, error=None) is None
    assert code(errcode=88003, http_status=200, error=None) == "88003"
    assert code(errcode=-1, http_status=500, error=None) == "-1"
    assert code(errcode=None, http_status=503, error=None) == "http_503"
    assert code(errcode=None, http_status=None, error="ConnectError") == "ConnectError"


def test_a_busy_port_is_a_clear_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(MULTIPROC_ENV, "restored-after-the-test")
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        config = Config(state_dir=tmp_path, metrics=MetricsConfig(enabled=True, port=port))
        with pytest.raises(ExpositionError, match=rf"127\.0\.0\.1:{port}: .*metrics\.port"):
            metrics.serve_daemon(config)


def test_a_worker_not_started_by_the_daemon_counts_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv(MULTIPROC_ENV, raising=False)
    config = Config(state_dir=tmp_path, metrics=MetricsConfig(enabled=True))
    assert metrics.enable_in_worker(config) is False
    assert metrics.active() is None


# -- multiprocess mode ---------------------------------------------------------------------

def _worker(config: Config, hits: int) -> None:
    """A spawned 'worker process': it inherits PROMETHEUS_MULTIPROC_DIR from the parent."""
    if not metrics.enable_in_worker(config):
        raise SystemExit(3)
    for _ in range(hits):
        metrics.count_rule_hit("spam", "enforce")
    metrics.count_action("delete", "ok")
    metrics.count_api_call("wechat", "comment/list", duration_ms=30.0, errcode=0, http_status=200)


def test_two_worker_processes_are_summed_by_the_main_process(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(MULTIPROC_ENV, "restored-after-the-test")
    stale = tmp_path / "metrics" / "counter_99999.db"
    stale.parent.mkdir()
    stale.write_bytes(b"a previous run's values")
    config = Config(state_dir=tmp_path,
                    metrics=MetricsConfig(enabled=True, host="127.0.0.1", port=0))
    exposition = metrics.serve_daemon(config)
    assert exposition is not None
    try:
        assert not stale.exists()  # emptied at start
        assert os.environ[MULTIPROC_ENV] == str(tmp_path / "metrics")
        context = multiprocessing.get_context("spawn")  # as the daemon starts its workers
        workers = [context.Process(target=_worker, args=(config, n)) for n in (3, 4)]
        for process in workers:
            process.start()
        for process in workers:
            process.join(timeout=60)
        assert [p.exitcode for p in workers] == [0, 0]
        samples = scrape(exposition.url)
    finally:
        exposition.close()
    assert exposition.host == "127.0.0.1"
    assert value(samples, "modworker_rule_hits_total", rule="spam", mode="enforce") == 7
    assert value(samples, "modworker_actions_total", action="delete", outcome="ok") == 2
    api = {"platform": "wechat", "endpoint": "comment/list"}
    assert value(samples, "modworker_api_calls_total", **api) == 2
    assert value(samples, "modworker_api_call_duration_seconds_count", **api) == 2
    pids = {f.stem.rpartition("_")[2] for f in (tmp_path / "metrics").glob("*.db")}
    assert pids == {str(p.pid) for p in workers}  # each process wrote its own files


def test_freshness_gauges_and_poll_failures_are_served(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, redis_client: redis.Redis,
) -> None:
    monkeypatch.setenv(MULTIPROC_ENV, "restored-after-the-test")
    config = Config(state_dir=tmp_path,
                    metrics=MetricsConfig(enabled=True, host="127.0.0.1", port=0))
    fresh = Freshness(redis=redis_client, keys=Keys(prefix=config.redis.key_prefix))
    fresh.poll_succeeded(account="main-oa", platform="wechat", target="1:0", new_comments=2,
                         at=1_700_000_000.5)
    fresh.poll_failed(account="brand", platform="weibo", target="42", reason="credentials")
    fresh.credentials_accepted("main-oa")
    fresh.credentials_rejected("brand", errcode=21332, detail="invalid_access_token")
    probe = HealthProbe(config=config, redis=redis_client)
    exposition = metrics.serve_daemon(config, probe=lambda: probe)
    assert exposition is not None
    try:
        samples = scrape(exposition.url)
    finally:
        exposition.close()
    gauge = "modworker_last_successful_poll_timestamp_seconds"
    assert value(samples, gauge, account="main-oa", target="1:0") == 1_700_000_000.5
    assert (gauge, frozenset({("account", "brand"), ("target", "42")})) not in samples
    assert value(samples, "modworker_credentials_accepted", account="main-oa") == 1
    assert value(samples, "modworker_credentials_accepted", account="brand") == 0


def test_poll_failures_are_counted_by_account_and_reason() -> None:
    registry = prometheus_client.CollectorRegistry()
    metrics.enable(registry)
    metrics.count_poll_failure("brand", "credentials")
    metrics.count_poll_failure("brand", "credentials")
    assert registry.get_sample_value(
        "modworker_poll_failures_total", {"account": "brand", "reason": "credentials"}
    ) == 2
