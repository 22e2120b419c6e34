"""The pipeline benchmark's printed report: the workload, the bulk load against the
minimum and the naive loop, the latencies and the daemon's health."""

from __future__ import annotations

import argparse
import json
import math
import os
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass

from bench.pipeline_audit import effects, minimum_calls, percentile
from bench.pipeline_naive import NaiveResult
from bench.pipeline_phases import BulkResult, DaemonRun, WaveResult
from bench.pipeline_world import WECHAT_PAGE, WEIBO_PAGE, Item, Target


@dataclass(frozen=True)
class Figures:
    """The daemon's bulk-load figures the naive loop is compared with."""

    comments: int
    minimum: dict[str, int]
    effects: int
    to_action: float  # seconds, first list call -> last action call
    decided_per_s: float
    effects_per_s: float
    calls: int

    @property
    def min_total(self) -> int:
        return sum(self.minimum.values())


def report_all(args: argparse.Namespace, items: Sequence[Item], targets: Sequence[Target],
               run: DaemonRun, naive: NaiveResult | None) -> None:
    bulk = run.bulk
    total_effects = effects(items)
    to_action = bulk.last_action - bulk.first_list
    figures = Figures(comments=len(items), minimum=minimum_calls(targets, items),
                      effects=total_effects, to_action=to_action,
                      decided_per_s=bulk.decided / (bulk.last_decision - bulk.first_list),
                      effects_per_s=total_effects / to_action, calls=sum(bulk.calls.values()))
    print_workload(args, items, targets, run.seed_seconds, total_effects)
    print()
    print_bulk(bulk, figures, naive)
    print()
    print_latency(args, run.waves)
    if naive is not None:
        print()
        print_naive(naive, bulk, figures)
    print()
    print_health(run, items)


def print_workload(args: argparse.Namespace, items: Sequence[Item], targets: Sequence[Target],
                   seed_seconds: float, total_effects: int) -> None:
    n = len(items)
    kinds = Counter(i.kind for i in items)
    violating = sum(1 for i in items if "delete" in i.actions)
    n_wechat = sum(1 for t in targets if t.platform == "wechat")
    n_weibo = len(targets) - n_wechat
    print(f"pipeline bench: {n:,} comments over {len(targets)} targets ({n_wechat} WeChat "
          f"articles, {n_weibo} Weibo posts, ~{n // len(targets):,} each); "
          f"{violating:,} violating ({violating / n:.1%}: {kinds['spam']:,} spam, "
          f"{kinds['abuse']:,} abuse), {kinds['praise']:,} praise; {total_effects:,} effects "
          f"expected")
    print(f"daemon: modworker run --processes {args.processes} --threads {args.threads}; poll "
          f"interval {args.interval:g} s (jitter 10 %), batch_max_wait {args.batch_wait:g} s, "
          f"full_pass_interval 15m; Redis: EmbeddedRedis (unix socket, appendonly); sandbox "
          f"in its own process, API latency {args.api_latency * 1000:g} ms added; "
          f"{os.cpu_count()} CPUs; seeding took {seed_seconds:.1f} s")


def print_bulk(bulk: BulkResult, figures: Figures, naive: NaiveResult | None) -> None:
    listed = bulk.last_decision - bulk.first_list
    cps = figures.decided_per_s
    n = figures.comments
    print("bulk load (daemon)")
    listing = bulk.last_list - bulk.first_list
    print(f"  from the first list call: the polls had enqueued {bulk.listed:,} comments after "
          f"{listing:.2f} s ({bulk.listed / listing:,.0f}/s), last decision after {listed:.2f} s, "
          f"last action after {figures.to_action:.2f} s")
    _print_redecided(bulk)
    print(f"  comments/s listed -> decided   {cps:>10,.0f}   (target >= 2,000: "
          f"{'met' if cps >= 2000 else 'NOT met'}; {bulk.decided:,} decided)")
    if bulk.undecided:
        print(f"  WARNING: {sum(bulk.undecided.values()):,} comments never decided "
              f"({dict(bulk.undecided)}), {bulk.never_listed:,} of them never listed (absent "
              f"from the seen set): the WeChat pass pages by offset while the daemon's own "
              f"deletes shift the newest-first list; the next full pass (15m) would list them")
    print(f"  comments/s listed -> acted     {bulk.decided / figures.to_action:>10,.0f}")
    print(f"  actions/s (effects)            {figures.effects_per_s:>10,.0f}")
    print(f"  API calls / 1,000 comments     {figures.calls / n * 1000:>10.1f}   minimum "
          f"{figures.min_total / n * 1000:.1f}   ratio {figures.calls / figures.min_total:.2f}x")
    _print_endpoints(bulk, figures.minimum, naive)
    if bulk.errors:
        print(f"  error answers: {dict(bulk.errors)}")
    cpu_total = sum(v for v in bulk.cpu.values() if math.isfinite(v))
    cores = os.cpu_count() or 1
    print(f"  CPU over the bulk load ({bulk.wall:.1f} s x {cores} cores = "
          f"{bulk.wall * cores:.1f} core-s; used {cpu_total:.1f}):  " + ", ".join(
              f"{name} {sec:.1f} s" for name, sec in bulk.cpu.items()))
    if bulk.profile:
        print("  py-spy of the worker processes during the bulk load:")
        for line in bulk.profile:
            print(f"    {line}")


