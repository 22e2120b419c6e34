"""Opt-in Prometheus metrics (``metrics.enabled: true``): counted in every worker process,
exposed once, by the daemon's main process, on ``http://<metrics.host>:<metrics.port>/metrics``
(``127.0.0.1:9464`` by default).

Metrics
-------

======================================================  =========================================
``modworker_rule_hits_total{rule, mode}``               a rule matched a comment (``mode``:
                                                        ``enforce`` or ``shadow``)
``modworker_actions_total{action, outcome}``            an action outcome was audited (``ok``,
                                                        ``already_done``, ``dry_run``, ``failed``,
                                                        ``deferred``)
``modworker_api_calls_total{platform, endpoint}``       a platform API call ended, however
``modworker_api_errors_total{platform, endpoint, code}``  ... and failed: ``code`` is the platform's
                                                        errcode (``45009``), ``http_<status>`` for
                                                        an HTTP failure without one, or the
                                                        transport failure (``ReadTimeout``,
                                                        ``ConnectError``, ``malformed``)
``modworker_api_call_duration_seconds{platform, endpoint}``  histogram of those calls
``modworker_quota_pauses_total{platform, account, endpoint}``  a quota answer paused an endpoint
                                                        (counted once per pause, by the process
                                                        that set it)
``modworker_poll_budget_calls{account}``                poll calls the account's budget allows until
                                                        the quota resets, as last measured
``modworker_poll_budget_limit{account}``                the quota window's limit it was read from
                                                        (WeChat: comment/list's daily limit)
``modworker_polls_total{account, found}``               polls done (``found``: ``new`` comments
                                                        or ``none``)
``modworker_poll_failures_total{account, reason}``      a poll failed (``reason``: ``transient``,
                                                        ``credentials``, ``quota``,
                                                        ``permanent``, ``gone``)
``modworker_last_successful_poll_timestamp_seconds{account, target}``  Unix time of the target's
                                                        last successful poll (read from Redis
                                                        at each scrape; absent before the first)
``modworker_credentials_accepted{account}``             1 when the platform last accepted the
                                                        account's credentials, 0 when it refused
                                                        them (read from Redis at each scrape)
``dramatiq_messages_total{queue_name, actor_name}``     messages processed (skipped ones included)
``dramatiq_message_errors_total{queue_name, actor_name}``  ... that raised (one per attempt)
``dramatiq_message_retries_total{queue_name, actor_name}``  messages re-enqueued by Retries
``dramatiq_message_rejects_total{queue_name, actor_name}``  messages given up (dead-lettered)
``dramatiq_message_duration_milliseconds{queue_name, actor_name}``  histogram of processing time
======================================================  =========================================

The ``dramatiq_*`` names, labels and buckets are those of dramatiq's own
``dramatiq.middleware.prometheus.Prometheus``, so dashboards made for it work. That middleware
itself is not used: it sets its counters up in ``after_process_boot`` and serves them through
``forks``, two hooks only the ``dramatiq`` command line runs (``modworker run`` spawns its own
worker processes); it reads its directory from ``dramatiq_prom_db`` at import time (default: a
shared ``/tmp/dramatiq-prometheus``) and serves on ``0.0.0.0:9191`` by default; and its two
in-progress gauges are only right if every worker process marks itself dead on the way out,
which a killed one does not. :class:`MessageMetrics` is the part of it that holds in our
process model.

Process model
-------------

``modworker run`` has one main process (the scheduler; it counts nothing, so its few API
calls, the credentials check at start, quota readings and target discovery, are not in
``modworker_api_calls_total``) and N spawned worker processes. prometheus_client's
multiprocess mode makes each process write its values to memory-mapped files in
``PROMETHEUS_MULTIPROC_DIR``, and an exposition server sum them (``MultiProcessCollector``).
The library chooses its value store when it is first imported, so:

1. :func:`serve_daemon` (main process, before any worker is spawned) empties
   ``<state_dir>/metrics``, sets ``PROMETHEUS_MULTIPROC_DIR`` to it, and starts the HTTP server
   in a thread; the spawned workers inherit the variable before they import prometheus_client;
2. :func:`enable_in_worker` (each worker process, at start) creates the counters; from then on
   the hooks count.

The counters of a worker that died stay in their file and in the sums (counters only go up). The
directory is emptied at each daemon start, which Prometheus reads as a counter reset.

Hooks
-----

The ``count_*`` functions and :func:`broker_middleware` are called from the pipeline. With
metrics off (the default, and in every process but the workers of a daemon with metrics on)
each is one global lookup and a return, and prometheus_client is never imported.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import redis
import structlog
from dramatiq.middleware import Middleware

from worker.errors import ModworkerError

if TYPE_CHECKING:

    import dramatiq
    from dramatiq.broker import MessageProxy
    from prometheus_client import CollectorRegistry

    from worker.config import Config
    from worker.health import HealthProbe
    from worker.listener import Listener

log = structlog.get_logger("worker.metrics")

MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"

#: dramatiq's own buckets for ``dramatiq_message_duration_milliseconds``.
MESSAGE_BUCKETS_MS = (
    5, 10, 25, 50, 75, 100, 250, 500, 750, 1000, 2500, 5000, 7500, 10000, 30000, 60000,
    600000, 900000, float("inf"),
)
API_BUCKETS_S = (0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, float("inf"))


class ExpositionError(ModworkerError):
    """The metrics HTTP server could not listen on ``metrics.host:metrics.port``."""


class Metrics:
    """The counters of one process, registered in their own registry.

    In multiprocess mode the values live in files and the registry is irrelevant; in a single
    process (tests) the registry is what an exposition server serves.
    """

    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        import prometheus_client as prom

        self.registry = registry if registry is not None else prom.CollectorRegistry()
        self._declare_moderation(self.registry)
        self._declare_messages(self.registry)

    def _declare_moderation(self, reg: CollectorRegistry) -> None:
        """modworker's own series: rules, actions, API calls, quota and polling."""
        import prometheus_client as prom

        self.rule_hits = prom.Counter(
            "modworker_rule_hits", "Rule matches, by rule and mode.", ["rule", "mode"],
            registry=reg,
        )
        self.actions = prom.Counter(
            "modworker_actions", "Audited action outcomes.", ["action", "outcome"], registry=reg,
        )
        self.api_calls = prom.Counter(
            "modworker_api_calls", "Platform API calls.", ["platform", "endpoint"], registry=reg,
        )
        self.api_errors = prom.Counter(
            "modworker_api_errors", "Failed platform API calls, by error code.",
            ["platform", "endpoint", "code"], registry=reg,
        )
        self.api_duration = prom.Histogram(
            "modworker_api_call_duration_seconds", "Platform API call time.",
            ["platform", "endpoint"], buckets=API_BUCKETS_S, registry=reg,
        )
        self.quota_pauses = prom.Counter(
            "modworker_quota_pauses", "Endpoints paused by a quota answer.",
            ["platform", "account", "endpoint"], registry=reg,
        )
        self.poll_budget = prom.Gauge(
            "modworker_poll_budget_calls", "Poll calls allowed until the quota resets.",
            ["account"], multiprocess_mode="mostrecent", registry=reg,
        )
        self.poll_limit = prom.Gauge(
            "modworker_poll_budget_limit", "The quota window's limit the budget was read from.",
            ["account"], multiprocess_mode="mostrecent", registry=reg,
        )
        self.polls = prom.Counter(
            "modworker_polls", "Polls done, by whether they found new comments.",
            ["account", "found"], registry=reg,
        )
        self.poll_failures = prom.Counter(
            "modworker_poll_failures", "Failed polls, by account and error class.",
            ["account", "reason"], registry=reg,
        )

    def _declare_messages(self, reg: CollectorRegistry) -> None:
        """The message series, under the names and buckets of dramatiq's own Prometheus
        middleware."""
        import prometheus_client as prom

        labels = ["queue_name", "actor_name"]
        self.messages = prom.Counter(
            "dramatiq_messages", "The total number of messages processed.", labels, registry=reg,
        )
        self.message_errors = prom.Counter(
            "dramatiq_message_errors", "The total number of errored messages.", labels,
            registry=reg,
        )
        self.message_retries = prom.Counter(
            "dramatiq_message_retries", "The total number of retried messages.", labels,
            registry=reg,
        )
        self.message_rejects = prom.Counter(
            "dramatiq_message_rejects", "The total number of dead-lettered messages.", labels,
            registry=reg,
        )
        self.message_duration = prom.Histogram(
            "dramatiq_message_duration_milliseconds", "The time spent processing messages.",
            labels, buckets=MESSAGE_BUCKETS_MS, registry=reg,
        )


