"""Discovery's pure part: which days to ask, and msgid to target (the index off by one)."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date, datetime
from typing import Any

import pytest

from worker.config import WechatTarget
from worker.targets.discovery import CHINA, article_of, day_start, days_to_ask, discover

NOW = datetime(2026, 3, 10, 0, 30, tzinfo=CHINA).timestamp()  # just after midnight in China


def test_days_to_ask_are_yesterday_back_through_the_window() -> None:
    days = days_to_ask(now=NOW, window=3 * 86400)
    assert days == [date(2026, 3, 9), date(2026, 3, 8), date(2026, 3, 7)]


def test_msgid_index_is_one_based() -> None:
    assert article_of("10000050_1") == WechatTarget(msg_data_id=10000050, index=0)
    assert article_of("12003_3") == WechatTarget(msg_data_id=12003, index=2)
    for bad in ("12003", "12003_0", "x_1", None):
        with pytest.raises(ValueError, match="msgid"):
            article_of(bad)


def test_discover_maps_each_article_to_its_day_and_skips_unreadable_items() -> None:
    asked: list[str] = []
    answers = {
        "2026-03-09": [{"msgid": "500_1"}, {"msgid": "500_2"}, {"msgid": "garbage"}],
        "2026-03-07": [{"msgid": "400_1"}],
    }

    def summary(day: str) -> list[Mapping[str, Any]]:
        asked.append(day)
        return list(answers.get(day, []))

    found = discover(summary, now=NOW, window=3 * 86400)
    assert asked == ["2026-03-09", "2026-03-08", "2026-03-07"]
    assert found == {
        "500:0": day_start(date(2026, 3, 9)),
        "500:1": day_start(date(2026, 3, 9)),
        "400:0": day_start(date(2026, 3, 7)),
    }
