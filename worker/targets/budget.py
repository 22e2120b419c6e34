"""A call budget for polling, spread over the time left until the quota resets. Pure.

WeChat counts calls per day (``openapi/quota/get`` tells the real ``daily_limit`` and
``used``); Weibo's commercial APIs 50,000 an hour per caller IP. Polling may use at most
``quota.poll_share`` (0.5) of what remains, spread evenly over the time left until the
reset, and at most that share of the whole window's limit, so that actions always have the
rest: at the rate :meth:`Budget.rate` the polls of the time left add up to at most
``poll_share`` of the remaining calls, whatever actions use.

:func:`fit` turns the intervals the policy wants into intervals the rate allows, cold
targets stretched first; :meth:`Budget.allowance` is the hard limit the scheduler checks
before each poll (a token bucket filled at that rate), so no schedule can overspend.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

#: Polls the bucket starts with at the first measurement. A new measurement starts from what
#: the previous one left unspent (at most this), so re-measuring never adds calls.
BURST = 5.0
#: How far cold targets are stretched before hot ones are too: a tight budget slows cold
#: targets down first, but never starves them while hot ones take everything.
COLD_STRETCH = 2.0
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


def fit(wanted: Mapping[str, tuple[float, bool]], rate: float) -> dict[str, float]:
    """Intervals that poll at most ``rate`` times a second in all.

    ``wanted`` maps a target to ``(interval, hot)``. When the wanted intervals ask for more,
    cold targets are stretched first (all by one factor, up to :data:`COLD_STRETCH`); beyond
    that every target is stretched by one more factor.
    """
    if not wanted:
        return {}
    hot = sum(1 / i for i, is_hot in wanted.values() if is_hot)
    cold = sum(1 / i for i, is_hot in wanted.values() if not is_hot)
    if rate <= 0:
        return {key: float("inf") for key in wanted}
    if hot + cold <= rate:
        return {key: interval for key, (interval, _) in wanted.items()}
    if cold > 0 and hot + cold / COLD_STRETCH <= rate:
        cold_factor = cold / (rate - hot)
        return {
            key: interval if is_hot else interval * cold_factor
            for key, (interval, is_hot) in wanted.items()
        }
    # cold targets stretched COLD_STRETCH times already: every interval by one more factor
    factor = (hot + cold / COLD_STRETCH) / rate
    return {
        key: interval * factor * (1.0 if is_hot else COLD_STRETCH)
        for key, (interval, is_hot) in wanted.items()
    }
