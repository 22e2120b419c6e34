"""Process helpers: die with the parent (Linux), cap glibc's malloc arenas and give its freed
memory back, is a pid alive."""

from __future__ import annotations

import ctypes
import ctypes.util
import functools
import os
import signal
import sys
from collections.abc import Callable
from typing import Any

import structlog

log = structlog.get_logger("worker.procutil")

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
def _libc() -> Any:
    if not sys.platform.startswith("linux"):
        return None
    return ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)


def _prctl() -> Any:
    libc = _libc()
    return None if libc is None else libc.prctl


_M_ARENA_MAX = -8  # glibc's mallopt parameter (malloc.h)


def limit_malloc_arenas(count: int) -> bool:
    """Let glibc's malloc use at most ``count`` arenas in this process (as
    ``MALLOC_ARENA_MAX`` does); call it before the process starts its threads.

    By default glibc gives threads up to eight arenas per core, and memory freed in one stays
    with it: a worker process's threads (a heartbeat thread per action among them) spread
    their large allocations over many arenas, and its RSS grows while its live objects stay
    flat (``bench/soak.py`` shows it). False where there is no glibc ``mallopt`` (nothing
    changed).
    """
    if count < 1:
        raise ValueError(f"a malloc arena limit must be at least 1, got {count}")
    libc = _libc()
    mallopt = getattr(libc, "mallopt", None) if libc is not None else None
    if mallopt is None:
        return False
    return bool(mallopt(_M_ARENA_MAX, count))


def release_freed_memory() -> bool:
    """Give the memory glibc's malloc keeps after large frees back to the system
    (``malloc_trim(0)``, every arena); whether it could.

    Loading a rule set of 100,000 terms frees its build's temporaries, and a reload the whole
    previous set, but glibc keeps most of those pages for reuse: a worker stayed 10 MiB larger
    after the first load and 34-35 MiB after each reload than after this call, which costs
    1-3 ms of CPU (``bench/rules_reload_rss.py``). Where there is no glibc (musl, macOS) the
    memory stays with the process until reused, said once at debug level.
    """
    trim = _malloc_trim()
    if trim is None:
        return False
    trim(0)
    return True


@functools.cache
def _malloc_trim() -> Any:
    libc = _libc()
    trim = getattr(libc, "malloc_trim", None) if libc is not None else None
    if trim is None:
        log.debug("malloc_trim_unavailable", platform=sys.platform,
                  detail="not glibc: memory freed by a rules load stays with the process "
                  "until it is reused")
    return trim


def pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
