"""The ``modworker`` command line.

Exit codes: :mod:`worker.exit_codes`.
"""

from __future__ import annotations

import argparse
import math
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TypeAlias

from worker import __version__
from worker.units import parse_duration

LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR")
DEMO_MAX_SECONDS = 3600.0


# -- option types: a bad value is an argparse error (usage printed, exit 2), not a traceback --

def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {value}")
    return value


def _finite_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None
    if not math.isfinite(value):
        raise argparse.ArgumentTypeError(f"expected a finite number, got {text!r}")
    return value


def _unix_time(text: str) -> float:
    value = _finite_float(text)
    if value < 0:
        raise argparse.ArgumentTypeError(f"expected Unix seconds (0 or more), got {text!r}")
    return value


def _demo_seconds(text: str) -> float:
    value = _finite_float(text)
    if not 0 <= value <= DEMO_MAX_SECONDS:
        raise argparse.ArgumentTypeError(
            f"must be from 0 to {DEMO_MAX_SECONDS:g} seconds, got {text!r}"
        )
    return value


def _duration_text(text: str) -> str:
    """A duration (30m, 2h, 7d), checked here and passed on as written."""
    try:
        parse_duration(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None
    return text


def _log_level(text: str) -> str:
    level = text.upper()
    if level not in LOG_LEVELS:
        raise argparse.ArgumentTypeError(
            f"expected one of {', '.join(LOG_LEVELS)}, got {text!r}"
        )
    return level


def cmd_run(args: argparse.Namespace) -> int:
    from worker.daemon import RunOptions, run_daemon

    return run_daemon(RunOptions(
        config_path=Path(args.config), processes=args.processes, threads=args.threads,
        log_level=args.log_level,
    ))


#: What ``add_subparsers`` returns: each ``_add_<command>`` adds its command to it.
Subcommands: TypeAlias = "argparse._SubParsersAction[argparse.ArgumentParser]"


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="modworker",
        description="Rule-based moderation of WeChat Official Account and Weibo comments.",
    )
    parser.add_argument("--version", action="version", version=f"modworker {__version__}")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for add in (_add_check, _add_replay, _add_run, _add_demo, _add_audit, _add_stats,
                _add_targets, _add_health, _add_tokens, _add_unblacklist):
        add(commands)
    return parser


def _config_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("-c", "--config", required=True, help="path to config.yaml")


def _add_check(commands: Subcommands) -> None:
    check = commands.add_parser(
        "check", help="validate the config and rules and run every rule's tests"
    )
    _config_option(check)
    check.add_argument("--strict", action="store_true",
                       help="warnings fail (for CI): an unset environment variable, a secret "
                       "written in the file, a target listed twice, an untested enforced rule")
    check.add_argument("--json", action="store_true",
                       help="every finding as a JSON line on stdout, then a summary line")
    check.add_argument("--online", action="store_true",
                       help="also try each account's credentials against its platform (one "
                       "token fetch and one read-only call per account)")
    check.set_defaults(func=_lazy("worker.commands.check", "cmd_check"))


def _add_replay(commands: Subcommands) -> None:
    replay = commands.add_parser(
        "replay", help="run the rules over recorded comments (JSON lines), offline"
    )
    _config_option(replay)
    replay.add_argument(
        "--input", required=True, type=Path,
        help="JSON lines file of comments ('-' for standard input)",
    )
    replay.add_argument(
        "--now", type=_unix_time, default=None,
        help="Unix time to evaluate comment.age against (default: the current time)",
    )
    replay.add_argument(
        "--spans", action="store_true",
        help="add to each line the original text every rule matched ([start, end, text])",
    )
    replay.add_argument(
        "--allow-failing-tests", action="store_true",
        help="replay even when rule tests fail (a draft); the failures are printed first",
    )
    progress = replay.add_mutually_exclusive_group()
    progress.add_argument("--progress", dest="progress", action="store_true", default=None,
                          help="show a progress bar on stderr (default: when it is a terminal)")
    progress.add_argument("--no-progress", dest="progress", action="store_false")
    replay.set_defaults(func=_lazy("worker.commands.replay", "cmd_replay"))


def _add_run(commands: Subcommands) -> None:
    run = commands.add_parser(
        "run", help="the daemon: poll, decide and act until SIGTERM (SIGHUP reloads rules)"
    )
    _config_option(run)
    run.add_argument("--processes", type=_positive_int, default=2,
                     help="worker processes (default 2)")
    run.add_argument("--threads", type=_positive_int, default=8,
                     help="threads per worker (default 8)")
    run.add_argument("--log-level", type=_log_level, default="INFO",
                     help="DEBUG, INFO, WARNING or ERROR (default INFO; any case)")
    run.set_defaults(func=cmd_run)


