"""``modworker run``: the foreground daemon and its process tree.

::

    modworker run (this process)
    ├── embedded redis-server (only when redis.url is not configured; started first, stopped last)
    ├── scheduler thread (polls and flushes, only while it holds the Redis lock)
    └── N worker processes, each a dramatiq Worker with T threads running the actors

Signals: SIGTERM or SIGINT stop gracefully: the scheduler stops sending, workers finish the
messages they are running (unstarted ones stay in Redis), then the embedded Redis stops.
SIGHUP makes every worker reload the rules (a broken file keeps the old rules). A worker
process that dies is restarted; its unacknowledged messages go back to the queue.

Exit codes: 0 stopped by a signal; 1 invalid configuration or rules; 3 Redis unavailable or
the embedded Redis could not start.
"""

from __future__ import annotations

import multiprocessing
import multiprocessing.process
import os
import signal
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from types import FrameType

import dramatiq
import structlog

from worker import metrics
from worker.config import Config, load_config
from worker.errors import ConfigError, EmbeddedRedisError
from worker.logging import configure_logging
from worker.pipeline.actors import declare_actors, set_runtime
from worker.pipeline.broker import make_broker
from worker.pipeline.runtime import Runtime
from worker.pipeline.scheduler import Scheduler
from worker.procutil import die_with_parent
from worker.redis_server import EmbeddedRedis
from worker.rules import load_rules

log = structlog.get_logger("worker.daemon")

EXIT_OK = 0
EXIT_CONFIG = 1
EXIT_REDIS = 3
WORKER_STOP_TIMEOUT = 60.0  # seconds a worker may take to finish its running messages
RESTART_BACKOFF = 2.0


@dataclass(frozen=True, kw_only=True)
class RunOptions:
    config_path: Path
    processes: int = 2
    threads: int = 8
    log_level: str = "INFO"
    json_logs: bool | None = None


# -- worker process ------------------------------------------------------------------------

def worker_process_main(options: RunOptions, redis_url: str, index: int) -> None:
    """Entry point of one worker process (started with the spawn method)."""
    die_with_parent(signal.SIGTERM)  # a SIGKILLed daemon leaves no orphan worker
    configure_logging(level=options.log_level, json=options.json_logs)
    process = f"worker-{index}"
    structlog.contextvars.bind_contextvars(process=process)
    stop = threading.Event()
    config = load_config(options.config_path)
    metrics.enable_in_worker(config)  # before make_broker: its middleware counts messages
    runtime = Runtime(config=config, redis_url=redis_url)
    set_runtime(runtime)

    def on_term(signum: int, frame: FrameType | None) -> None:
        stop.set()

    def on_hup(signum: int, frame: FrameType | None) -> None:
        if runtime.rules is not None:
            runtime.rules.request_reload()

    signal.signal(signal.SIGTERM, on_term)
    signal.signal(signal.SIGINT, on_term)
    signal.signal(signal.SIGHUP, on_hup)

    broker = make_broker(config, redis_url, process=process)
    actors = declare_actors(broker)
    broker.emit_after("process_boot")  # as dramatiq's CLI does: TimeLimit starts its timer here
    worker = dramatiq.Worker(broker, queues=actors.queues, worker_threads=options.threads,
                             worker_timeout=500)
    worker.start()
    log.info("worker_started", threads=options.threads, pid=os.getpid())
    # Touch the rules now and then so that file changes are picked up even when idle.
    while not stop.wait(1.0):
        if runtime.rules is not None:
            _ = runtime.rules.rules
    log.info("worker_stopping", detail="finishing running messages")
    worker.stop(timeout=int(WORKER_STOP_TIMEOUT * 1000))
    broker.close()
    runtime.close()
    log.info("worker_stopped")


# -- main process --------------------------------------------------------------------------

