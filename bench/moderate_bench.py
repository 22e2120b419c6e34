"""The ``moderate`` actor alone, in this process: CPU time and Redis round trips per comment.

The pipeline bench measures the whole daemon, whose worker CPU is mostly polling and acting
(HTTP) and moves by +-20 % with the machine's load; this one times only what ``moderate`` does
with a page (evaluation, audit records, offense counts, rule stats, batch buffer, act
messages), with ``time.process_time`` of this process, so that a change to that path shows.

What runs: an :class:`~worker.redis_server.EmbeddedRedis` (unix socket, append-only on), the
sandbox in this process (only for the runtime's account; ``moderate`` calls no API), the
real actors on a StubBroker (act and flush messages are collected, not run: an enqueue on the
daemon's Redis broker would add a round trip per act message), the pipeline bench's rules and
generated WeChat comments (7 % violating, repeat spammers), in pages of 49 as a poll sends them.

Printed: moderate's CPU microseconds per comment; Redis round trips per comment (requests sent
on the client's connections: a pipeline counts once) and the commands per comment Redis
counted (``INFO commandstats``), the most frequent first. Run:

    .venv/bin/python bench/moderate_bench.py                # 6,000 comments
    .venv/bin/python bench/moderate_bench.py --comments 20000
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import redis as redis_lib
import redis.connection
from dramatiq.brokers.stub import StubBroker

from bench.pipeline_world import (
    APP_ID,
    APP_SECRET,
    WECHAT_PAGE,
    Generator,
    Target,
    make_targets,
    write_config,
)
from worker.config import load_config
from worker.logs import configure_logging
from worker.pipeline.actors import Pipeline
from worker.pipeline.runtime import WorkerRuntime
from worker.redis_server import EmbeddedRedis
from worker.sandbox import Sandbox


@contextmanager
def counted_requests() -> Iterator[list[int]]:
    """Counts what every redis-py connection sends: one request per command, one per
    pipeline (the counter's only element)."""
    sent = [0]
    original: Callable[..., None] = redis.connection.AbstractConnection.send_packed_command

    def counting(self: Any, command: Any, check_health: bool = True) -> None:
        sent[0] += 1
        original(self, command, check_health)

    redis.connection.AbstractConnection.send_packed_command = counting  # type: ignore[method-assign]
    try:
        yield sent
    finally:
        redis.connection.AbstractConnection.send_packed_command = original  # type: ignore[method-assign]


def pages_of(target: Target, count: int) -> list[list[dict[str, Any]]]:
    """``count`` generated comments on ``target``, as moderate messages' pages."""
    items = Generator(seed=7).make([target], count, spam=0.05, abuse=0.02, praise=0.01)
    start = time.time() - count
    comments = []
    for serial, item in enumerate(items, start=1):
        data = item.comment().to_dict()
        data.update(id=str(serial), created_at=start + serial)
        comments.append(data)
    return [comments[i:i + WECHAT_PAGE] for i in range(0, len(comments), WECHAT_PAGE)]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--comments", type=int, default=6_000)
    args = parser.parse_args()
    targets = make_targets()
    wechat = targets[0]
    os.environ.setdefault("BENCH_WX_SECRET", APP_SECRET)
    os.environ.setdefault("BENCH_WB_TOKEN", "unused")
    with (open(os.devnull, "w", encoding="utf-8") as logs,  # the log lines are written, unread
          tempfile.TemporaryDirectory(prefix="moderate-bench-") as tmp, Sandbox(port=0) as box):
        configure_logging(level="INFO", stream=logs, json=True)
        box.add_wechat_app(app_id=APP_ID, app_secret=APP_SECRET)
        server = EmbeddedRedis(state_dir=Path(tmp) / "redis", appendonly=True)
        server.start()
        try:
            path = write_config(Path(tmp), redis_url=server.url, sandbox_url=box.url,
                                targets=targets, interval=2.0, batch_wait=1.0)
            runtime = WorkerRuntime(config=load_config(path), redis_url=server.url)
            try:
                report(Pipeline(StubBroker(), runtime), server, wechat, args.comments)
            finally:
                runtime.close()
        finally:
            server.stop()


def report(pipeline: Pipeline, server: EmbeddedRedis, target: Target, count: int) -> None:
    warm_up, *pages = pages_of(target, count + WECHAT_PAGE)
    pipeline.moderate(target.account, target.key, warm_up)  # scripts loaded, tables warm
    stats_client = redis_lib.Redis.from_url(server.url)
    stats_client.config_resetstat()
    with counted_requests() as sent:
        started = time.process_time()
        for page in pages:
            pipeline.moderate(target.account, target.key, page)
        cpu = time.process_time() - started
        requests = sent[0]
    commands = {name.removeprefix("cmdstat_"): int(stat["calls"])
                for name, stat in stats_client.info("commandstats").items()}
    commands.pop("config", None)
    n = sum(len(page) for page in pages)
    print(f"moderate: {n:,} comments in pages of {WECHAT_PAGE}; CPU {cpu:.2f} s "
          f"({cpu / n * 1e6:.0f} us a comment, this process)")
    print(f"Redis round trips a comment {requests / n:.3f}; commands a comment "
          f"{sum(commands.values()) / n:.2f}: " + ", ".join(
              f"{name} {calls / n:.3f}"
              for name, calls in sorted(commands.items(), key=lambda kv: -kv[1])[:8]))


if __name__ == "__main__":
    main()
