"""An in-memory :class:`~worker.rules.model.OffenseCounts` for ``modworker replay``.

The daemon keeps the same counts in Redis (``worker.pipeline.offenses``); replay has no Redis,
so it counts offenses as it streams through the recorded comments, in input order.
"""

from __future__ import annotations

import bisect
from collections import defaultdict


class InMemoryOffenseCounter:
    def __init__(self) -> None:
        self._times: defaultdict[tuple[str, str | None, str], list[float]] = defaultdict(list)

    def record(self, *, platform: str, account: str | None, author: str, at: float) -> None:
        bisect.insort(self._times[(platform, account, author)], at)

    def count(
        self, *, platform: str, account: str | None, author: str, within: float, now: float
    ) -> int:
        times = self._times.get((platform, account, author))
        if not times:
            return 0
        return bisect.bisect_right(times, now) - bisect.bisect_left(times, now - within)
