"""The demo's closing summary: decisions, rule hits, actions by outcome, API calls, batch
sizes, the copy-paste wave, targets and example decisions."""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from worker.demo.examples import choose_examples, example_lines
from worker.demo.progress import comment_key
from worker.demo.setup import WAVE_RULE
from worker.pipeline.audit import OUTCOMES

ORDER = ("ok", "already_done", "dry_run", "failed", "deferred")

Record = dict[str, Any]


@dataclass
class Results:
    records: list[Record]
    stats: dict[str, Any]
    calls: list[Record]
    seeded: int
    live: int
    waves: int
    complete: bool
    elapsed: float
    rule_ids: tuple[str, ...] = ()
    rule_actions: dict[str, str] = field(default_factory=dict)
    log_samples: tuple[int, list[str]] = (0, [])
    targets: list[Record] = field(default_factory=list)  # `modworker targets list`
    digests: list[str] = field(default_factory=list)  # what the moderators' robot received


def format_summary(results: Results) -> list[str]:
    """The summary lines: decisions, rule hits, actions by outcome, API calls, batches,
    examples."""
    actions = [r for r in results.records if r.get("kind") == "action"]
    latest = _one_decision_per_comment(r for r in results.records if r.get("kind") == "decision")
    outcomes = _outcomes_by_action(actions)
    lines = _headline(results, latest)
    lines += _rule_hit_lines(results)
    lines += _outcome_lines(outcomes)
    lines += _api_call_lines(results.calls)
    lines += _log_lines(results.log_samples)
    lines += _wave_lines(results)
    lines += _target_lines(results.targets)
    lines += ["", "examples (original text → rule → actions and outcomes):"]
    for record in choose_examples(list(latest.values())):
        lines += example_lines(record, actions)
    lines += _in_short(outcomes)
    return lines


def log_samples(path: Path) -> tuple[int, list[str]]:
    """How many lines the daemon logged, and one line of a few telling events."""
    try:
        lines = path.read_text(encoding="utf-8", errors="replace").splitlines()
    except OSError as exc:
        return 0, [f"(cannot read the daemon log: {exc})"]
    samples = []
    for event in ("action", "batch_sent"):
        for line in lines:
            try:
                record = json.loads(line)
            except json.JSONDecodeError:
                continue  # not one of the daemon's JSON lines (e.g. a Python warning)
            if isinstance(record, dict) and record.get("event") == event and (
                event != "action" or record.get("outcome") == "ok"
            ):
                samples.append(line)
                break
    return len(lines), samples


def _one_decision_per_comment(decisions: Iterable[Record]) -> dict[tuple[str, str, str], Record]:
    """The first decision of each comment that matched a rule (an elected or replied comment
    is listed, and so decided, again; then the praise rule no longer matches), else its first."""
    latest: dict[tuple[str, str, str], Record] = {}
    for record in decisions:
        key = comment_key(record)
        if key not in latest or (record.get("rules") and not latest[key].get("rules")):
            latest[key] = record
    return latest


def _outcomes_by_action(actions: Iterable[Record]) -> dict[str, Counter[str]]:
    counts: dict[str, Counter[str]] = {}
    for record in actions:
        counts.setdefault(str(record.get("action")), Counter())[str(record.get("outcome"))] += 1
    return counts


def _totals(outcomes: Mapping[str, Counter[str]]) -> Counter[str]:
    totals = Counter[str]()
    for counter in outcomes.values():
        totals.update(counter)
    return totals


def _headline(results: Results, latest: Mapping[tuple[str, str, str], Record]) -> list[str]:
    by_platform = Counter(key[0] for key in latest)
    matched = sum(1 for d in latest.values() if d.get("rules"))
    lines = ["", "── summary " + "─" * 68]
    lines.append(
        f"comments: {results.seeded + results.live} added ({results.seeded} seeded, "
        f"{results.live} live in {results.waves} waves); {len(latest)} decided "
        f"(wechat {by_platform['wechat']}, weibo {by_platform['weibo']}) in "
        f"{results.elapsed:.0f}s: {matched} matched a rule, {len(latest) - matched} left alone"
    )
    if not results.complete:
        lines.append("  (the daemon had not finished everything when it was stopped)")
    return lines


def _rule_hit_lines(results: Results) -> list[str]:
    header = ["rule", "enforced", "shadow", "then"]
    order = {rule_id: n for n, rule_id in enumerate(results.rule_ids)}
    body = []
    for rule_id, entry in results.stats.get("rules", {}).items():
        hits = entry.get("hits", {})
        body.append([rule_id, str(hits.get("enforce", 0)), str(hits.get("shadow", 0)),
                     results.rule_actions.get(rule_id, "(no longer loaded)")])
    body.sort(key=lambda r: order.get(r[0], len(order)))
    return ["", "rule hits:", *_table([header, *body])]


