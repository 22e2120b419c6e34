"""The pipeline benchmark's two daemon phases: the bulk load (throughput, API calls, CPU)
and the timed waves (new-comment-to-action latency)."""

from __future__ import annotations

import math
import os
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from bench.bench_processes import SandboxProcess
from bench.pipeline_audit import (
    ACTION_ENDPOINTS,
    LIST_ENDPOINTS,
    AuditWatcher,
    call_ids,
    decision_key,
    poll_ends,
    seen_member,
    wait_until_done,
)
from bench.pipeline_world import APP_ID, Generator, Item, Target, expect
from bench.profiling import Profiler
from worker.pipeline.keys import Keys, target_key
from worker.rules import RuleSet
from worker.subprocesses import DaemonProcess


class CpuMeter:
    """CPU seconds (user + system) of named processes, from /proc; this process via os.times."""

    def __init__(self, pids: dict[str, int]) -> None:
        self.pids = pids
        self.ticks = os.sysconf("SC_CLK_TCK")

    def _of(self, pid: int) -> float:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except FileNotFoundError:
            return float("nan")
        return (int(fields[11]) + int(fields[12])) / self.ticks

    def snapshot(self) -> dict[str, float]:
        times = os.times()
        out = {name: self._of(pid) for name, pid in self.pids.items()}
        out["bench (this process)"] = times.user + times.system
        return out


@dataclass
class BulkResult:
    complete: bool
    decided: int
    first_list: float
    last_list: float  # when the last poll that enqueued new comments ended (daemon log)
    listed: int
    last_decision: float
    last_action: float
    calls: Counter[str]
    errors: Counter[str]
    undecided: Counter[str]  # platform -> items never decided
    redecided: Counter[str]  # item kind -> items decided more than once
    never_listed: int  # of those, absent from the daemon's seen set
    cpu: dict[str, float]  # CPU seconds per process over the bulk load
    wall: float  # seconds the CPU figures cover
    profile: list[str]


def run_bulk(sandbox: SandboxProcess, watcher: AuditWatcher, daemon: DaemonProcess,
             items: Sequence[Item], *, timeout: float, stall: float, meter: CpuMeter,
             py_spy: str | None, profile_dir: Path | None) -> BulkResult:
    deadline = time.monotonic() + 60
    while not watcher.client.xlen(watcher.key):  # the daemon's start-up is not measured
        if time.monotonic() > deadline or not daemon.alive():
            raise RuntimeError(f"the daemon decided nothing within 60 s; see {daemon.log_path}")
        time.sleep(0.02)
    cpu_start, wall_start = meter.snapshot(), time.time()
    profiler = None
    if py_spy and profile_dir:
        profiler = Profiler(py_spy, profile_dir, meter.pids)
    try:
        complete = wait_until_done(watcher, items, daemon, timeout=timeout, stall=stall,
                            what="the bulk load")
    finally:
        if profiler is not None:
            profiler.stop()
    calls = sandbox.calls()
    wanted = {k for i in items for k in i.action_keys()}
    action_times = [c["time"] for c in calls if c["endpoint"] in ACTION_ENDPOINTS
                    and any(k in wanted for k in call_ids(c))]
    last_action = max(action_times, default=float("nan"))
    cpu_end = meter.snapshot()
    wall = (last_action if action_times else time.time()) - wall_start
    window = [c for c in calls if c["time"] <= last_action] if action_times else calls
    lists = [c["time"] for c in calls if c["endpoint"] in LIST_ENDPOINTS]
    decided = [watcher.decided[k] for k in (decision_key(i) for i in items)
               if k in watcher.decided]
    undecided = [i for i in items if decision_key(i) not in watcher.decided]
    keys = Keys(prefix="mw")
    never_listed = 0
    for item in undecided:
        tkey = target_key(platform=item.target.platform, account=item.target.account,
                          target=item.target.key)
        if watcher.client.zscore(keys.seen(tkey), seen_member(item)[1]) is None:
            never_listed += 1
    last_poll, enqueued = poll_ends(daemon.log(), max(decided, default=math.inf))
    return BulkResult(
        complete=complete,
        decided=len(decided),
        first_list=min(lists),
        last_list=last_poll,
        listed=enqueued,
        last_decision=max(decided),
        last_action=last_action,
        calls=Counter(c["endpoint"] for c in window),
        errors=Counter(f"{c['endpoint']} {c['errcode']}" for c in window
                       if c["errcode"] not in (0, None) or c["http_status"] != 200),
        undecided=Counter(i.target.platform for i in undecided),
        redecided=Counter(i.kind for i in items if watcher.decisions[decision_key(i)] > 1),
        never_listed=never_listed,
        cpu={name: cpu_end[name] - cpu_start[name] for name in cpu_end},
        wall=wall,
        profile=profiler.summary([n for n in meter.pids if n.startswith("worker")])
        if profiler else [],
    )


