"""Soak benchmark: the real daemon against the sandbox for N minutes, watching for growth.

What runs (all on 127.0.0.1; every process started here is stopped in ``finally``): the
pipeline benchmark's world and processes (:mod:`pipeline_world`, :mod:`bench_processes`):
an embedded Redis, the sandbox as its own process, and ``modworker run --processes 2
--threads 8`` with the benchmark's rules and targets (8 WeChat articles, 2 Weibo posts),
plus ``quota: {pause: 5s}`` so that quota answers pause briefly.

Workload, for ``--minutes`` (default 10) after a warm-up (an initial 2,000 comments, all
decided):

- continuous comments: ``--rate`` a second (default 20), spam, abuse, praise and ordinary in
  the pipeline benchmark's mix, added through the sandbox's admin API;
- faults: 2 % busy answers, 0.5 % HTML 502 pages and 0.5 % damaged answers throughout, and
  every 10 s one injected fault in turn: each undecodable answer (bad UTF-8, not an object,
  deep nesting, 9 MiB), WeChat 45011 and 45009, Weibo 10022/10023/10024, a 20201;
- token rotations: every ``--rotate-every`` seconds (default 60) every WeChat token is
  invalidated (40001 on the next call); every second rotation also moves the sandbox clock
  two hours on, so that every token expires and every rate window rolls over.

Printed at start (after warm-up), midpoint and end, and every minute in between: RSS of each
process (daemon, each worker, redis-server, the sandbox), Redis ``used_memory``, and key
counts per key family (the part after the prefix, as :mod:`worker.pipeline.keys` names them;
``dramatiq`` for the broker). Then the growth over the second half (midpoint -> end) and a
verdict per daemon-side figure: flat under 5 %.

What is expected to grow with a steady stream of *new* comments, by design, until its
retention bites (days): done markers (``done``, 30 days), the audit stream (``audit``, up to
its cap), seen sets (``seen``, trimmed by count and age), offenses (``offenses``, 30 days).
Their key counts and ``used_memory`` grow over a 10-minute run in proportion to the comments
added; the process RSS figures and the bounded families (leases, batches, tokens, rate and
quota keys, broker queues) must not. The sandbox's RSS grows too (it keeps every comment).

    .venv/bin/python bench/soak.py                 # 10 minutes
    .venv/bin/python bench/soak.py --minutes 3     # a short check
"""

from __future__ import annotations

import argparse
import signal
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import redis as redis_lib

from bench.bench_processes import (
    SandboxProcess,
    cleanup_stack,
    exit_on_sigterm,
    start_bench_daemon,
)
from bench.pipeline_audit import AuditWatcher
from bench.pipeline_world import (
    APP_ID,
    Generator,
    Item,
    Target,
    assign_ids,
    make_targets,
    seed_document,
    write_config,
)
from worker.pipeline.keys import Keys
from worker.redis_server import EmbeddedRedis
from worker.subprocesses import DaemonProcess

PREFIX = "mw"
FLAT = 0.05  # growth over the second half below which a figure is flat
BASE_FAULTS = {"busy_probability": 0.02, "html_5xx_probability": 0.005,
               "malformed_probability": 0.005}
#: One injected fault every INJECT_EVERY seconds, in turn: (kind or code, endpoint or None).
INJECTIONS: tuple[tuple[str | int, str | None], ...] = (
    ("bad_utf8", "comment/list"), ("not_object", "comment/delete"),
    ("deep_json", "comments/show"), ("oversized", "comment/list"),
    (45011, None), (45009, "comment/markelect"), (10022, "comments/show"),
    (10023, "comments/destroy_batch/own/biz"), (10024, "comments/show"),
    (20201, "comments/destroy_batch/own/biz"), ("malformed", "tags/members/batchblacklist"),
)
INJECT_EVERY = 10.0
WARMUP_COMMENTS = 2_000
#: Families retained by time by design: they grow with the number of comments added.
RETAINED = frozenset({"done", "audit", "seen", "offenses"})
#: Processes whose memory follows the data they hold, not a leak of the daemon's.
BY_DATA = {"redis-server": "(holds the retained families)",
           "sandbox": "(keeps every comment)"}


