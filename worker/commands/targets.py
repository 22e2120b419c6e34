"""``modworker targets list|add|remove -c config.yaml [--account A] [TARGET...]``.

TARGET is ``MSG_DATA_ID[:INDEX]`` or a WeChat article link on a WeChat account, a status id
on a Weibo account (:mod:`worker.targets.parse`). ``add`` and ``remove`` write to Redis (the
config's, or the running daemon's embedded one); the running scheduler picks the change up
within :data:`~worker.pipeline.scheduler.TARGETS_REFRESH` seconds, and it is kept across
restarts. ``add`` also revives a retired, removed or gone target (polled at once); ``remove``
stops polling and keeps the target's history (seen comments, audit).

``list`` prints per target: account, target, source (config / discovered / added), state
(hot / cold / retired / gone / removed), last poll, comments seen (over the target's life)
and next poll; a table on a terminal, JSON lines otherwise (or with ``--json``).

``list`` reads a copy of the embedded Redis when the daemon is stopped; ``add`` and
``remove`` open it under its lock (:mod:`worker.state_access`), so a publishing script may
add today's article before the daemon starts.

Exit codes: 0 success, 1 invalid configuration, 2 bad usage (an unknown account, a bad
target), 3 Redis unavailable.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Sequence
from typing import Any, TextIO

import redis

from worker.commands.console import load_config_reporting, open_state_for, pipe_closed_ok
from worker.commands.tables import format_time, render_table, terminal_width
from worker.config import ACCOUNT_LISTING, AccountConfig, Config
from worker.errors import InputError, StateUnavailableError
from worker.exit_codes import EXIT_CONFIG, EXIT_OK, EXIT_REDIS, EXIT_USAGE
from worker.pipeline.keys import Keys, target_key
from worker.pipeline.seen import SeenComments
from worker.targets.book import PollBook
from worker.targets.parse import parse_target
from worker.targets.policy import PollPolicy
from worker.targets.store import TargetStore, watched

HEADERS = ("account", "target", "source", "state", "last poll", "seen", "next poll")


def find_account(config: Config, name: str, *, filename: str) -> AccountConfig:
    """The account named ``name``, or InputError naming the file and the accounts it has."""
    try:
        return config.account(name)
    except KeyError:
        known = ", ".join(a.name for a in config.accounts) or "none"
        raise InputError(f"{filename}: no account {name!r} (accounts: {known})") from None


def add_targets(
    client: redis.Redis, config: Config, account: AccountConfig, texts: Sequence[str], *,
    now: float,
) -> list[str]:
    """Watch each target (all are parsed first: one bad one changes nothing); returns the
    target keys."""
    keys = Keys(prefix=config.redis.key_prefix)
    targets = [parse_target(t, platform=account.platform, account=account.name).key
               for t in texts]
    store, book = TargetStore(redis=client, keys=keys), PollBook(redis=client, keys=keys)
    seen = SeenComments(redis=client, keys=keys)
    policy = PollPolicy.from_config(config.polling)
    for key in targets:
        store.add(account.name, key, now=now)
        tkey = target_key(platform=account.platform, account=account.name, target=key)
        book.revive(tkey, policy, now=now)
        seen.clear_target_gone(tkey)
    return targets


def remove_targets(
    client: redis.Redis, config: Config, account: AccountConfig, texts: Sequence[str], *,
    now: float,
) -> list[str]:
    keys = Keys(prefix=config.redis.key_prefix)
    targets = [parse_target(t, platform=account.platform, account=account.name).key
               for t in texts]
    store = TargetStore(redis=client, keys=keys)
    for key in targets:
        store.remove(account.name, key, now=now)
    return targets


def list_rows(
    client: redis.Redis, config: Config, account: str | None = None
) -> list[dict[str, Any]]:
    """One record per target (removed ones included): the read API ``list`` prints."""
    keys = Keys(prefix=config.redis.key_prefix)
    store, book = TargetStore(redis=client, keys=keys), PollBook(redis=client, keys=keys)
    gone = SeenComments(redis=client, keys=keys).gone_targets()
    policy = PollPolicy.from_config(config.polling)
    rows: list[dict[str, Any]] = []
    for target in watched(config, store, include_removed=True):
        if account is not None and target.account != account:
            continue
        status = book.status(target.tkey)
        state = status.state(policy, gone=target.tkey in gone, removed=target.removed)
        rows.append({
            "account": target.account,
            "platform": target.platform,
            "target": "account listing" if target.key == ACCOUNT_LISTING else target.key,
            "source": target.source,
            "state": state,
            "last_poll": status.last_poll,
            "comments_seen": status.seen,
            "next_poll": status.next_poll if state in ("hot", "cold") else None,
            "interval": status.temperature.interval if status.temperature else None,
        })
    return rows


def write_rows(rows: Sequence[dict[str, Any]], out: TextIO, *, table: bool) -> None:
    if not table:
        for row in rows:
            out.write(json.dumps(row, ensure_ascii=False) + "\n")
        return
    cells = [
        [r["account"], r["target"], r["source"], r["state"],
         format_time(r["last_poll"]) if r["last_poll"] else "-", str(r["comments_seen"]),
         format_time(r["next_poll"]) if r["next_poll"] else "-"]
        for r in rows
    ]
    for line in render_table(HEADERS, cells, width=terminal_width(), flexible=1,
                             right=(5,)):
        out.write(line + "\n")


def cmd_targets(args: argparse.Namespace) -> int:
    config = load_config_reporting(args.config)
    if config is None:
        return EXIT_CONFIG
    account: AccountConfig | None = None
    try:
        if args.account is not None:
            account = find_account(config, args.account, filename=args.config)
        if args.verb in ("add", "remove"):
            if account is None:
                raise InputError(f"targets {args.verb} needs --account")
            if not args.targets:
                raise InputError(f"targets {args.verb} needs at least one TARGET")
            for text in args.targets:  # every target checked before Redis is asked
                parse_target(text, platform=account.platform, account=account.name)
        elif args.targets:
            raise InputError("targets list takes no TARGET (use --account to filter)")
    except InputError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    try:
        # add and remove work with the daemon stopped too (its Redis opened under its lock)
        with open_state_for(config, doing="Redis", write=args.verb != "list") as state:
            _run(args, config, account, state.client)
    except StateUnavailableError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_REDIS
    return EXIT_OK


def _run(
    args: argparse.Namespace, config: Config, account: AccountConfig | None,
    client: redis.Redis,
) -> None:
    now = time.time()
    if args.verb == "add" and account is not None:
        for key in add_targets(client, config, account, args.targets, now=now):
            print(f"{account.name}: watching {key}")
    elif args.verb == "remove" and account is not None:
        for key in remove_targets(client, config, account, args.targets, now=now):
            print(f"{account.name}: stopped {key} (its history is kept)")
    else:
        rows = list_rows(client, config, args.account)
        out = sys.stdout
        with pipe_closed_ok():
            write_rows(rows, out, table=out.isatty() and not args.json)


def budget_rows(client: redis.Redis, config: Config) -> list[dict[str, Any]]:
    """Each account's poll budget as last measured and the poll calls spent since (what
    ``modworker stats`` shows); accounts never measured are left out."""
    book = PollBook(redis=client, keys=Keys(prefix=config.redis.key_prefix))
    rows: list[dict[str, Any]] = []
    now = time.time()
    for account in config.accounts:
        measured = book.budget(account.name)
        if measured is None:
            continue
        budget = measured.budget
        rows.append({
            "account": account.name,
            "platform": account.platform,
            "limit": budget.limit,
            "used": budget.used,
            "measured_at": budget.measured_at,
            "reset_at": budget.reset_at,
            "poll_share": budget.share,
            "polled_in_window": budget.polled + measured.spent,
            "poll_calls_left": max(0.0, round(budget.poll_calls - measured.spent, 1)),
            "per_hour": round(budget.rate() * 3600, 1),
            "allowance_now": round(max(0.0, measured.allowance(now)), 1),
        })
    return rows


def write_budgets(rows: Sequence[dict[str, Any]], out: TextIO) -> None:
    if not rows:
        return
    out.write("poll budgets (polling may use quota.poll_share of what remains):\n")
    for r in rows:
        out.write(
            f"  {r['account']}: {r['used']} of {r['limit']} calls of the quota window used when "
            f"measured at {format_time(r['measured_at'])}; {r['polled_in_window']:g} polls, "
            f"{r['poll_calls_left']:g} more allowed until {format_time(r['reset_at'])} "
            f"(about {r['per_hour']:g} an hour)\n"
        )