@dataclass
class WaveResult:
    added: int
    violating: int
    first_action: dict[str, list[float]]  # platform -> latencies to the delete/destroy
    all_actions: list[float]  # latency to the last of the comment's actions
    missing: int


def run_waves(sandbox: SandboxProcess, watcher: AuditWatcher, daemon: DaemonProcess,
              gen: Generator, rules: RuleSet, targets: Sequence[Target], *, duration: float,
              period: float, per_wave: int, interval: float) -> WaveResult:
    added: list[tuple[Item, float]] = []
    started = time.monotonic()
    wave = 0
    while time.monotonic() - started < duration:
        for item in gen.make(targets, per_wave, spam=0.14, abuse=0.06, praise=0.02,
                             spammer_reuse=1):
            at = time.time()
            if item.target.platform == "wechat":
                answer = sandbox.post("wechat/comment", {
                    "app_id": APP_ID, "msg_data_id": item.target.msg_data_id,
                    "index": item.target.index, "content": item.content,
                    "openid": item.author})
                item.cid = str(answer["user_comment_id"])
            else:
                answer = sandbox.post("weibo/comment", {
                    "status_id": item.target.status_id, "text": item.content,
                    "uid": int(item.author)})
                item.cid = str(answer["id"])
            added.append((item, at))
        wave += 1
        next_at = started + wave * period
        time.sleep(max(0.0, next_at - time.monotonic()))
    items = [item for item, _ in added]
    expect(rules, items)
    wait_until_done(watcher, items, daemon, timeout=2 * interval + 30, stall=4 * interval + 10,
             what="the waves")
    calls = sandbox.calls()
    first_call: dict[tuple[str, str, str], float] = {}
    for call in calls:
        if call["endpoint"] in ACTION_ENDPOINTS:
            for ident in call_ids(call):
                first_call.setdefault(ident, call["time"])
    first_action: dict[str, list[float]] = {"wechat": [], "weibo": []}
    all_actions: list[float] = []
    missing = 0
    violating = 0
    for item, at in added:
        keys = item.action_keys()
        if not any(k[0] == "delete" for k in keys):
            continue
        violating += 1
        times = [first_call.get(k) for k in keys]
        delete = next(first_call.get(k) for k in keys if k[0] == "delete")
        if delete is None or any(t is None for t in times):
            missing += 1
            continue
        first_action[item.target.platform].append(delete - at)
        all_actions.append(max(t for t in times if t is not None) - at)
    return WaveResult(added=len(added), violating=violating, first_action=first_action,
                      all_actions=all_actions, missing=missing)


@dataclass
class DaemonRun:
    """What the daemon's part of the benchmark measured and left behind."""

    bulk: BulkResult
    waves: WaveResult
    seed_seconds: float
    code: int | None  # the daemon's exit code on SIGTERM; None if it had to be killed
    log: str
    audit_len: int
    watcher: AuditWatcher