def _add_demo(commands: Subcommands) -> None:
    demo = commands.add_parser(
        "demo", help="the whole pipeline on this machine: sandbox APIs, embedded Redis, daemon"
    )
    demo.add_argument("--duration", type=_demo_seconds, default=30.0,
                      help="seconds the daemon runs before the summary, 0 to 3600 (default 30)")
    demo.set_defaults(func=_lazy("worker.demo.command", "cmd_demo"))


def _add_audit(commands: Subcommands) -> None:
    audit = commands.add_parser("audit", help="recent audit records (decisions and actions)")
    _config_option(audit)
    audit.add_argument("--account")
    audit.add_argument("--rule")
    audit.add_argument("--action")
    audit.add_argument("--outcome",
                       choices=["ok", "already_done", "dry_run", "failed", "deferred"])
    audit.add_argument("--kind", choices=["decision", "action", "poll", "wave", "notify"])
    audit.add_argument("--since", type=_duration_text,
                       help="a duration back from now (30m, 2h, 7d)")
    audit.add_argument("--until", type=_duration_text, help="a duration back from now")
    audit.add_argument("--limit", type=_positive_int, default=50,
                       help="the newest this many records (default 50)")
    audit.add_argument("--json", action="store_true",
                       help="JSON lines even on a terminal (the default elsewhere)")
    audit.set_defaults(func=_lazy("worker.commands.audit", "cmd_audit"))


def _add_stats(commands: Subcommands) -> None:
    stats = commands.add_parser(
        "stats", help="per-rule hits, actions by outcome and last hit: dead and noisy rules"
    )
    _config_option(stats)
    stats.add_argument("--json", action="store_true")
    stats.set_defaults(func=_lazy("worker.commands.stats", "cmd_stats"))


def _add_targets(commands: Subcommands) -> None:
    targets = commands.add_parser(
        "targets", help="list, add or remove the articles and posts the daemon polls"
    )
    common = argparse.ArgumentParser(add_help=False)
    _config_option(common)
    verbs = targets.add_subparsers(dest="verb", required=True, metavar="VERB")
    listing = verbs.add_parser("list", parents=[common],
                               help="every target: source, state, last poll, comments seen")
    listing.add_argument("--account", help="only this account's targets")
    listing.add_argument("--json", action="store_true",
                         help="JSON lines even on a terminal (the default elsewhere)")
    listing.set_defaults(targets=[])
    for verb, text in (("add", "watch targets (again) within 5 s, no restart"),
                       ("remove", "stop polling targets; their history stays")):
        change = verbs.add_parser(verb, parents=[common], help=text)
        change.add_argument("--account", required=True, help="the account's name")
        change.add_argument(
            "targets", nargs="+", metavar="TARGET",
            help="MSG_DATA_ID[:INDEX] or an article link (WeChat), a status id (Weibo)",
        )
        change.set_defaults(json=False)
    targets.set_defaults(func=_lazy("worker.commands.targets", "cmd_targets"))


def _add_health(commands: Subcommands) -> None:
    health = commands.add_parser(
        "health", help="is moderation working: Redis, scheduler, workers, credentials "
        "(exit 0 healthy, 6 unhealthy, 3 Redis unreachable)"
    )
    _config_option(health)
    health.add_argument("--live", action="store_true",
                        help="liveness only (/healthz): leave credentials out")
    health.add_argument("--json", action="store_true",
                        help="JSON even on a terminal (the default elsewhere)")
    health.set_defaults(func=_lazy("worker.commands.operations", "cmd_health"))


def _add_tokens(commands: Subcommands) -> None:
    tokens = commands.add_parser("tokens", help="manage cached access tokens")
    token_commands = tokens.add_subparsers(dest="tokens_command", required=True,
                                           metavar="SUBCOMMAND")
    drop = token_commands.add_parser(
        "drop", help="forget an account's cached token: the next call fetches one with the "
        "secret configured now (after rotating a secret)"
    )
    _config_option(drop)
    drop.add_argument("--account", required=True, help="the account's name")
    drop.set_defaults(func=_lazy("worker.commands.operations", "cmd_tokens_drop"))


def _add_unblacklist(commands: Subcommands) -> None:
    unblacklist = commands.add_parser(
        "unblacklist", help="lift a WeChat blacklisting (batchunblacklist) and forget it"
    )
    _config_option(unblacklist)
    unblacklist.add_argument("--account", required=True, help="the WeChat account's name")
    unblacklist.add_argument("openids", nargs="+", metavar="OPENID")
    unblacklist.set_defaults(func=_lazy("worker.commands.unblacklist", "cmd_unblacklist"))


def _lazy(module: str, function: str) -> Callable[[argparse.Namespace], int]:
    """A command whose module is imported only when it runs (keeps every command's start-up
    free of the others' imports)."""

    def run(args: argparse.Namespace) -> int:
        import importlib

        result: int = getattr(importlib.import_module(module), function)(args)
        return result

    return run


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    code: int = args.func(args)
    return code


if __name__ == "__main__":
    sys.exit(main())