_active: Metrics | None = None


def enable(registry: CollectorRegistry | None = None) -> Metrics:
    """Count in this process from now on (into ``registry`` when given)."""
    global _active
    _active = Metrics(registry)
    return _active


def disable() -> None:
    global _active
    _active = None


def active() -> Metrics | None:
    return _active


# -- hooks ---------------------------------------------------------------------------------

def count_rule_hit(rule: str, mode: str) -> None:
    m = _active
    if m is not None:
        m.rule_hits.labels(rule, mode).inc()


def count_action(action: str, outcome: str) -> None:
    m = _active
    if m is not None:
        m.actions.labels(action, outcome).inc()


def count_api_call(
    platform: str, endpoint: str, *, duration_ms: float, errcode: int | None = None,
    http_status: int | None = None, error: str | None = None,
) -> None:
    """One finished call, as ``Transport`` logs it: ``errcode`` 0 (or None with a 2xx status)
    is a success; ``error`` names a failure without a platform answer."""
    m = _active
    if m is None:
        return
    m.api_calls.labels(platform, endpoint).inc()
    m.api_duration.labels(platform, endpoint).observe(duration_ms / 1000)
    code = error_code(errcode=errcode, http_status=http_status, error=error)
    if code is not None:
        m.api_errors.labels(platform, endpoint, code).inc()


