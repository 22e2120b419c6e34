"""Replay's time order: the queue kept while comments arrive in order, then the heap, release
exactly what a heap alone would (the reference below), and name the same first late line."""

from __future__ import annotations

import heapq

from hypothesis import given
from hypothesis import strategies as st

from worker.comment import Comment
from worker.replay import _TimeOrder


def reference(times: list[float | None], window: int) -> tuple[list[str], int | None]:
    """A heap of at most ``window`` comments: the order replay had before the queue."""
    heap: list[tuple[float, int, str]] = []
    out: list[str] = []
    last_read = released = float("-inf")
    late: int | None = None
    for seq, created in enumerate(times, start=1):
        at = created if created is not None else last_read
        last_read = at
        if at < released and late is None:
            late = seq
        if len(heap) < window:
            heapq.heappush(heap, (at, seq, str(seq)))
            continue
        at, _, cid = heapq.heappushpop(heap, (at, seq, str(seq)))
        released = max(released, at)
        out.append(cid)
    while heap:
        at, _, cid = heapq.heappop(heap)
        released = max(released, at)
        out.append(cid)
    return out, late


@given(st.lists(st.none() | st.integers(0, 20).map(float), max_size=60), st.integers(1, 8))
def test_comments_are_released_as_a_heap_alone_releases_them(
    times: list[float | None], window: int,
) -> None:
    order = _TimeOrder(window)
    out: list[str] = []
    for line, created in enumerate(times, start=1):
        ready = order.push(Comment(platform="wechat", id=str(line), content="x",
                                   created_at=created), line)
        if ready is not None:
            out.append(ready.id)
    out.extend(c.id for c in order.drain())
    assert (out, order.late_line) == reference(times, window)


def test_an_in_order_file_is_released_in_file_order() -> None:
    order = _TimeOrder(3)
    times = [1.0, 1.0, None, 2.0, 5.0, None, 9.0]
    released = [order.push(Comment(platform="wechat", id=str(i), content="x", created_at=t), i)
                for i, t in enumerate(times)]
    assert [c.id for c in released if c is not None] + [c.id for c in order.drain()] == [
        str(i) for i in range(len(times))]
    assert order.late_line is None
