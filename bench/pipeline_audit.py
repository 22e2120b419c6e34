"""Reading what the daemon did during the pipeline benchmark: its audit stream, the
sandbox's call log and its own log, against what the world expects."""

from __future__ import annotations

import json
import math
import sys
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import redis as redis_lib

from bench.pipeline_world import BATCH, WECHAT_PAGE, WEIBO_PAGE, Item, Target
from worker.subprocesses import DaemonProcess

LIST_ENDPOINTS = frozenset({"comment/list", "comments/show"})
ACTION_ENDPOINTS = frozenset({
    "comment/delete", "comment/markelect", "comment/unmarkelect", "comment/reply/add",
    "comment/reply/delete", "comment/open", "comment/close", "tags/members/batchblacklist",
    "comments/destroy_batch/own/biz",
})


@dataclass
class AuditWatcher:
    """Reads the daemon's audit stream incrementally: decisions and completed actions."""

    client: redis_lib.Redis
    key: str
    last: str = "0-0"
    decided: dict[tuple[str, str, str], float] = field(default_factory=dict)
    decisions: Counter[tuple[str, str, str]] = field(default_factory=Counter)
    done: dict[tuple[str, str, str], float] = field(default_factory=dict)
    outcomes: Counter[str] = field(default_factory=Counter)
    read_count: int = 0  # stream entries read so far
    decision_records: int = 0

    def read(self) -> None:
        while True:
            entries: Any = self.client.xrange(self.key, min=f"({self.last}", max="+",
                                              count=5000)
            if not entries:
                return
            for _stream_id, raw in entries:
                self._take({k.decode(): v for k, v in raw.items()})
            self.read_count += len(entries)
            self.last = entries[-1][0].decode()

    def _take(self, raw: dict[str, bytes]) -> None:
        def get(name: str) -> Any:
            value = raw.get(name)
            return None if value is None else json.loads(value)

        kind = get("kind")
        ts = float(get("ts"))
        if kind == "decision":
            self.decision_records += 1
            key = (str(get("platform")), str(get("target")), str(get("comment_id")))
            self.decided.setdefault(key, ts)
            self.decisions[key] += 1
            return
        action, outcome = str(get("action")), str(get("outcome"))
        self.outcomes[f"{action}:{outcome}"] += 1
        if outcome not in ("ok", "already_done"):
            return
        if "openid" in raw:
            if outcome != "ok":  # already_done here: another comment queued this openid
                return
            ident = ("blacklist", "", str(get("openid")))
        elif get("platform") == "weibo":
            ident = (action, "weibo", str(get("comment_id")))
        else:
            ident = (action, str(get("target")), str(get("comment_id")))
        self.done.setdefault(ident, ts)


def decision_key(item: Item) -> tuple[str, str, str]:
    return (item.target.platform, item.target.key, item.cid)


def wait_until_done(watcher: AuditWatcher, items: Sequence[Item], daemon: DaemonProcess, *,
             timeout: float, stall: float, what: str) -> bool:
    """Until every item is decided and acted on; False after ``timeout``, or after ``stall``
    seconds without any new audit record (what is left will not come soon).

    The stream is read (and decoded, which costs CPU beside the daemon) only when it has
    gone quiet for a second or could hold every expected record, or to stay ahead of the
    stream's trimming; in between only its length is polled.
    """
    decisions = {decision_key(i) for i in items}
    actions = {k for i in items for k in i.action_keys()}
    deadline = time.monotonic() + timeout
    length, progressed_at = -1, time.monotonic()
    while time.monotonic() < deadline:
        now = time.monotonic()
        current = int(watcher.client.xlen(watcher.key))
        if current != length:
            length, progressed_at = current, now
        quiet = now - progressed_at
        if (quiet >= 1.0 or current - watcher.read_count >= len(decisions) + len(actions)
                or current - watcher.read_count > 50_000):
            watcher.read()
            if decisions <= watcher.decided.keys() and actions <= watcher.done.keys():
                return True
        if not daemon.alive():
            raise RuntimeError(f"the daemon exited ({daemon.process.returncode}) during {what}; "
                               f"see {daemon.log_path}")
        if quiet > stall:
            break
        time.sleep(0.25)
    watcher.read()
    missing_d = len(decisions - watcher.decided.keys())
    missing_a = len(actions - watcher.done.keys())
    if not missing_d and not missing_a:
        return True
    print(f"warning: {what}: gave up waiting with {missing_d:,} comments undecided and "
          f"{missing_a:,} actions not done", file=sys.stderr)
    return False


