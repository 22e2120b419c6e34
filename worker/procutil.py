"""Process helpers: die with the parent (Linux), is a pid alive."""

from __future__ import annotations

import ctypes
import ctypes.util
import functools
import os
import signal
import sys
from collections.abc import Callable
from typing import Any

_PR_SET_PDEATHSIG = 1


def die_with_parent(sig: int = signal.SIGTERM) -> None:
    """Ask the kernel to send ``sig`` to this process when its parent dies (Linux only).

    The embedded Redis and the worker processes use it so that a SIGKILLed daemon leaves no
    orphan behind: they receive SIGTERM and stop cleanly (Redis flushes its append-only file).
    """
    prctl = _prctl()
    if prctl is not None and prctl(_PR_SET_PDEATHSIG, sig, 0, 0, 0) != 0:
        raise OSError(ctypes.get_errno(), "prctl(PR_SET_PDEATHSIG) failed")


def die_with_parent_hook() -> Callable[[], None]:
    """A ``preexec_fn`` doing :func:`die_with_parent`, with libc resolved before the fork.

    Only an already-loaded C function runs between fork and exec: no import, no allocation
    by Python's locks, so it is safe even when the parent has threads.
    """
    prctl = _prctl()

    def hook() -> None:
        if prctl is not None:
            prctl(_PR_SET_PDEATHSIG, signal.SIGTERM, 0, 0, 0)

    return hook


@functools.cache
def _prctl() -> Any:
    if not sys.platform.startswith("linux"):
        return None
    libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
    return libc.prctl


def pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
