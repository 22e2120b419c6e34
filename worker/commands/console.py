"""What the commands that read the deployment's state share on the console: config problems
and the state's provenance told on stderr, and a reader that closes the pipe early."""

from __future__ import annotations

import contextlib
import os
import sys
from collections.abc import Iterator

from worker.config import Config, load_config
from worker.errors import ConfigError
from worker.state_access import State


def load_config_reporting(path: str, *, require_secrets: bool = False) -> Config | None:
    """The config, or None after printing every problem on stderr (the command exits 1)."""
    try:
        return load_config(path, require_secrets=require_secrets)
    except ConfigError as exc:
        for problem in exc.problems:
            print(f"error: {problem}", file=sys.stderr)
        return None


def tell_state_source(state: State) -> None:
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