def _print_redecided(bulk: BulkResult) -> None:
    if not bulk.redecided:
        return
    elected = bulk.redecided["praise"]
    others = sum(bulk.redecided.values()) - elected
    print(f"  {sum(bulk.redecided.values()):,} comments were decided twice: {elected:,} "
          f"praise comments listed again after being elected (a WeChat comment's state is "
          f"part of what was seen, so a changed comment is moderated again; the ledger "
          f"keeps its actions single)"
          + (f"; {others:,} others, by kind "
             f"{dict((k, v) for k, v in bulk.redecided.items() if k != 'praise')}: "
             f"polls of one target overlapped" if others else ""))


def _print_endpoints(bulk: BulkResult, minimum: dict[str, int],
                     naive: NaiveResult | None) -> None:
    print(f"  {'endpoint':<32}{'daemon':>8}{'minimum':>9}{'naive':>8}")
    endpoints = sorted(set(bulk.calls) | set(minimum) | set(naive.calls if naive else {}))
    for endpoint in endpoints:
        naive_n = f"{naive.calls.get(endpoint, 0):>8,}" if naive else f"{'-':>8}"
        print(f"  {endpoint:<32}{bulk.calls.get(endpoint, 0):>8,}"
              f"{minimum.get(endpoint, 0):>9,}{naive_n}")


def _latency_line(label: str, latencies: Sequence[float]) -> str:
    return (f"  {label:<34} n={len(latencies):>4}  p50 {percentile(latencies, 50):5.2f} s  "
            f"p90 {percentile(latencies, 90):5.2f} s  p99 {percentile(latencies, 99):5.2f} s  "
            f"max {max(latencies):5.2f} s")


def print_latency(args: argparse.Namespace, waves: WaveResult) -> None:
    print(f"new-comment-to-action latency ({waves.added:,} comments added in waves every "
          f"0.5 s while running, {waves.violating:,} violating; poll interval "
          f"{args.interval:g} s, batch_max_wait {args.batch_wait:g} s)")
    for platform, label in (("wechat", "WeChat comment/delete"),
                            ("weibo", "Weibo destroy_batch (batched)")):
        if waves.first_action[platform]:
            print(_latency_line(label, waves.first_action[platform]))
    deletes = waves.first_action["wechat"] + waves.first_action["weibo"]
    if deletes:
        p99 = percentile(deletes, 99)
        bound = args.interval + 2
        print(_latency_line("to the delete, both platforms", deletes)
              + f"   (target p99 <= {bound:g} s: {'met' if p99 <= bound else 'NOT met'})")
    if waves.all_actions:
        print(_latency_line("to the last action (+blacklist)", waves.all_actions))
    if waves.missing:
        print(f"  WARNING: {waves.missing} violating wave comments were not acted on in time")


def print_naive(naive: NaiveResult, bulk: BulkResult, figures: Figures) -> None:
    n = figures.comments
    naive_calls = sum(naive.calls.values())
    naive_cps = naive.decided / naive.seconds_to_decided
    naive_aps = figures.effects / naive.seconds_total
    print("naive single-threaded list-evaluate-act loop (fresh sandbox, same comments)")
    print(f"  decided {naive.decided:,} comments in {naive.seconds_to_decided:.2f} s, "
          f"everything done in {naive.seconds_total:.2f} s ({naive.action_calls:,} action "
          f"calls)")
    print(f"  comments/s listed -> decided   {naive_cps:>10,.0f}   daemon/naive "
          f"{figures.decided_per_s / naive_cps:.2f}x")
    print(f"  comments/s listed -> acted     {naive.decided / naive.seconds_total:>10,.0f}"
          f"   daemon/naive "
          f"{(bulk.decided / figures.to_action) / (naive.decided / naive.seconds_total):.2f}x")
    print(f"  actions/s (effects)            {naive_aps:>10,.0f}   daemon/naive "
          f"{figures.effects_per_s / naive_aps:.2f}x")
    print(f"  API calls / 1,000 comments     {naive_calls / n * 1000:>10.1f}   ratio to "
          f"minimum {naive_calls / figures.min_total:.2f}x; daemon/naive "
          f"{figures.calls / naive_calls:.2f}x")


def print_health(run: DaemonRun, items: Sequence[Item]) -> None:
    levels = Counter(json.loads(line).get("level", "?") for line in run.log.splitlines()
                     if line.startswith("{"))
    per_target = Counter(i.target.key for i in items)
    print(f"daemon exit code {run.code}; log lines by level {dict(levels)}; tracebacks "
          f"{run.log.count('Traceback')}; audit stream length {run.audit_len:,}; action "
          f"outcomes {dict(sorted(run.watcher.outcomes.items()))}")
    print(f"per-target comments: {sorted(set(per_target.values()))}; pages: WeChat "
          f"{WECHAT_PAGE}/call, Weibo {WEIBO_PAGE}/call (the client's default; the API allows "
          f"200)")
