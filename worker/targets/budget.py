"""A call budget for polling, spread over the time left until the quota resets. Pure.

WeChat counts calls per day (``openapi/quota/get`` tells the real ``daily_limit`` and
``used``); Weibo's commercial APIs 50,000 an hour per caller IP. Polling may use at most
``quota.poll_share`` (0.5) of what remains, spread evenly over the time left until the
reset, and at most that share of the whole window's limit, so that actions always have the
rest: at the rate :meth:`Budget.rate` the polls of the time left add up to at most
``poll_share`` of the remaining calls, whatever actions use.

:func:`fit` turns the intervals the policy wants into intervals the rate allows, quiet
targets stretched first, none past the even interval (what fixed polling would give) but
the dormant ones, and those to three times it; :meth:`Budget.allowance` is the hard limit the
scheduler checks before each poll (a token bucket filled at that rate), so no schedule can
overspend.
"""

from __future__ import annotations

import math
from collections.abc import Collection, Mapping
from dataclasses import dataclass

#: Polls the bucket starts with at the first measurement. A new measurement starts from what
#: the previous one left unspent (at most this), so re-measuring never adds calls.
BURST = 5.0
#: Intervals under a tight budget go as ``weight ** -SHARE_EXPONENT``. 0.5 is the square-root
#: law (least mean wait); 1 (the rate's inverse) favours busy targets more, which is what
#: the median wait wants (bench/polling_sim.py, 2,000 a day: p50 17.4 min against 19.9 min
#: at 0.5, the p99 the same).
SHARE_EXPONENT = 1.0
#: The staleness floor: under a tight budget no target that is not dormant is stretched past
#: this many times the even interval (``targets / rate``, what polling every target at one
#: interval would give), so its comments wait no longer than under that fixed interval: the
#: tail is not traded for the median. What the busy targets get beyond it, the dormant ones
#: give up. Above 1 the p99 grows about as the floor does (bench/polling_sim.py, 2,000 calls
#: a day, seed 1, fixed 38.1 / 72.3 min: floor 1, p50 17.4 min / p99 71.6 min; floor 1.5,
#: 9.2 / 102 min; the former cap of 4 for every target, 6.1 / 208 min).
FLOOR = 1.0
#: A dormant target (:attr:`~worker.targets.policy.Temperature.dormant`) may be stretched to
#: this many even intervals, never further. Its comments are few but not none: 3 keeps the
#: p99 at fixed polling's (4: 87 min in the run above).
DORMANT_CAP = 3.0
#: Never spread a budget over less than this (seconds), so the last minutes before a reset
#: do not get the whole remainder at once.
MIN_SPAN = 300.0


@dataclass(frozen=True, slots=True, kw_only=True)
class Budget:
    """What polling may spend from ``measured_at`` until ``reset_at``."""

    limit: int  # calls allowed in the quota window
    used: int  # calls used in the window when measured (polls and actions alike)
    measured_at: float
    reset_at: float
    share: float  # quota.poll_share
    polled: float = 0.0  # poll calls made in the window before measured_at

    @property
    def remaining(self) -> int:
        return max(0, self.limit - self.used)

    @property
    def poll_calls(self) -> float:
        """Poll calls allowed from ``measured_at`` to the reset: ``share`` of what remains,
        and never more than ``share`` of the window's limit in all (re-measuring does not
        let polling creep up on the calls actions are left)."""
        return max(0.0, min(self.share * self.remaining, self.share * self.limit - self.polled))

    def rate(self) -> float:
        """Poll calls per second."""
        return self.poll_calls / max(self.reset_at - self.measured_at, MIN_SPAN)

    def allowance(self, *, now: float, spent: float, burst: float = BURST) -> float:
        """Poll calls that may be made at ``now`` when ``spent`` were made since
        ``measured_at``: a bucket that starts with ``burst`` (at most the whole budget) and
        fills at :meth:`rate`, never above the budget itself."""
        burst = min(burst, self.poll_calls)
        earned = burst + self.rate() * max(0.0, now - self.measured_at)
        return min(earned, self.poll_calls) - spent

    def carry(self, *, now: float, spent: float) -> float:
        """What a new measurement's bucket starts with: this one's unspent calls, at most
        :data:`BURST`."""
        return max(0.0, min(BURST, self.allowance(now=now, spent=spent)))


def fit(
    wanted: Mapping[str, tuple[float, float]], rate: float,
    dormant: Collection[str] = frozenset(),
) -> dict[str, float]:
    """Intervals that poll at most ``rate`` times a second in all.

    ``wanted`` maps a target to ``(interval, weight)``: the interval its temperature asks
    for and its comment rate (:meth:`~worker.targets.policy.Temperature.weight`). While the
    wanted intervals fit the rate they are kept. Beyond, each interval is
    ``max(wanted, c / weight ** SHARE_EXPONENT)``, with ``c`` chosen so that the polls add up
    to ``rate``, and at most its cap: :data:`FLOOR` even intervals (``targets / rate``), or
    :data:`DORMANT_CAP` for the ``dormant`` targets, or its wanted interval if longer. A
    quiet target (low weight) stretches first, a busy one least; what the dormant ones give
    up goes to the busy ones.
    """
    if not wanted:
        return {}
    if rate <= 0:
        return {key: float("inf") for key in wanted}
    if sum(1 / interval for interval, _ in wanted.values()) <= rate:
        return {key: interval for key, (interval, _) in wanted.items()}
    caps = {  # a target that asks for a longer interval keeps it
        key: max(interval, ceiling(len(wanted), rate, dormant=key in dormant))
        for key, (interval, _) in wanted.items()
    }
    capped: dict[str, float] = {}
    free = dict(wanted)
    while True:
        spread = _square_root_fill(free, rate - sum(1 / caps[key] for key in capped))
        over = [key for key, interval in spread.items() if interval > caps[key]]
        if not over or len(over) == len(free):
            return {**spread, **capped}
        for key in over:
            capped[key] = caps[key]
            del free[key]


def ceiling(targets: int, rate: float, *, dormant: bool) -> float:
    """The longest interval :func:`fit` gives one of ``targets`` sharing ``rate`` under a
    tight budget: :data:`FLOOR` even intervals (``targets / rate``, the interval that would
    spread the rate evenly), :data:`DORMANT_CAP` for a dormant target."""
    return (DORMANT_CAP if dormant else FLOOR) * targets / max(rate, 1e-300)


def _square_root_fill(wanted: Mapping[str, tuple[float, float]], rate: float) -> dict[str, float]:
    """``max(wanted, c / weight ** SHARE_EXPONENT)``, ``c`` such that the polls add up to
    ``rate``."""
    if rate <= 0:
        return {key: float("inf") for key in wanted}
    roots = {key: max(weight, 1e-12) ** SHARE_EXPONENT for key, (_, weight) in wanted.items()}
    # a target is stretched (c / root > its wanted interval) once c passes interval * root
    order = sorted(wanted, key=lambda key: wanted[key][0] * roots[key])
    floors = sum(1 / wanted[key][0] for key in order)  # polls of the unstretched targets
    stretched_roots = 0.0
    c = 0.0
    for n, key in enumerate(order):
        floors -= 1 / wanted[key][0]
        stretched_roots += roots[key]
        c = stretched_roots / (rate - floors) if rate > floors else math.inf
        following = order[n + 1] if n + 1 < len(order) else None
        if following is None or c <= wanted[following][0] * roots[following]:
            break
    return {key: max(interval, c / roots[key]) for key, (interval, _) in wanted.items()}