def error_code(
    *, errcode: int | None, http_status: int | None, error: str | None
) -> str | None:
    """The ``code`` label of a failed call, or None for a success."""
    if error is not None:
        return "malformed" if error.startswith("malformed") else error
    if errcode not in (None, 0):
        return str(errcode)
    if http_status is not None and not 200 <= http_status < 300:
        return f"http_{http_status}"
    return None


def count_quota_pause(platform: str, account: str, endpoint: str) -> None:
    m = _active
    if m is not None:
        m.quota_pauses.labels(platform, account, endpoint).inc()


def set_poll_budget(account: str, *, limit: int, remaining: float) -> None:
    m = _active
    if m is not None:
        m.poll_budget.labels(account).set(remaining)
        m.poll_limit.labels(account).set(limit)


def count_poll(account: str, *, new_comments: int) -> None:
    m = _active
    if m is not None:
        m.polls.labels(account, "new" if new_comments else "none").inc()


def count_poll_failure(account: str, reason: str) -> None:
    m = _active
    if m is not None:
        m.poll_failures.labels(account, reason).inc()


class FreshnessCollector:
    """The freshness gauges, read from Redis at each scrape by the daemon's main process
    (a gauge kept by the worker that polled last would go stale with a dead worker)."""

    def __init__(self, probe: Callable[[], HealthProbe | None]) -> None:
        self._probe = probe

    def collect(self) -> Iterator[Any]:
        from prometheus_client.core import GaugeMetricFamily

        from worker.pipeline.freshness import Freshness

        probe = self._probe()
        if probe is None:
            return
        fresh = Freshness(redis=probe.redis, keys=probe.keys)
        try:
            targets = fresh.targets()
            credentials = fresh.credentials()
        except (redis.RedisError, OSError) as exc:
            log.warning("metrics_freshness_unavailable", detail=str(exc))
            return
        last_poll = GaugeMetricFamily(
            "modworker_last_successful_poll_timestamp_seconds",
            "Unix time of the last successful poll of a target.", labels=["account", "target"],
        )
        for record in targets:
            if record.last_ok is not None:
                last_poll.add_metric([record.account, record.target], record.last_ok)
        yield last_poll
        accepted = GaugeMetricFamily(
            "modworker_credentials_accepted",
            "1: the platform last accepted the account's credentials; 0: it refused them.",
            labels=["account"],
        )
        for account, state in sorted(credentials.items()):
            accepted.add_metric([account], 1.0 if state.status == "accepted" else 0.0)
        yield accepted


def broker_middleware() -> list[Middleware]:
    """The message-metrics middleware when this process counts, else nothing."""
    m = _active
    return [] if m is None else [MessageMetrics(m)]


