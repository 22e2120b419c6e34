"""Pipeline benchmark: the real daemon against the sandbox and a real Redis, end to end.

What runs (all on 127.0.0.1, every process started here is stopped in ``finally``):

- an :class:`~worker.redis_server.EmbeddedRedis` (unix socket, append-only file on, as the
  daemon's embedded default), given to the daemon as ``redis.url``;
- the sandbox as its own process (``python -m worker.sandbox``), seeded and read through its
  admin API, so that it does not share this process's GIL;
- the real daemon, ``python -m worker.cli run -c ... --processes 2 --threads 8``.

Workload: ``--comments`` (default 50,000) generated comments spread evenly over 10 targets
(8 WeChat articles of one account, 2 Weibo posts of another), about 7 % violating (contact
spam and gambling: delete + blacklist; abuse: delete) and 1 % praise on WeChat (elect). Spam
comes from a pool of repeat spammers, so blacklist batches deduplicate openids. The rules
mirror ``rules/``, including a repeat-offender rule (``author.offenses``), so every WeChat
comment reads its author's offense count from Redis (a page's in one round trip), as in a
real deployment. What each comment should get is computed up front with ``RuleSet.evaluate``
and checked against the audit stream and the sandbox's call log.

Printed:

- comments/s listed-to-decided: from the first ``comment/list``/``comments/show`` call the
  sandbox saw to the last decision record in the audit stream;
- actions/s: comment-level effects (deleted comments, elected comments, blacklisted openids,
  destroyed Weibo comments) over first listing call -> last action call;
- new-comment-to-action latency p50/p90/p99/max: after the bulk load, comments are added in
  timed waves while the daemon runs; latency is from the moment each was added to the moment
  the sandbox recorded the call acting on it (its delete / destroy; and to its last action,
  the batched blacklist included);
- API calls per 1,000 comments, against the minimum possible (ceil(n/49) listing pages per
  WeChat target, ceil(n/50) per Weibo post at the client's page size, one call per single
  action, one per 20 batched ids), and the ratio;
- the same for a naive single-threaded loop over a fresh sandbox with the same comments: list
  every page with the platform client, ``RuleSet.evaluate`` each comment, call the action API
  right away, one at a time (one openid per blacklist call, one cid per destroy call).

Also printed: the CPU seconds of every process over the bulk load (daemon, each worker,
sandbox, redis-server, this process), comments the daemon never listed or decided twice, and
with ``--profile DIR`` a py-spy (``--gil``) profile of the workers' hottest functions.

Targets (reported, not asserted): >= 2,000 comments/s listed-to-decided on a 2-core machine,
latency p99 <= poll interval + 2 s. Figures move by +-20 % when anything else runs on the
machine. Run:

    .venv/bin/python bench/pipeline_bench.py               # 50,000 comments, ~2 minutes
    .venv/bin/python bench/pipeline_bench.py --quick       # 5,000 comments, short waves
    .venv/bin/python bench/pipeline_bench.py --profile /tmp/prof   # needs py-spy
"""

from __future__ import annotations

import argparse
import shutil
import signal
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import redis as redis_lib

from bench.bench_processes import (
    DAEMON_STOP_GRACE,
    SandboxProcess,
    Stoppable,
    cleanup_stack,
    exit_on_sigterm,
    start_bench_daemon,
)
from bench.pipeline_audit import AuditWatcher
from bench.pipeline_naive import NaiveResult, run_naive
from bench.pipeline_phases import CpuMeter, DaemonRun, run_bulk, run_waves
from bench.pipeline_report import report_all
from bench.pipeline_world import (
    RULES,
    WAVE_RULES,
    WECHAT_ACCOUNT,
    WEIBO_ACCOUNT,
    Generator,
    Item,
    Target,
    assign_ids,
    expect,
    make_targets,
    seed_document,
    write_config,
)
from worker.logs import configure_logging
from worker.pipeline.keys import Keys
from worker.redis_server import EmbeddedRedis
from worker.rules import RuleSet, load_rules


@dataclass
class Workload:
    """The comments of the bulk load, the rules and what the sandbox is seeded with."""

    targets: list[Target]
    gen: Generator
    items: list[Item]
    rules_text: str
    rules: RuleSet
    document: dict[str, Any]


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--comments", type=int, default=50_000)
    parser.add_argument("--quick", action="store_true",
                        help="5,000 comments and 10 s of waves (unless --comments is given)")
    parser.add_argument("--interval", type=float, default=2.0, help="poll interval, seconds")
    parser.add_argument("--batch-wait", type=float, default=1.0,
                        help="actions.batch_max_wait, seconds")
    parser.add_argument("--processes", type=int, default=2)
    parser.add_argument("--threads", type=int, default=8)
    parser.add_argument("--wave-seconds", type=float, default=None)
    parser.add_argument("--api-latency", type=float, default=0.0,
                        help="seconds the sandbox waits before every API answer, for both the "
                        "daemon and the naive loop (default 0: loopback speed, ~1 ms)")
    parser.add_argument("--keep", type=Path, default=None,
                        help="keep the daemon log, config and Redis files in this directory")
    parser.add_argument("--no-naive", action="store_true", help="skip the naive baseline")
    parser.add_argument("--wave-rules", action="store_true",
                        help="add a content.repeated and an author.burst rule (shadow)")
    parser.add_argument("--profile", type=Path, default=None,
                        help="py-spy the daemon's processes during the bulk load, write the "
                        "collapsed stacks here and print the workers' hottest functions")
    parser.add_argument("--py-spy", default=None, help="path of py-spy (default: on PATH)")
    args = parser.parse_args()
    if args.quick and "--comments" not in sys.argv:
        args.comments = 5_000
    if args.wave_seconds is None:
        args.wave_seconds = 10.0 if args.quick else 30.0
    args.py_spy = args.py_spy or shutil.which("py-spy")
    if args.profile and not args.py_spy:
        raise SystemExit("--profile needs py-spy (pip install py-spy; or --py-spy PATH)")
    return args


