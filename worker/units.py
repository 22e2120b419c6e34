"""Parsing of the small value types that config and rule files share (durations)."""

from __future__ import annotations

import re

_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h|d|w)?\s*$")
_SECONDS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0, "w": 604800.0}


def parse_duration(value: object) -> float:
    """Seconds from ``90``, ``1.5``, ``"250ms"``, ``"60s"``, ``"10m"``, ``"1h"``, ``"7d"``.

    A bare number means seconds. Raises ValueError with a message fit for a moderator.
    """
    if isinstance(value, bool):
        raise ValueError(f"expected a duration like 30s, 10m, 1h or 7d, got {value!r}")
    if isinstance(value, int | float):
        if value < 0:
            raise ValueError(f"a duration cannot be negative, got {value!r}")
        return float(value)
    if isinstance(value, str):
        match = _DURATION.match(value)
        if match:
            return float(match.group(1)) * _SECONDS[match.group(2) or "s"]
        if value.strip().startswith("-") and _DURATION.match(value.strip()[1:]):
            raise ValueError(f"a duration cannot be negative, got {value!r}")
    raise ValueError(f"expected a duration like 30s, 10m, 1h or 7d, got {value!r}")