def _outcome_lines(outcomes: Mapping[str, Counter[str]]) -> list[str]:
    extra = sorted({o for c in outcomes.values() for o in c} - set(OUTCOMES))
    columns = [*ORDER, *extra]
    rows = [["action", *columns]]
    for action in sorted(outcomes, key=lambda a: -outcomes[a].total()):
        rows.append([action, *(str(outcomes[action].get(o, 0)) for o in columns)])
    totals = _totals(outcomes)
    rows.append(["all", *(str(totals.get(o, 0)) for o in columns)])
    return ["", "actions by outcome:", *_table(rows),
            "  (already_done: asked for again, e.g. the same spammer's next comment; "
            "dry_run: a shadow rule, audited, never sent)"]


def _api_call_lines(calls: list[Record]) -> list[str]:
    per_endpoint: Counter[str] = Counter()
    errors: Counter[str] = Counter()
    for call in calls:
        per_endpoint[str(call.get("endpoint"))] += 1
        if _failed_call(call):
            errors[str(call.get("endpoint"))] += 1
    rows = [["endpoint", "calls", "errors"]]
    for endpoint, count in sorted(per_endpoint.items(), key=lambda item: (-item[1], item[0])):
        rows.append([endpoint, str(count), str(errors.get(endpoint, 0))])
    lines = ["", "API calls (as the sandbox saw them):", *_table(rows)]
    if errors:
        lines.append("  (errors: injected 'system busy' answers, retried with backoff)")
    blacklist = _batch_sizes(calls, "tags/members/batchblacklist")
    destroy = _batch_sizes(calls, "comments/destroy_batch/own/biz")
    return [*lines, "", f"WeChat blacklist batches: {_sizes_text(blacklist)}",
            f"Weibo destroy batches:    {_sizes_text(destroy)}"]


def _log_lines(samples: tuple[int, list[str]]) -> list[str]:
    count, lines = samples
    if not lines:
        return []
    return ["", f"the daemon's log: {count} JSON lines, for example:",
            *(f"  {sample}" for sample in lines)]


def _wave_lines(results: Results) -> list[str]:
    """The copy-paste wave: how many copies were cut, the earlier ones included, and the
    digest the moderators' channel got."""
    members = {str(r.get("comment_id")) for r in results.records if r.get("kind") == "wave"}
    hits = results.stats.get("rules", {}).get(WAVE_RULE, {}).get("hits", {}).get("enforce", 0)
    lines = ["", f"copy-paste wave ({WAVE_RULE}): {hits} copies matched as they came, "
                 f"{len(members)} earlier copies cut with them"]
    if results.digests:
        lines.append(f"the moderators' DingTalk robot got {len(results.digests)} digest(s); "
                     "the first:")
        lines += [f"  | {line}" for line in results.digests[0].splitlines()]
    else:
        lines.append("the moderators' DingTalk robot got no digest")
    return lines


def _target_lines(targets: list[Record]) -> list[str]:
    if not targets:
        return []
    rows = [["account", "target", "source", "state", "comments seen"]]
    rows += [[str(t["account"]), str(t["target"]), str(t["source"]), str(t["state"]),
              str(t["comments_seen"])] for t in targets]
    return ["", "targets (`modworker targets list`):", *_table(rows)]


def _in_short(outcomes: Mapping[str, Counter[str]]) -> list[str]:
    deleted = sum(c["ok"] + c["already_done"] for a, c in outcomes.items() if a == "delete")
    blacklisted = outcomes.get("blacklist", Counter())["ok"]
    elected = outcomes.get("elect", Counter())["ok"]
    failed = _totals(outcomes).get("failed", 0)
    return ["", f"in short: {deleted} deletions, {blacklisted} openids blacklisted, "
                f"{elected} comments elected (featured) and thanked, {failed} failures."]


def _batch_sizes(calls: Iterable[Mapping[str, Any]], endpoint: str) -> list[int]:
    sizes = []
    for call in calls:
        if call.get("endpoint") != endpoint:
            continue
        body = call.get("body") or {}
        if endpoint == "tags/members/batchblacklist":
            sizes.append(len(body.get("openid_list") or []))
        else:
            sizes.append(len([c for c in str(body.get("cids", "")).split(",") if c]))
    return sizes


def _failed_call(call: Mapping[str, Any]) -> bool:
    return call.get("http_status") != 200 or call.get("errcode") not in (0, None)


def _table(rows: list[list[str]], indent: str = "  ") -> Iterator[str]:
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    for row in rows:
        cells = [cell.rjust(w) if cell.isdigit() else cell.ljust(w)
                 for cell, w in zip(row, widths, strict=True)]
        yield (indent + "  ".join(cells)).rstrip()


def _sizes_text(sizes: list[int]) -> str:
    if not sizes:
        return "none"
    return (f"{len(sizes)} call{'s' if len(sizes) != 1 else ''}, sizes "
            f"{', '.join(map(str, sizes))} ({sum(sizes)} in all, at most {max(sizes)} a call)")