def call_ids(call: dict[str, Any]) -> list[tuple[str, str, str]]:
    """The audit-style identities a successful action call acted on."""
    if call["errcode"] not in (0, None) or call["http_status"] != 200:
        return []
    endpoint, body = call["endpoint"], call["body"] or {}
    if endpoint == "tags/members/batchblacklist":
        return [("blacklist", "", str(o)) for o in body.get("openid_list", [])]
    if endpoint == "comments/destroy_batch/own/biz":
        return [("delete", "weibo", c) for c in str(body.get("cids", "")).split(",") if c]
    if endpoint in ("comment/delete", "comment/markelect"):
        action = "delete" if endpoint == "comment/delete" else "elect"
        target = f"{body['msg_data_id']}:{body.get('index', 0)}"
        return [(action, target, str(body["user_comment_id"]))]
    return []


def minimum_calls(targets: Sequence[Target], items: Sequence[Item]) -> dict[str, int]:
    per_target = Counter(i.target.key for i in items)
    wechat_pages = sum(math.ceil(per_target[t.key] / WECHAT_PAGE)
                       for t in targets if t.platform == "wechat")
    weibo_pages = sum(math.ceil(per_target[t.key] / WEIBO_PAGE)
                      for t in targets if t.platform == "weibo")
    deletes = sum(1 for i in items if i.target.platform == "wechat" and "delete" in i.actions)
    elects = sum(1 for i in items if "elect" in i.actions)
    openids = {i.author for i in items if "blacklist" in i.actions}
    destroys = sum(1 for i in items if i.target.platform == "weibo" and "delete" in i.actions)
    return {
        "comment/list": wechat_pages,
        "comments/show": weibo_pages,
        "comment/delete": deletes,
        "comment/markelect": elects,
        "tags/members/batchblacklist": math.ceil(len(openids) / BATCH),
        "comments/destroy_batch/own/biz": math.ceil(destroys / BATCH),
    }


def effects(items: Sequence[Item]) -> int:
    """Comment-level effects: deleted/elected/destroyed comments plus distinct openids."""
    singles = sum(1 for i in items for a in i.actions if a != "blacklist")
    return singles + len({i.author for i in items if "blacklist" in i.actions})


def percentile(values: Sequence[float], p: float) -> float:
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    rank = max(0, min(len(ordered) - 1, math.ceil(p / 100 * len(ordered)) - 1))
    return ordered[rank]


def seen_member(item: Item) -> tuple[str, str]:
    """The daemon's seen-set entry for ``item`` as first listed (WeChat ids carry state)."""
    member = f"{item.cid}#00" if item.target.platform == "wechat" else item.cid
    return item.target.key, member


def poll_ends(log: str, until: float) -> tuple[float, int]:
    """From the daemon's log: when the last poll that enqueued new comments (up to
    ``until``) finished, and how many comments those polls enqueued."""
    last, enqueued = float("nan"), 0
    for line in log.splitlines():
        if '"polled"' not in line or not line.startswith("{"):
            continue
        record = json.loads(line)
        at = datetime.fromisoformat(record["timestamp"]).timestamp()
        if record.get("event") == "polled" and record.get("new_comments") and at <= until:
            enqueued += int(record["new_comments"])
            last = at if math.isnan(last) else max(last, at)
    return last, enqueued
