"""The per-target half of ``modworker stats``: when each watched target was last polled
successfully, when it last brought a new comment, its failures, and whether it is stale or
its account's credentials are refused (the figures themselves: :mod:`worker.pipeline.freshness`).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any, TextIO

import redis

from worker.commands.tables import format_time, render_table
from worker.config import Config
from worker.pipeline.freshness import CredentialState, TargetFreshness, stale_after
from worker.pipeline.keys import Keys


def configured_targets(
    config: Config, client: redis.Redis | None = None
) -> list[tuple[str, str, str]]:
    """``(account, platform, target)`` of every configured target; with ``client``, every
    watched one: config.yaml's, a whole-account listing, the added and the discovered
    (:func:`worker.targets.store.watched`)."""
    if client is None:
        return [(a.name, a.platform, t.key) for a in config.accounts for t in a.targets]
    from worker.targets.store import TargetStore, watched

    store = TargetStore(redis=client, keys=Keys(prefix=config.redis.key_prefix))
    return [(t.account, t.platform, t.key) for t in watched(config, store)]


def freshness_report(
    targets: Sequence[TargetFreshness], credentials: Mapping[str, CredentialState],
    config: Config, *, now: float, watched: Iterable[tuple[str, str, str]] | None = None,
) -> dict[str, Any]:
    """Per target: last successful poll, last new comment, failures, and ``stale`` (no
    successful poll for ``stale_after`` seconds); per account the credentials verdict.
    ``watched``: the targets polled now (default: config.yaml's)."""
    # polling is adaptive: a healthy cold target is polled every polling.max_interval
    after = stale_after(config.polling.max_interval, config.polling.stale_after)
    configured = set(watched if watched is not None else configured_targets(config))
    rows = []
    for record in targets:
        entry = record.to_dict()
        entry["configured"] = (record.account, record.platform, record.target) in configured
        entry["stale"] = entry["configured"] and record.is_stale(now=now, after=after)
        credential = credentials.get(record.account)
        entry["credentials"] = credential.status if credential is not None else None
        rows.append(entry)
    return {
        "stale_after": after,
        "targets": rows,
        "accounts": {name: state.to_dict() for name, state in sorted(credentials.items())},
    }


FRESHNESS_HEADERS = ("ACCOUNT", "TARGET", "LAST POLL OK", "LAST NEW COMMENT", "SEEN", "FAILS",
                     "FLAGS", "LAST FAILURE")


def write_freshness_table(report: Mapping[str, Any], out: TextIO, *, width: int) -> None:
    rows = [_freshness_row(entry) for entry in report["targets"]]
    out.write("\npolling, per target:\n")
    if not rows:
        out.write("no target configured\n")
        return
    for line in render_table(FRESHNESS_HEADERS, rows, width=width,
                             flexible=len(FRESHNESS_HEADERS) - 1,
                             keep={0: 12, 1: 16, 2: 19, 3: 19, 6: 11}, right=(4, 5)):
        out.write(line + "\n")
    out.write(f"STALE: no successful poll for {report['stale_after']:.0f} s. CREDENTIALS: the "
              "platform refuses the account's credentials (see `modworker check --online`).\n")


def _freshness_row(entry: Mapping[str, Any]) -> list[str]:
    flags = []
    if entry["stale"]:
        flags.append("STALE")
    if entry["credentials"] == "rejected":
        flags.append("CREDENTIALS")
    if not entry["configured"]:
        flags.append("UNCONFIGURED")
    failure = ""
    if entry["reason"]:
        code = f" {entry['errcode']}" if entry["errcode"] is not None else ""
        failure = (f"{format_time(entry['failed_at'])} {entry['reason']}{code}: "
                   f"{entry['detail'] or ''}")
    return [
        entry["account"], entry["target"],
        format_time(entry["last_ok"]) if entry["last_ok"] is not None else "never",
        format_time(entry["last_comment"]) if entry["last_comment"] is not None else "never",
        str(entry["comments_seen"]), str(entry["failures"]), " ".join(flags), failure,
    ]