class Daemon:
    def __init__(self, options: RunOptions, config: Config) -> None:
        self.options = options
        self.config = config
        self.stop = threading.Event()
        self.reload_requested = threading.Event()
        self.embedded: EmbeddedRedis | None = None
        self.processes: dict[int, multiprocessing.process.BaseProcess] = {}
        self._context = multiprocessing.get_context("spawn")

    def _start_worker(self, index: int, redis_url: str) -> None:
        process = self._context.Process(
            target=worker_process_main, args=(self.options, redis_url, index),
            name=f"modworker-worker-{index}",
        )
        process.start()
        self.processes[index] = process

    def run(self) -> int:
        redis_url = self.config.redis.url
        if redis_url is None:
            self.embedded = EmbeddedRedis(state_dir=self.config.state_dir)
            try:
                self.embedded.start()
            except EmbeddedRedisError as exc:
                log.error("embedded_redis_failed", detail=str(exc))
                return EXIT_REDIS
            redis_url = self.embedded.url
            log.info("embedded_redis_started", state_dir=str(self.config.state_dir),
                     pid=self.embedded.pid)
        exposition: metrics.Exposition | None = None
        try:
            exposition = metrics.serve_daemon(self.config)  # sets the env the workers inherit
            return self._run(redis_url)
        except metrics.ExpositionError as exc:
            log.error("metrics_unavailable", detail=str(exc))
            return EXIT_CONFIG
        finally:
            if exposition is not None:
                exposition.close()
            if self.embedded is not None:
                self.embedded.stop()
                log.info("embedded_redis_stopped")

    def _run(self, redis_url: str) -> int:
        runtime = Runtime(config=self.config, redis_url=redis_url, load_rules=False)
        try:
            runtime.redis.ping()
        except Exception as exc:  # noqa: BLE001 - any failure to reach Redis ends here
            log.error("redis_unavailable", detail=str(exc))
            return EXIT_REDIS
        cleared = runtime.ledger.clear_disabled()  # 88000/48001 disable until restart/reload
        if cleared:
            log.info("disabled_actions_cleared", count=cleared)
        broker = make_broker(self.config, redis_url)
        actors = declare_actors(broker)
        scheduler = Scheduler(runtime=runtime, actors=actors)

        def on_term(signum: int, frame: FrameType | None) -> None:
            log.info("stopping", signal=signal.Signals(signum).name)
            self.stop.set()

        def on_hup(signum: int, frame: FrameType | None) -> None:
            log.info("reload_requested", detail="workers reload the rules; actions disabled "
                     "by 88000/48001 are enabled again")
            self.reload_requested.set()
            for process in self.processes.values():
                if process.pid is not None and process.is_alive():
                    os.kill(process.pid, signal.SIGHUP)

        signal.signal(signal.SIGTERM, on_term)
        signal.signal(signal.SIGINT, on_term)
        signal.signal(signal.SIGHUP, on_hup)

        for index in range(self.options.processes):
            self._start_worker(index, redis_url)
        scheduler_thread = threading.Thread(
            target=scheduler.run, args=(self.stop,), name="scheduler", daemon=True
        )
        scheduler_thread.start()
        log.info("daemon_started", processes=self.options.processes,
                 threads=self.options.threads, dry_run=self.config.dry_run,
                 accounts=len(self.config.accounts))
        restart_at: dict[int, float] = {}
        while not self.stop.wait(0.5):
            if self.reload_requested.is_set():
                self.reload_requested.clear()
                runtime.ledger.clear_disabled()
            for index, process in list(self.processes.items()):
                if process.is_alive():
                    continue
                due = restart_at.setdefault(index, time.monotonic() + RESTART_BACKOFF)
                if time.monotonic() >= due:
                    log.error("worker_died", index=index, exitcode=process.exitcode,
                              detail="restarting it; its unfinished messages are recovered")
                    restart_at.pop(index)
                    self._start_worker(index, redis_url)
        scheduler_thread.join(timeout=10)
        for process in self.processes.values():
            if process.is_alive() and process.pid is not None:
                os.kill(process.pid, signal.SIGTERM)
        deadline = time.monotonic() + WORKER_STOP_TIMEOUT + 5
        for process in self.processes.values():
            process.join(timeout=max(0.1, deadline - time.monotonic()))
            if process.is_alive():
                log.error("worker_killed", pid=process.pid, detail="did not stop in time")
                process.kill()
                process.join()
        broker.close()
        runtime.close()
        log.info("daemon_stopped")
        return EXIT_OK


def run_daemon(options: RunOptions) -> int:
    configure_logging(level=options.log_level, json=options.json_logs)
    try:
        config = load_config(options.config_path)
        # Refuse to start with rules that do not load; workers load them again themselves.
        load_rules(config.rules, accounts={a.name: a.platform for a in config.accounts},
                   normalize=config.normalize)
    except ConfigError as exc:
        for problem in exc.problems:
            log.error("config_problem", problem=str(problem), file=problem.file,
                      line=problem.line, rule=problem.rule)
        return EXIT_CONFIG
    return Daemon(options, config).run()
