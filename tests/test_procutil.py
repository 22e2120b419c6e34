"""glibc's freed memory given back after a rules load (``release_freed_memory``), and said
once where there is no glibc."""

from __future__ import annotations

import ctypes
import os
import sys
from collections.abc import Iterator

import pytest
from structlog.testing import capture_logs

from worker import procutil


@pytest.fixture
def fresh_lookup() -> Iterator[None]:
    procutil._malloc_trim.cache_clear()
    yield
    procutil._malloc_trim.cache_clear()


def _rss_mib() -> float:
    with open("/proc/self/statm", encoding="ascii") as statm:
        return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc, Linux only")
def test_memory_freed_inside_the_heap_is_given_back(fresh_lookup: None) -> None:
    libc = ctypes.CDLL("libc.so.6")
    libc.malloc.restype = ctypes.c_void_p
    libc.free.argtypes = [ctypes.c_void_p]
    # 96 MiB in 1 KiB blocks (below the mmap threshold: on the heap), touched; all freed but
    # the last, which pins the heap's top so that free() alone cannot shrink it.
    blocks = [libc.malloc(1024) for _ in range(96 * 1024)]
    for block in blocks:
        ctypes.memset(block, 1, 1024)
    for block in blocks[:-1]:
        libc.free(block)
    before = _rss_mib()
    try:
        assert procutil.release_freed_memory()
        assert before - _rss_mib() > 48, (before, _rss_mib())
    finally:
        libc.free(blocks[-1])


def test_without_malloc_trim_it_is_said_once_at_debug(
    fresh_lookup: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(procutil, "_libc", lambda: None)  # musl, macOS: no glibc
    with capture_logs() as logs:
        assert [procutil.release_freed_memory() for _ in range(3)] == [False] * 3
    assert [(e["event"], e["log_level"]) for e in logs] == [
        ("malloc_trim_unavailable", "debug")]
