"""``modworker replay``: the rules over recorded comments (JSON lines), offline.

The replay itself is :mod:`worker.replay`; this loads the config and rules (secrets not
needed), reports rule files' problems and failing test samples, and maps errors to exit codes.
"""

from __future__ import annotations

import argparse
import sys
from typing import TextIO

from worker.config import load_config
from worker.errors import ConfigError, InputError
from worker.exit_codes import EXIT_CONFIG, EXIT_OK, EXIT_USAGE
from worker.replay import replay
from worker.rules import load_rules


def cmd_replay(args: argparse.Namespace) -> int:
    try:
        config = load_config(args.config, require_secrets=False)
        accounts = {account.name: account.platform for account in config.accounts}
        rules = load_rules(config.rules, accounts=accounts, run_tests=False,
                           normalize=config.normalize,
                           channels={c.name for c in config.notify.channels})
        failures = rules.run_tests()
        if failures and not args.allow_failing_tests:
            raise ConfigError(failures)
    except ConfigError as exc:
        _print_problems(exc, sys.stderr)
        return EXIT_CONFIG
    if failures:
        for problem in failures:
            print(f"failing test: {problem}", file=sys.stderr)
        print(f"{len(failures)} failing test sample(s); replaying anyway "
              "(--allow-failing-tests)", file=sys.stderr)
    try:
        replay(
            rules,
            source=args.input,
            out=sys.stdout,
            err=sys.stderr,
            now=args.now,
            progress=sys.stderr.isatty() if args.progress is None else args.progress,
            spans=args.spans,
            accounts=accounts,
        )
    except InputError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    return EXIT_OK


def _print_problems(error: ConfigError, stream: TextIO) -> None:
    count = len(error.problems)
    for problem in error.problems:
        print(f"error: {problem}", file=stream)
    print(f"{count} problem{'s' if count != 1 else ''} found", file=stream)
