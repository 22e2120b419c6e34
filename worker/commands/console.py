"""What the commands that reach the deployment's state share on the console: config problems
and missing accounts told on stderr, the state opened with its provenance told and its Redis
errors said as one kind of failure, and a reader that closes the pipe early."""

from __future__ import annotations

import contextlib
import os
import sys
from collections.abc import Iterator

import redis

from worker.config import AccountConfig, Config, load_config
from worker.errors import ConfigError, StateUnavailableError
from worker.state_access import State, open_state


def load_config_reporting(path: str, *, require_secrets: bool = False) -> Config | None:
    """The config, or None after printing every problem on stderr (the command exits 1)."""
    try:
        return load_config(path, require_secrets=require_secrets)
    except ConfigError as exc:
        for problem in exc.problems:
            print(f"error: {problem}", file=sys.stderr)
        return None


def load_account_reporting(path: str, name: str) -> tuple[Config, AccountConfig] | None:
    """The config, secrets required (the command calls the account's API), and its account
    ``name``; or None after printing why not (the command exits 1)."""
    config = load_config_reporting(path, require_secrets=True)
    if config is None:
        return None
    try:
        return config, config.account(name)
    except KeyError:
        print(f"error: no account named {name!r} in {path}", file=sys.stderr)
        return None


@contextlib.contextmanager
def open_state_for(
    config: Config, *, doing: str, write: bool = False, tell: bool = True
) -> Iterator[State]:
    """:func:`~worker.state_access.open_state`, its provenance told on stderr (unless
    ``tell`` is false); a Redis error meanwhile becomes StateUnavailableError ``<doing>
    failed: ...``, so that a command has one failure to report (exit 3)."""
    try:
        with open_state(config, write=write) as state:
            if tell:
                _tell_state_source(state)
            yield state
    except redis.RedisError as exc:
        raise StateUnavailableError(f"{doing} failed: {exc}") from exc


def _tell_state_source(state: State) -> None:
    """A ``note:`` on stderr when the data comes from a stopped daemon's Redis."""
    if state.note is not None:
        print(f"note: {state.note}", file=sys.stderr)


@contextlib.contextmanager
def pipe_closed_ok() -> Iterator[None]:
    """``modworker audit | head``: a reader that stops early is not an error."""
    try:
        yield
    except BrokenPipeError:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())  # so the final flush at exit is quiet too
