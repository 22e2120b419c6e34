"""``modworker run``: the foreground daemon and its process tree.

::

    modworker run (this process)
    ├── embedded redis-server (only when redis.url is not configured; started first, stopped last)
    ├── scheduler thread (polls and flushes, only while it holds the Redis lock)
    └── N worker processes, each a dramatiq Worker with T threads running the actors

Signals: SIGTERM or SIGINT stop gracefully: the scheduler stops sending, workers finish the
messages they are running (unstarted ones stay in Redis), then the embedded Redis stops.
SIGHUP makes every worker reload the rules (a broken file keeps the old rules), the scheduler
reload config.yaml's targets, and enables the actions 88000/48001 disabled again; a worker is
started with SIGHUP blocked and unblocks it once its handler is installed, so a SIGHUP that
arrives while it starts is a reload, not its death.

Supervision: the daemon watches everything it starts. A worker process that dies is restarted
(its unacknowledged messages go back to the queue); a scheduler thread that ends without being
asked to is restarted; an embedded Redis that dies is restarted on the same files, and when
that fails the daemon stops with exit 3. Each is one JSON event.

Workers get the daemon's parsed config (pickled into the spawned process): they never read
config.yaml themselves, so an edited or broken file cannot give them a different config than
the scheduler's; they reload only the rules, on SIGHUP or when their files change.

Exit codes (:mod:`worker.exit_codes`): 0 stopped by a signal; 1 invalid configuration or
rules; 3 Redis unavailable or the embedded Redis could not start; 5 a runtime resource
unavailable (the metrics port is busy, no worker process could be spawned): unlike 1, worth a
restart.
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
import redis as redis_lib
import structlog

from worker import __version__, metrics
from worker.config import Config, load_config
from worker.credentials import verify_at_start
from worker.errors import ConfigError, EmbeddedRedisError
from worker.exit_codes import EXIT_CONFIG, EXIT_OK, EXIT_REDIS, EXIT_RUNTIME
from worker.health import BEAT_INTERVAL, HealthProbe, LocalState, remove_beat, write_beat
from worker.identity import file_digest, tree_digest
from worker.listener import Listener
from worker.logs import configure_logging, register_secret
from worker.pipeline.actors import Pipeline
from worker.pipeline.broker import make_broker
from worker.pipeline.connect import RedisEndpoint
from worker.pipeline.runtime import Runtime, WorkerRuntime, rules_holder
from worker.pipeline.scheduler import Scheduler
from worker.procutil import die_with_parent, limit_malloc_arenas, release_freed_memory
from worker.redis_server import EmbeddedRedis

log = structlog.get_logger("worker.daemon")

WORKER_STOP_TIMEOUT = 60.0  # seconds a worker may take to finish its running messages
RESTART_BACKOFF = 2.0
#: glibc malloc arenas of a worker process: its threads share two rather than spreading over
#: up to eight per core, where freed memory stays behind (see limit_malloc_arenas).
WORKER_MALLOC_ARENAS = 2


@dataclass(frozen=True, kw_only=True)
class RunOptions:
    config_path: Path
    processes: int = 2
    threads: int = 8
    log_level: str = "INFO"
    json_logs: bool | None = None


# -- worker process ------------------------------------------------------------------------

def worker_process_main(
    options: RunOptions, config: Config, endpoint: RedisEndpoint, index: int
) -> None:
    """Entry point of one worker process (started with the spawn method, SIGHUP blocked)."""
    arenas_limited = limit_malloc_arenas(WORKER_MALLOC_ARENAS)  # before any thread starts
    reload_requested = threading.Event()  # a SIGHUP before the rules were loaded
    runtime: WorkerRuntime | None = None

    def on_hup(signum: int, frame: FrameType | None) -> None:
        if runtime is not None:
            runtime.rules.request_reload()
        else:
            reload_requested.set()

    signal.signal(signal.SIGHUP, on_hup)
    signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGHUP})  # blocked by the parent
    die_with_parent(signal.SIGTERM)  # a SIGKILLed daemon leaves no orphan worker
    configure_logging(level=options.log_level, json=options.json_logs)
    process = f"worker-{index}"
    structlog.contextvars.bind_contextvars(process=process)
    stop = threading.Event()
    counting = metrics.enable_in_worker(config)
    runtime = WorkerRuntime(config=config, endpoint=endpoint)

    def on_term(signum: int, frame: FrameType | None) -> None:
        stop.set()

    signal.signal(signal.SIGTERM, on_term)
    signal.signal(signal.SIGINT, on_term)

    broker = make_broker(config, endpoint, process=process,
                         middleware=metrics.broker_middleware() if counting else ())
    actors = Pipeline(broker, runtime).actors
    broker.emit_after("process_boot")  # as dramatiq's CLI does: TimeLimit starts its timer here
    worker = dramatiq.Worker(broker, queues=actors.queues, worker_threads=options.threads,
                             worker_timeout=500)
    worker.start()
    log.info("worker_started", threads=options.threads, pid=os.getpid(),
             malloc_arenas=WORKER_MALLOC_ARENAS if arenas_limited else None)
    # Touch the rules now and then so that file changes are picked up even when idle.
    if reload_requested.is_set():
        runtime.rules.request_reload()
    while not stop.wait(1.0):
        _ = runtime.rules.rules
    log.info("worker_stopping", detail="finishing running messages")
    worker.stop(timeout=int(WORKER_STOP_TIMEOUT * 1000))
    broker.close()
    runtime.close()
    log.info("worker_stopped")


def _scheduler_main(scheduler: Scheduler, stop: threading.Event) -> None:
    """The scheduler thread: anything that escapes its loop is one event, not a traceback on
    stderr; the daemon sees the thread end and starts another."""
    try:
        scheduler.run(stop)
    except Exception:
        log.exception("scheduler_crashed", detail="the daemon restarts it")


# -- main process --------------------------------------------------------------------------

class Daemon:
    def __init__(self, options: RunOptions, config: Config) -> None:
        self.options = options
        self.config = config
        self.stop = threading.Event()
        self.reload_requested = threading.Event()
        self.embedded: EmbeddedRedis | None = None
        self.exposition: Listener | None = None
        self.processes: dict[int, multiprocessing.process.BaseProcess] = {}
        self._context = multiprocessing.get_context("spawn")
        self._probe: HealthProbe | None = None  # set once Redis answers: /healthz, /readyz
        self._scheduler_thread: threading.Thread | None = None
        self._scheduler_restart_at: float | None = None  # when a dead scheduler is restarted
        self._restart_at: dict[int, float] = {}  # when each dead worker is restarted
        self._started_at = time.time()

    def _start_worker(self, index: int, endpoint: RedisEndpoint) -> None:
        process = self._context.Process(
            target=worker_process_main, args=(self.options, self.config, endpoint, index),
            name=f"modworker-worker-{index}",
        )
        # The child inherits the blocked SIGHUP through fork and exec and unblocks it once
        # its handler is installed: a reload sent meanwhile waits instead of killing it.
        previous = signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGHUP})
        try:
            process.start()
        finally:
            signal.pthread_sigmask(signal.SIG_SETMASK, previous)
        self.processes[index] = process

    def run(self) -> int:
        endpoint = RedisEndpoint.configured(self.config.redis)
        if endpoint is None:
            self.embedded = EmbeddedRedis(state_dir=self.config.state_dir)
            try:
                self.embedded.start()
            except EmbeddedRedisError as exc:
                log.error("embedded_redis_failed", detail=str(exc))
                return EXIT_REDIS
            endpoint = RedisEndpoint(url=self.embedded.url)
            log.info("embedded_redis_started", state_dir=str(self.config.state_dir),
                     pid=self.embedded.pid)
        try:
            # Sets the workers' env; serves /healthz and /readyz too.
            self.exposition = metrics.serve_daemon(self.config, probe=lambda: self._probe)
            return self._run(endpoint)
        except metrics.ExpositionError as exc:
            # A busy port is a runtime problem, not a bad config: systemd restarts exit 5.
            log.error("metrics_unavailable", detail=str(exc), exit_code=EXIT_RUNTIME)
            return EXIT_RUNTIME
        finally:
            if self.exposition is not None:
                self.exposition.close()
            if self.embedded is not None:
                self.embedded.stop()
                log.info("embedded_redis_stopped")

    def _run(self, endpoint: RedisEndpoint) -> int:
        runtime = self._open_runtime(endpoint)
        if runtime is None:
            return EXIT_REDIS
        verify_at_start(self.config, redis=runtime.redis, freshness=runtime.freshness)
        broker = make_broker(self.config, endpoint)
        scheduler = Scheduler(runtime=runtime, actors=Pipeline(broker).actors)
        self._handle_signals(scheduler)
        try:
            for index in range(self.options.processes):
                self._start_worker(index, endpoint)
        except OSError as exc:  # no memory, no process slot: a runtime problem (exit 5)
            log.error("worker_spawn_failed", detail=str(exc), exit_code=EXIT_RUNTIME)
            self._stop_workers()
            broker.close()
            runtime.close()
            return EXIT_RUNTIME
        self._scheduler_thread = self._start_scheduler(scheduler)
        self._started_at = time.time()
        self._probe = HealthProbe(config=self.config, redis=runtime.redis,
                                  local=self._local_state)
        self._log_started(endpoint)
        code = self._supervise(runtime, endpoint, scheduler)
        self._scheduler_thread.join(timeout=10)
        self._stop_workers()
        self._probe = None
        try:
            remove_beat(runtime.redis, runtime.keys)
        except (redis_lib.RedisError, OSError) as exc:
            log.debug("beat_not_removed", detail=str(exc))  # it ages out in 15 s anyway
        broker.close()
        runtime.close()
        log.info("daemon_stopped", exit_code=code)
        return code

    def _open_runtime(self, endpoint: RedisEndpoint) -> Runtime | None:
        """The main process's Runtime once Redis answers (None, told, when it does not);
        actions disabled by 88000/48001 are enabled again, as on every start."""
        runtime = Runtime(config=self.config, endpoint=endpoint)
        try:
            runtime.redis.ping()
            cleared = runtime.ledger.clear_disabled()
        except Exception as exc:  # noqa: BLE001 - any failure to use Redis at start ends here
            log.error("redis_unavailable", redis=endpoint.describe(), error=type(exc).__name__,
                      detail=str(exc), exit_code=EXIT_REDIS)
            runtime.close()
            return None
        if cleared:
            log.info("disabled_actions_cleared", count=cleared)
        return runtime

    def _handle_signals(self, scheduler: Scheduler) -> None:
        """SIGTERM and SIGINT stop; SIGHUP reloads the scheduler's targets and every worker's
        rules, and enables disabled actions again."""

        def on_term(signum: int, frame: FrameType | None) -> None:
            log.info("stopping", signal=signal.Signals(signum).name)
            self.stop.set()

        def on_hup(signum: int, frame: FrameType | None) -> None:
            log.info("reload_requested", detail="workers reload the rules, the scheduler "
                     "config.yaml's targets; actions disabled "
                     "by 88000/48001 are enabled again")
            self.reload_requested.set()
            scheduler.request_reload()
            for process in self.processes.values():
                if process.pid is not None and process.is_alive():
                    os.kill(process.pid, signal.SIGHUP)

        signal.signal(signal.SIGTERM, on_term)
        signal.signal(signal.SIGINT, on_term)
        signal.signal(signal.SIGHUP, on_hup)

    def _local_state(self) -> LocalState:
        """What this process knows of itself, for /healthz, /readyz and the beat."""
        thread = self._scheduler_thread
        return LocalState(
            scheduler_alive=thread is not None and thread.is_alive(),
            workers={i: p.is_alive() for i, p in self.processes.items()},
            started_at=self._started_at,
        )

    def _log_started(self, endpoint: RedisEndpoint) -> None:
        config_path = self.config.path or self.options.config_path
        log.info("daemon_started", version=__version__, processes=self.options.processes,
                 threads=self.options.threads, dry_run=self.config.dry_run,
                 accounts=len(self.config.accounts), redis=endpoint.describe(),
                 config=str(config_path), config_sha256=file_digest(Path(config_path)),
                 rules_sha256=tree_digest(self.config.rules))

    def _supervise(self, runtime: Runtime, endpoint: RedisEndpoint, scheduler: Scheduler) -> int:
        """Watch everything started until asked to stop: the exit code."""
        next_beat = 0.0
        while not self.stop.wait(0.5):
            if time.monotonic() >= next_beat:
                next_beat = time.monotonic() + BEAT_INTERVAL
                self._beat(runtime, self._local_state())
            embedded_died = self.embedded is not None and not self.embedded.alive
            if embedded_died and not self._restart_embedded():
                self.stop.set()
                return EXIT_REDIS
            self._enable_disabled_actions_on_reload(runtime)
            self._watch_exposition()
            self._watch_scheduler(scheduler)
            self._watch_workers(runtime, endpoint)
        return EXIT_OK

    def _enable_disabled_actions_on_reload(self, runtime: Runtime) -> None:
        try:
            if self.reload_requested.is_set():
                runtime.ledger.clear_disabled()
                self.reload_requested.clear()
        except redis_lib.RedisError as exc:
            log.warning("disabled_actions_not_cleared", error=type(exc).__name__,
                        detail=str(exc), retry="on the next round")

    def _watch_exposition(self) -> None:
        if self.exposition is not None and not self.exposition.thread.is_alive():
            log.error("metrics_stopped", detail="the metrics HTTP server thread ended; "
                      "moderation goes on without /metrics until a restart")
            self.exposition = None

    def _watch_scheduler(self, scheduler: Scheduler) -> None:
        """A scheduler thread that ended is started again after :data:`RESTART_BACKOFF`."""
        if self._scheduler_thread is None or self._scheduler_thread.is_alive():
            return
        now = time.monotonic()
        if self._scheduler_restart_at is None:
            self._scheduler_restart_at = now + RESTART_BACKOFF
        elif now >= self._scheduler_restart_at:
            log.error("scheduler_died", detail="restarting it")
            self._scheduler_restart_at = None
            self._scheduler_thread = self._start_scheduler(scheduler)

    def _watch_workers(self, runtime: Runtime, endpoint: RedisEndpoint) -> None:
        """A worker process that died is started again after :data:`RESTART_BACKOFF`."""
        for index, process in list(self.processes.items()):
            if process.is_alive():
                continue
            due = self._restart_at.setdefault(index, time.monotonic() + RESTART_BACKOFF)
            if time.monotonic() >= due:
                log.error("worker_died", index=index, exitcode=process.exitcode,
                          detail="restarting it; its unfinished messages are recovered")
                runtime.notifier.event(
                    "worker_died", detail=f"worker {index} exited with {process.exitcode}; "
                    "restarted, its unfinished messages recovered")
                self._restart_at.pop(index)
                self._start_worker(index, endpoint)

    def _stop_workers(self) -> None:
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

    @staticmethod
    def _beat(runtime: Runtime, state: LocalState) -> None:
        """This daemon's state in Redis, for `modworker health` in another shell."""
        try:
            write_beat(runtime.redis, runtime.keys, state)
        except (redis_lib.RedisError, OSError) as exc:
            # The scheduler tells Redis outages (scheduler_redis_error); health says it.
            log.debug("beat_not_written", detail=str(exc))

    def _start_scheduler(self, scheduler: Scheduler) -> threading.Thread:
        thread = threading.Thread(
            target=_scheduler_main, args=(scheduler, self.stop), name="scheduler", daemon=True
        )
        thread.start()
        return thread

    def _restart_embedded(self) -> bool:
        """The embedded Redis died under us: start it again on its files, or say why not."""
        assert self.embedded is not None
        log.error("embedded_redis_died", exitcode=self.embedded.exitcode,
                  detail="restarting it on the same files")
        try:
            self.embedded.restart()
        except EmbeddedRedisError as exc:
            log.error("embedded_redis_failed", detail=str(exc), exit_code=EXIT_REDIS)
            return False
        log.info("embedded_redis_restarted", pid=self.embedded.pid)
        return True


def _hup_while_starting(signum: int, frame: FrameType | None) -> None:
    log.info("reload_requested", detail="while starting: the rules are being loaded anyway")


def run_daemon(options: RunOptions) -> int:
    # A reload (systemctl reload) that comes before the real handler must not kill the daemon.
    # A Python handler, unlike SIG_IGN, is not inherited by the embedded Redis it starts.
    signal.signal(signal.SIGHUP, _hup_while_starting)
    configure_logging(level=options.log_level, json=options.json_logs)
    try:
        config = load_config(options.config_path)
        for secret in config.redis.secrets:
            register_secret(secret)
        # Refuse to start with rules that do not load and no last good rule set to start from
        # (logged as rules_reload_failed); workers load them again themselves, so this
        # process gives back what the load used.
        rules_holder(config)
        release_freed_memory()
    except ConfigError as exc:
        for problem in exc.problems:
            log.error("config_problem", problem=str(problem), file=problem.file,
                      line=problem.line, rule=problem.rule)
        return EXIT_CONFIG
    return Daemon(options, config).run()