@dataclass
class Sample:
    at: float  # seconds since the soak started
    rss_kib: dict[str, int]
    used_memory: int
    families: Counter[str]
    comments: int  # comments added so far (warm-up included)
    decisions: int  # decision records read from the audit stream


def rss_kib(pid: int) -> int | None:
    """VmRSS of ``pid`` in KiB, None when it is gone."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    except (FileNotFoundError, ProcessLookupError):
        return None
    return None


def key_families(client: redis_lib.Redis, prefix: str = PREFIX) -> Counter[str]:
    """Keys per family: the first part after ``<prefix>:``, or the first part of another key
    (the broker's ``dramatiq:*``)."""
    families: Counter[str] = Counter()
    for raw in client.scan_iter(count=1000):
        key = raw.decode("utf-8", "replace") if isinstance(raw, bytes) else str(raw)
        head, _, rest = key.partition(":")
        families[rest.partition(":")[0] if head == prefix and rest else head] += 1
    return families


class Soak:
    """The running soak: adds comments, injects faults, rotates tokens, samples."""

    def __init__(self, *, sandbox: SandboxProcess, daemon: DaemonProcess,
                 redis_pid: int | None, client: redis_lib.Redis, watcher: AuditWatcher,
                 gen: Generator, targets: Sequence[Target]) -> None:
        self.sandbox = sandbox
        self.daemon = daemon
        self.redis_pid = redis_pid
        self.client = client
        self.watcher = watcher
        self.gen = gen
        self.targets = targets
        self.comments = 0
        self.started = time.monotonic()
        self.injected = 0
        self.rotations = 0
        self._next_inject = INJECT_EVERY
        self._next_rotate: float | None = None
        self._next_minute = 60.0

    def processes(self) -> dict[str, int]:
        pids = {"daemon": self.daemon.pid}
        pids.update({f"worker-{i}": pid for i, pid in enumerate(self.daemon.worker_pids())})
        if self.redis_pid is not None:
            pids["redis-server"] = self.redis_pid
        pids["sandbox"] = self.sandbox.pid
        return pids

    def sample(self) -> Sample:
        self.watcher.read()
        rss = {name: value for name, pid in self.processes().items()
               if (value := rss_kib(pid)) is not None}
        info: Any = self.client.info("memory")
        return Sample(at=time.monotonic() - self.started, rss_kib=rss,
                      used_memory=int(info["used_memory"]), families=key_families(self.client),
                      comments=self.comments, decisions=self.watcher.decision_records)

    def add_comments(self, items: Sequence[Item]) -> None:
        for item in items:
            target = item.target
            if target.platform == "wechat":
                self.sandbox.post("wechat/comment", {
                    "app_id": APP_ID, "msg_data_id": target.msg_data_id,
                    "index": target.index, "content": item.content, "openid": item.author})
            else:
                self.sandbox.post("weibo/comment", {
                    "status_id": target.status_id, "text": item.content,
                    "uid": int(item.author)})
        self.comments += len(items)

    def inject(self) -> None:
        kind, endpoint = INJECTIONS[self.injected % len(INJECTIONS)]
        self.injected += 1
        self.sandbox.post("faults", {"fail_next": [{"kind": kind, "endpoint": endpoint}]})

    def rotate(self) -> None:
        self.rotations += 1
        self.sandbox.post("invalidate_tokens", {"app_id": None})
        if self.rotations % 2 == 0:
            self.sandbox.post("advance_time", {"seconds": 7200})

    def run(self, *, seconds: float, rate: float, rotate_every: float,
            on_minute: Callable[[Sample], None]) -> None:
        """Comments at ``rate`` a second, faults and rotations, until ``seconds`` after the
        start (the schedule goes on from an earlier call)."""
        if self._next_rotate is None:
            self._next_rotate = rotate_every
        owed = 0.0
        tick = time.monotonic()
        while (elapsed := time.monotonic() - self.started) < seconds:
            if not self.daemon.alive():
                raise RuntimeError(f"the daemon exited ({self.daemon.returncode}); "
                                   f"see {self.daemon.log_path}")
            now = time.monotonic()
            owed += (now - tick) * rate
            tick = now
            if owed >= 1:
                count = int(owed)
                owed -= count
                self.add_comments(self.gen.make(self.targets, count, spam=0.05, abuse=0.02,
                                                praise=0.01))
            if elapsed >= self._next_inject:
                self.inject()
                self._next_inject += INJECT_EVERY
            if elapsed >= self._next_rotate:
                self.rotate()
                self._next_rotate += rotate_every
            if elapsed >= self._next_minute:
                on_minute(self.sample())
                self._next_minute += 60.0
            time.sleep(0.2)


def growth(mid: float, end: float) -> float:
    return (end - mid) / mid if mid else (0.0 if end == mid else float("inf"))


def _mib(kib: float) -> str:
    return f"{kib / 1024:8.1f}"


def print_trace(sample: Sample) -> None:
    rss = "  ".join(f"{name} {value / 1024:.1f}" for name, value in sample.rss_kib.items())
    print(f"  t={sample.at / 60:4.1f} min  comments {sample.comments:,}  decided "
          f"{sample.decisions:,}  used_memory {sample.used_memory / 2**20:.1f} MiB  "
          f"RSS MiB: {rss}", flush=True)


def report(start: Sample, mid: Sample, end: Sample, soak: Soak) -> bool:
    """Print the table; True when every daemon-side figure stayed flat."""
    print(f"\nsoak: {end.at / 60:.1f} min, {end.comments - start.comments:,} comments added "
          f"({end.comments:,} with the warm-up), {end.decisions:,} decision records, "
          f"{soak.injected} injected faults, {soak.rotations} token rotations")
    print("(decisions count a comment again when a state change re-lists it)")
    print(f"\n{'figure':<28}{'start':>10}{'mid':>10}{'end':>10}{'2nd half':>10}  verdict")
    flat = True
    names = [*end.rss_kib, *(n for n in start.rss_kib if n not in end.rss_kib)]
    for name in names:
        values = [s.rss_kib.get(name) for s in (start, mid, end)]
        if None in values:
            print(f"RSS {name + ' MiB':<24}" + "".join(
                f"{'-' if v is None else _mib(v):>10}" for v in values) + "  (restarted?)")
            continue
        a, m, e = (float(v) for v in values if v is not None)
        g = growth(m, e)
        daemon_side = name not in BY_DATA
        verdict = ("flat" if g < FLAT else "GROWS") if daemon_side else BY_DATA[name]
        flat = flat and (g < FLAT or not daemon_side)
        print(f"RSS {name + ' MiB':<24}{_mib(a):>10}{_mib(m):>10}{_mib(e):>10}{g:>10.1%}  "
              f"{verdict}")
    a, m, e = start.used_memory, mid.used_memory, end.used_memory
    g = growth(m, e)
    print(f"{'redis used_memory MiB':<28}{a / 2**20:>10.1f}{m / 2**20:>10.1f}{e / 2**20:>10.1f}"
          f"{g:>10.1%}  {'flat' if g < FLAT else 'grows (retained families below)'}")
    added = max(1, end.comments - mid.comments)
    print(f"{'  per comment added, bytes':<28}{'':>10}{'':>10}{'':>10}"
          f"{(e - m) / added:>10.0f}")
    print(f"\n{'keys per family':<28}{'start':>10}{'mid':>10}{'end':>10}{'2nd half':>10}")
    for family in sorted(set(start.families) | set(mid.families) | set(end.families)):
        counts = [s.families.get(family, 0) for s in (start, mid, end)]
        g = growth(counts[1], counts[2])
        if family in RETAINED:
            note = "retained by design" if g >= FLAT else ""
        elif counts[2] > max(counts[1], 10) * (1 + FLAT):  # a handful of keys come and go
            note = "GROWS"
            flat = False
        else:
            note = ""
        print(f"{family:<28}" + "".join(f"{c:>10,}" for c in counts) + f"{g:>10.1%}  {note}")
    print(f"\nverdict: {'flat' if flat else 'NOT flat'} after warm-up (processes and bounded "
          f"key families under {FLAT:.0%} growth over the second half)")
    return flat


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--minutes", type=float, default=10.0)
    parser.add_argument("--rate", type=float, default=20.0, help="new comments a second")
    parser.add_argument("--rotate-every", type=float, default=60.0,
                        help="seconds between token rotations")
    parser.add_argument("--interval", type=float, default=2.0, help="poll interval, seconds")
    parser.add_argument("--processes", type=int, default=2)
    parser.add_argument("--threads", type=int, default=8)
    parser.add_argument("--keep", type=Path, default=None,
                        help="keep the daemon log, config and Redis files in this directory")
    args = parser.parse_args()
    if args.minutes <= 0 or args.rate <= 0 or args.rotate_every <= 0:
        parser.error("--minutes, --rate and --rotate-every must be above 0")
    return args


def main() -> None:
    args = parse_args()
    signal.signal(signal.SIGTERM, exit_on_sigterm)
    targets = make_targets()
    gen = Generator(seed=20240602)
    warmup = gen.make(targets, WARMUP_COMMENTS, spam=0.05, abuse=0.02, praise=0.01)
    with tempfile.TemporaryDirectory(prefix="soak-") as tmp, cleanup_stack() as stack:
        workdir = args.keep.resolve() if args.keep else Path(tmp)
        workdir.mkdir(parents=True, exist_ok=True)
        embedded = EmbeddedRedis(state_dir=workdir / "redis")
        embedded.start()
        stack.append(embedded)
        sandbox = SandboxProcess(workdir / "sandbox.log")
        stack.append(sandbox)
        assign_ids(targets, warmup, sandbox.post("seed", seed_document(targets, warmup)))
        config = write_config(workdir, redis_url=embedded.url, sandbox_url=sandbox.url,
                              targets=targets, interval=args.interval, batch_wait=1.0)
        with config.open("a", encoding="utf-8") as out:
            out.write("quota: {pause: 5s}\n")
        daemon = start_bench_daemon(config, workdir / "daemon.log", processes=args.processes,
                                    threads=args.threads)
        stack.append(daemon)
        client = redis_lib.Redis.from_url(embedded.url)
        watcher = AuditWatcher(client=client, key=Keys(prefix=PREFIX).audit())
        daemon.wait_for_workers(args.processes)
        warm_up(watcher, daemon)
        sandbox.post("faults", BASE_FAULTS)
        soak = Soak(sandbox=sandbox, daemon=daemon, redis_pid=embedded.pid, client=client,
                    watcher=watcher, gen=gen, targets=targets)
        soak.comments = WARMUP_COMMENTS
        flat = run_soak(soak, args)
        client.close()
    raise SystemExit(0 if flat else 1)


def warm_up(watcher: AuditWatcher, daemon: DaemonProcess) -> None:
    """Until the warm-up comments are all decided (SystemExit after 300 s)."""
    print(f"warm-up: {WARMUP_COMMENTS:,} comments ...", flush=True)
    deadline = time.monotonic() + 300
    while watcher.decision_records < WARMUP_COMMENTS:
        if time.monotonic() > deadline or not daemon.alive():
            raise SystemExit(f"the warm-up did not finish; see {daemon.log_path}")
        time.sleep(1)
        watcher.read()


def run_soak(soak: Soak, args: argparse.Namespace) -> bool:
    """Both halves, sampled at the start, the middle, the end and every minute; the report's
    verdict (True: flat)."""
    seconds = args.minutes * 60
    print(f"soak: {args.minutes:g} min, {args.rate:g} comments/s", flush=True)
    start = soak.sample()
    print_trace(start)
    samples: list[Sample] = []

    def on_minute(sample: Sample) -> None:
        samples.append(sample)
        print_trace(sample)

    soak.run(seconds=seconds / 2, rate=args.rate, rotate_every=args.rotate_every,
             on_minute=on_minute)
    mid = soak.sample()
    print_trace(mid)
    soak.run(seconds=seconds, rate=args.rate, rotate_every=args.rotate_every,
             on_minute=on_minute)
    end = soak.sample()
    print_trace(end)
    return report(start, mid, end, soak)


if __name__ == "__main__":
    main()