def main() -> None:
    args = parse_args()
    configure_logging(level="WARNING", stream=sys.stderr)  # the naive loop's clients log too
    signal.signal(signal.SIGTERM, exit_on_sigterm)  # stop what was started, as on Ctrl-C
    with tempfile.TemporaryDirectory(prefix="pipeline-bench-") as tmp:
        workdir = args.keep.resolve() if args.keep else Path(tmp)
        workdir.mkdir(parents=True, exist_ok=True)
        workload = make_workload(args, workdir)
        with cleanup_stack() as stack:
            embedded = EmbeddedRedis(state_dir=workdir / "redis")
            embedded.start()
            stack.append(embedded)
            run = run_daemon(args, workload, workdir, embedded, stack)
            naive = None if args.no_naive else run_baseline(
                args, workload, workdir, embedded.url, stack)
        report_all(args, workload.items, workload.targets, run, naive)


def make_workload(args: argparse.Namespace, workdir: Path) -> Workload:
    targets = make_targets()
    gen = Generator(seed=20240601)
    items = gen.make(targets, args.comments, spam=0.05, abuse=0.02, praise=0.01)
    (workdir / "rules").mkdir(exist_ok=True)
    rules_text = RULES + (WAVE_RULES if args.wave_rules else "")
    (workdir / "rules" / "bench.yaml").write_text(rules_text, encoding="utf-8")
    rules = load_rules([workdir / "rules"],
                       accounts={WECHAT_ACCOUNT: "wechat", WEIBO_ACCOUNT: "weibo"})
    expect(rules, items)
    return Workload(targets=targets, gen=gen, items=items, rules_text=rules_text, rules=rules,
                    document=seed_document(targets, items))


def run_daemon(args: argparse.Namespace, workload: Workload, workdir: Path,
               embedded: EmbeddedRedis, stack: list[Stoppable]) -> DaemonRun:
    """The sandbox seeded, the daemon on it: the bulk load, then the waves."""
    sandbox = SandboxProcess(workdir / "sandbox.log")
    stack.append(sandbox)
    seeded = time.perf_counter()
    report = sandbox.post("seed", workload.document)
    if args.api_latency:
        sandbox.post("faults", {"latency": args.api_latency})
    seed_seconds = time.perf_counter() - seeded
    assign_ids(workload.targets, workload.items, report)
    config = write_config(workdir, rules_text=workload.rules_text, redis_url=embedded.url,
                          sandbox_url=sandbox.url, targets=workload.targets,
                          interval=args.interval, batch_wait=args.batch_wait)
    daemon = start_bench_daemon(config, workdir / "daemon.log", processes=args.processes,
                                threads=args.threads)
    stack.append(daemon)
    client = redis_lib.Redis.from_url(embedded.url)
    watcher = AuditWatcher(client=client, key=Keys(prefix="mw").audit())
    workers = daemon.wait_for_workers(args.processes)
    pids = {"daemon (scheduler)": daemon.pid,
            **{f"worker-{i}": pid for i, pid in enumerate(workers)},
            "sandbox": sandbox.pid}
    if embedded.pid is not None:
        pids["redis-server"] = embedded.pid
    bulk = run_bulk(sandbox, watcher, daemon, workload.items,
                    timeout=max(120.0, args.comments / 200),
                    stall=max(20.0, 5 * args.interval), meter=CpuMeter(pids),
                    py_spy=args.py_spy, profile_dir=args.profile)
    waves = run_waves(sandbox, watcher, daemon, workload.gen, workload.rules, workload.targets,
                      duration=args.wave_seconds, period=0.5,
                      per_wave=10 if args.quick else 20, interval=args.interval)
    code = daemon.stop(DAEMON_STOP_GRACE)
    run = DaemonRun(bulk=bulk, waves=waves, seed_seconds=seed_seconds, code=code,
                    log=daemon.log(), audit_len=int(client.xlen(watcher.key)), watcher=watcher)
    client.close()
    sandbox.stop()
    return run


def run_baseline(args: argparse.Namespace, workload: Workload, workdir: Path, redis_url: str,
                 stack: list[Stoppable]) -> NaiveResult:
    """The naive loop over a fresh sandbox seeded with the same comments."""
    fresh = SandboxProcess(workdir / "sandbox-naive.log")
    stack.append(fresh)
    fresh.post("seed", workload.document)
    if args.api_latency:
        fresh.post("faults", {"latency": args.api_latency})
    naive = run_naive(fresh, redis_url, workload.rules, workload.targets)
    fresh.stop()
    return naive


if __name__ == "__main__":
    main()
