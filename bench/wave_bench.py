"""Wave benchmark: copy-paste waves against the real daemon, the sandbox and a real Redis.

``--waves`` (default 10) advertisements, each posted as ``--copies`` (default 50) varied
copies (an emoji, a digit or a character added) from as many fresh accounts, spread over
``--seconds`` (default 120) across the WeChat articles, while ``modworker run`` polls every
``--interval`` seconds with a ``content.repeated: {at_least: 5, within: 1h}`` rule (delete).

Printed: copies deleted (every one must be), and per wave the time from the moment the copy
that made it a wave was added (the first whose decision held: the audit's ``wave`` records
name it; with copies varied in the middle that may be later than the 5th, as two such copies
share less than 0.7 of their 3-grams) to the moment the sandbox recorded the delete of the
wave's first copy: p50/p99/max over the waves, against two poll intervals; and per wave the
place in the order of addition of the copy that made it a wave, beside the copies its decision
counted (itself and the earlier members its wave records name). Copies are decided in the
order they are polled, not added (articles polled apart, pages newest first), so a wave can be
made by its 4th copy added, which counted 5: a later one decided before it. Run:

    .venv/bin/python bench/wave_bench.py                  # 10 waves of 50 over 2 minutes
    .venv/bin/python bench/wave_bench.py --seconds 30 --waves 4
"""

from __future__ import annotations

import argparse
import random
import sys
import tempfile
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import redis

from bench.bench_processes import SandboxProcess, cleanup_stack, start_bench_daemon
from bench.pipeline_world import APP_ID, make_targets, seed_document, write_config
from worker.pipeline.audit import AuditLog
from worker.pipeline.keys import Keys
from worker.redis_server import EmbeddedRedis
from worker.waves.wave_rules import wave_rules

RULES = wave_rules(at_least=5, min_letters=10, burst_at_least=None)
ADS = [
    "姐妹们这款面霜真的好用三天见效主页有同款链接",
    "兼职日结三百无需押金有意者看我主页联系方式",
    "低价出售二手名牌包包正品保证支持验货私我",
    "免费领取会员看全网电影私信我发你领取方式",
    "代写论文包过查重价格实惠联系看个人简介哦",
    "炒股跟我操作每天稳赚百分之五进群看主页链接",
    "减肥茶一个月瘦二十斤不反弹主页有购买方式",
    "网课资料全套低价出需要的看我主页联系我吧",
    "外卖红包每天领最高二十元点我头像看置顶哦",
    "游戏代练上分快价格低看主页联系方式有惊喜",
]
NOISE = ["😍", "！", "~", "呀", "👍", "7", "1", "哦", "🔥", "2"]


def vary(text: str, rng: random.Random) -> str:
    cut = rng.choice([len(text), len(text), 0, rng.randrange(4, len(text) - 4)])
    return text[:cut] + rng.choice(NOISE) + text[cut:]


def deletes(calls: list[dict[str, Any]]) -> dict[tuple[str, int], float]:
    """When each comment was first deleted, by (article key, comment id): WeChat comment ids
    count per article, so an id alone names a comment on each of them."""
    out: dict[tuple[str, int], float] = {}
    for call in calls:
        if call["endpoint"] != "comment/delete" or call.get("errcode") not in (0, None):
            continue
        body = call["body"]
        key = (f"{body['msg_data_id']}:{body.get('index', 0)}", int(body["user_comment_id"]))
        out[key] = min(out.get(key, float(call["time"])), float(call["time"]))
    return out


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q * (len(ordered) - 1))))]


Added = dict[tuple[int, int], tuple[float, int, str]]  # (wave, copy) -> (time, id, target)


@dataclass(frozen=True)
class Outcome:
    """What one run of the waves left: the copies, their deletes, the audit's wave records."""

    added: Added
    deleted: dict[tuple[str, int], float]
    wave_records: list[dict[str, Any]]
    missing: list[str]  # each copy not deleted: its audit records and delete calls


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--waves", type=int, default=10)
    parser.add_argument("--copies", type=int, default=50)
    parser.add_argument("--seconds", type=float, default=120.0)
    parser.add_argument("--interval", type=float, default=2.0, help="poll interval, seconds")
    parser.add_argument("--processes", type=int, default=2)
    return parser.parse_args()


def run(args: argparse.Namespace) -> Outcome:
    """Start Redis, the sandbox and the daemon; post the waves; wait for their deletes."""
    with tempfile.TemporaryDirectory(prefix="wave-bench-") as tmp, cleanup_stack() as stack:
        work = Path(tmp)
        embedded = EmbeddedRedis(state_dir=work / "redis")
        embedded.start()
        stack.append(embedded)
        sandbox = SandboxProcess(work / "sandbox.log")
        stack.append(sandbox)
        everywhere = make_targets()
        sandbox.post("seed", seed_document(everywhere, []))
        config = write_config(work, rules_text=RULES, redis_url=embedded.url,
                              sandbox_url=sandbox.url, targets=everywhere,
                              interval=args.interval, batch_wait=1.0)
        daemon = start_bench_daemon(config, work / "daemon.log", processes=args.processes,
                                    threads=8)
        stack.append(daemon)
        daemon.wait_for_workers(args.processes)
        time.sleep(2 * args.interval)  # a first empty poll of every target
        added = post_waves(sandbox, args)
        deleted = wait_for_deletes(sandbox, added, deadline=time.time() + 10 * args.interval + 30)
        audit = AuditLog(redis=redis.Redis.from_url(embedded.url), keys=Keys())
        missing = [trail(audit, sandbox.calls(), wave, copy, cid, key)
                   for (wave, copy), (_, cid, key) in sorted(added.items())
                   if (key, cid) not in deleted]
        return Outcome(added, deleted, list(audit.read(kind="wave", limit=100_000)), missing)