class MessageMetrics(Middleware):
    """dramatiq's message counters and durations (see the module docstring)."""

    def __init__(self, metrics: Metrics) -> None:
        self._m = metrics
        self._started: dict[str, float] = {}  # message id -> perf_counter at start

    def before_process_message(self, broker: dramatiq.Broker, message: MessageProxy) -> None:
        self._started[message.message_id] = time.perf_counter()

    def after_process_message(
        self, broker: dramatiq.Broker, message: MessageProxy, *,
        result: Any = None, exception: BaseException | None = None,
    ) -> None:
        labels = (message.queue_name, message.actor_name)
        started = self._started.pop(message.message_id, None)
        if started is not None:
            elapsed_ms = (time.perf_counter() - started) * 1000
            self._m.message_duration.labels(*labels).observe(elapsed_ms)
        self._m.messages.labels(*labels).inc()
        if exception is not None:
            self._m.message_errors.labels(*labels).inc()

    def after_skip_message(self, broker: dramatiq.Broker, message: MessageProxy) -> None:
        self.after_process_message(broker, message)

    def after_enqueue(self, broker: dramatiq.Broker, message: Any, delay: int) -> None:
        if "retries" in message.options:  # set by Retries when it re-enqueues a failure
            self._m.message_retries.labels(message.queue_name, message.actor_name).inc()

    def after_nack(self, broker: dramatiq.Broker, message: MessageProxy) -> None:
        self._m.message_rejects.labels(message.queue_name, message.actor_name).inc()


# -- processes and exposition --------------------------------------------------------------

def start_exposition(host: str, port: int, registry: CollectorRegistry) -> Listener:
    """Serve ``registry`` over HTTP on ``host:port`` (port 0: any free port). Raises OSError."""
    from worker.listener import start_listener

    return start_listener(host, port, registry=registry, probe=lambda: None)


def metrics_dir(config: Config) -> Path:
    return config.state_dir / "metrics"


def prepare_multiprocess_dir(directory: Path) -> Path:
    """Create or empty ``directory`` and point ``PROMETHEUS_MULTIPROC_DIR`` at it.

    Must run before prometheus_client is imported by any process that will count, and before
    the worker processes are spawned (they inherit the environment).
    """
    directory.mkdir(parents=True, exist_ok=True)
    for stale in directory.glob("*.db"):  # the last run's values: start from zero
        stale.unlink()
    os.environ[MULTIPROC_ENV] = str(directory)
    return directory


def serve_daemon(
    config: Config, *, probe: Callable[[], HealthProbe | None] = lambda: None,
) -> Listener | None:
    """In the daemon's main process, before any worker is spawned: prepare the multiprocess
    directory and serve the sum of every process's values, the freshness gauges and the
    health endpoints (:mod:`worker.listener`; ``probe`` gives the daemon's
    :class:`~worker.health.HealthProbe` once it has one). None when metrics are off.

    Raises :class:`ExpositionError` when the address cannot be listened on.
    """
    settings = config.metrics
    if not settings.enabled:
        return None
    directory = prepare_multiprocess_dir(metrics_dir(config))
    from prometheus_client import CollectorRegistry
    from prometheus_client.multiprocess import MultiProcessCollector

    from worker.listener import start_listener

    registry = CollectorRegistry()
    MultiProcessCollector(registry, path=str(directory))  # type: ignore[no-untyped-call]
    registry.register(FreshnessCollector(probe))
    try:
        exposition = start_listener(settings.host, settings.port, registry=registry,
                                    probe=probe)
    except OSError as exc:
        raise ExpositionError(
            f"cannot serve metrics on {settings.host}:{settings.port}: "
            f"{exc.strerror or exc} (see metrics.host and metrics.port)"
        ) from None
    log.info("metrics_serving", url=exposition.url, directory=str(directory))
    return exposition


def enable_in_worker(config: Config) -> bool:
    """In a worker process, at start: count when metrics are on. True when counting."""
    if not config.metrics.enabled:
        return False
    directory = os.environ.get(MULTIPROC_ENV)
    if not directory or not Path(directory).is_dir():
        log.warning("metrics_off", detail=f"metrics.enabled is true but {MULTIPROC_ENV} is not "
                    "a directory: this process was not started by `modworker run`; it counts "
                    "nothing")
        return False
    from prometheus_client import values

    if not getattr(values.ValueClass, "_multiprocess", False):
        log.error("metrics_off", detail=f"prometheus_client was imported before {MULTIPROC_ENV} "
                  "was set: its values would stay in this process; it counts nothing")
        return False
    enable()
    return True
