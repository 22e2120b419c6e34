"""Discovery: the WeChat articles mass-sent in the last ``discover`` days, from datacube.

``POST /datacube/getarticlesummary`` answers one day per call (``begin_date == end_date``),
``end_date`` at most yesterday (api-notes §4), so an article is found the day after its mass
send: a publishing script runs ``modworker targets add`` for the day itself. Each item's
``msgid`` is ``"<msg_data_id>_<n>"`` with ``n`` counting from 1, so the comment APIs' target
is ``(msg_data_id, n - 1)``. Days are Asia/Shanghai days (datacube's ``ref_date``).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import structlog

from worker.config import WechatTarget

log = structlog.get_logger("worker.targets")

#: One datacube day: ``YYYY-MM-DD`` -> that day's items.
Summary = Callable[[str], list[Mapping[str, Any]]]

CHINA = ZoneInfo("Asia/Shanghai")


def days_to_ask(*, now: float, window: float) -> list[date]:
    """The days whose mass sends are in the window: yesterday back to the first day
    ``window`` seconds ago covers (whole days, at least one), newest first."""
    today = datetime.fromtimestamp(now, CHINA).date()
    days = max(1, int(window // 86400))
    return [today - timedelta(days=n) for n in range(1, days + 1)]


def day_start(day: date) -> float:
    return datetime(day.year, day.month, day.day, tzinfo=CHINA).timestamp()


def article_of(msgid: object) -> WechatTarget:
    """The comment target of datacube's ``msgid`` (``"<msg_data_id>_<n>"``, ``n`` from 1).
    ValueError names the value when it has another shape."""
    text = str(msgid)
    head, sep, tail = text.partition("_")
    if not sep or not head.isdigit() or not tail.isdigit() or int(tail) < 1:
        raise ValueError(f"datacube msgid {msgid!r} is not <msg_data_id>_<n> with n from 1")
    return WechatTarget(msg_data_id=int(head), index=int(tail) - 1)


def discover(summary: Summary, *, now: float, window: float) -> dict[str, float]:
    """Every article mass-sent in the window: target key -> the start of its day.

    ``summary`` is the account's ``getarticlesummary`` for one day; an item whose ``msgid``
    cannot be read is logged and skipped."""
    found: dict[str, float] = {}
    for day in days_to_ask(now=now, window=window):
        for item in summary(day.isoformat()):
            try:
                target = article_of(item.get("msgid"))
            except ValueError as exc:
                log.warning("discovery_item_unreadable", day=day.isoformat(), detail=str(exc))
                continue
            found.setdefault(target.key, day_start(day))
    return found