def trail(audit: AuditLog, calls: list[dict[str, Any]], wave: int, copy: int, cid: int,
          key: str) -> str:
    """What happened to a copy not deleted: every audit record naming it (its decision, its
    actions, a wave record if an earlier-member delete was planned) and the delete calls the
    sandbox saw for it, so a missing copy says whether it was never counted, counted but
    not acted on, or acted on and refused."""
    lines = [f"wave {wave} copy {copy}: {key} comment {cid}"]
    for record in audit.read(target=key, comment_id=str(cid), limit=100):
        lines.append("  audit " + " ".join(
            f"{k}={v}" for k, v in sorted(record.items()) if k not in ("stream_id",)))
    for call in calls:
        body = call.get("body") or {}
        if (call["endpoint"] == "comment/delete" and str(body.get("user_comment_id")) == str(cid)
                and f"{body.get('msg_data_id')}:{body.get('index', 0)}" == key):
            lines.append(f"  sandbox delete errcode={call.get('errcode')}")
    return "\n".join(lines)


def post_waves(sandbox: SandboxProcess, args: argparse.Namespace) -> Added:
    """Post every wave's varied copies at random moments over ``args.seconds``."""
    rng = random.Random(14)
    targets = [t for t in make_targets() if t.platform == "wechat"]
    plan = sorted(
        (rng.uniform(0, args.seconds), wave, copy)
        for wave in range(args.waves) for copy in range(args.copies)
    )
    started = time.time()
    added: Added = {}
    for offset, wave, copy in plan:
        delay = started + offset - time.time()
        if delay > 0:
            time.sleep(delay)
        target = targets[rng.randrange(len(targets))]
        answer = sandbox.post("wechat/comment", {
            "app_id": APP_ID, "msg_data_id": target.msg_data_id, "index": target.index,
            "content": vary(ADS[wave % len(ADS)], rng),
            "openid": f"oWave{wave:03d}{copy:020d}",
        })
        added[(wave, copy)] = (time.time(), int(answer["user_comment_id"]), target.key)
    return added


def wait_for_deletes(sandbox: SandboxProcess, added: Added,
                     deadline: float) -> dict[tuple[str, int], float]:
    deleted: dict[tuple[str, int], float] = {}
    while time.time() < deadline:
        deleted = deletes(sandbox.calls())
        if all((key, cid) in deleted for _, cid, key in added.values()):
            break
        time.sleep(1.0)
    return deleted


def report(args: argparse.Namespace, outcome: Outcome) -> None:
    added, deleted = outcome.added, outcome.deleted
    by_comment = {(key, cid): (wave, t) for (wave, _), (t, cid, key) in added.items()}
    recognised: dict[int, float] = {}  # when the copy that made it a wave was added
    noticed: dict[int, float] = {}  # when the wave record was written
    # The copy that made it a wave claimed every earlier member it counted: one wave record
    # each, all naming it in `by`.
    claimed = Counter((str(r.get("by_target")), int(r["by"])) for r in outcome.wave_records)
    counted: dict[int, int] = {}  # copies the deciding worker counted, this one included
    for record in outcome.wave_records:
        by = (str(record.get("by_target")), int(record["by"]))
        found = by_comment.get(by)
        if found is not None:
            wave, t = found
            if t < recognised.get(wave, float("inf")):
                recognised[wave], counted[wave] = t, 1 + claimed[by]
            noticed[wave] = min(noticed.get(wave, float(record["ts"])), float(record["ts"]))
    latencies, sizes = [], []
    for wave, at in recognised.items():
        order = sorted((t, cid, key) for (w, _), (t, cid, key) in added.items() if w == wave)
        _, first, first_target = order[0]
        sizes.append(sum(1 for t, _, _ in order if t <= at))
        if (first_target, first) in deleted:
            latencies.append(deleted[(first_target, first)] - at)
    missing = sum(1 for _, cid, key in added.values() if (key, cid) not in deleted)
    total = len(added)
    print(f"{args.waves} waves x {args.copies} copies over {args.seconds:.0f} s, poll interval "
          f"{args.interval:g} s, {args.processes} worker processes")
    print(f"copies deleted: {total - missing:,} of {total:,}")
    for lines in outcome.missing:
        print(lines)
    if latencies:
        # Copies are decided in the order they are polled, not added (articles are polled
        # apart, newest first), so the copy that made the wave may be an earlier one than
        # the 5th added: the copies it counted include later ones seen before it.
        print(f"waves recognised at the copy added as {sorted(sizes)}, which counted "
              f"{sorted(counted.values())} copies, itself included (rule: at least 5)")
        decided = [noticed[w] - recognised[w] for w in recognised]
        print(f"recognising copy added -> wave recognised (decided): p50 "
              f"{percentile(decided, 0.5):.2f} s, max {max(decided):.2f} s")
        print(f"recognising copy added -> first copy deleted: p50 "
              f"{percentile(latencies, 0.5):.2f} s, p99 {percentile(latencies, 0.99):.2f} s, "
              f"max {max(latencies):.2f} s (target: under {2 * args.interval:g} s)")


def main() -> None:
    args = parse_args()
    report(args, run(args))


if __name__ == "__main__":
    main()
