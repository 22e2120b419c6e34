"""Aligned text tables for a terminal: what ``audit``, ``stats`` and ``targets list`` print.

Widths are terminal columns, not characters: CJK and full-width characters take two, combining
marks none, so Chinese comments line up; cells too wide are cut with ``…``.
"""

from __future__ import annotations

import shutil
import unicodedata
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime

DEFAULT_WIDTH = 120  # when the terminal does not say


def terminal_width() -> int:
    return shutil.get_terminal_size((DEFAULT_WIDTH, 24)).columns


def format_time(ts: object) -> str:
    """Unix seconds as local ``YYYY-MM-DD HH:MM:SS``; anything else as text."""
    if isinstance(ts, int | float) and not isinstance(ts, bool):
        return datetime.fromtimestamp(ts).strftime("%Y-%m-%d %H:%M:%S")
    return cell_text(ts)


def cell_text(value: object) -> str:
    """A cell: None as empty, control characters (newlines in comments) as spaces."""
    if value is None:
        return ""
    s = str(value)
    return "".join(" " if unicodedata.category(c)[0] == "C" else c for c in s)


def display_width(s: str) -> int:
    """Terminal columns: CJK wide and full-width characters take two, combining marks none."""
    return sum(_char_width(c) for c in s)


def _char_width(c: str) -> int:
    if unicodedata.combining(c):
        return 0
    return 2 if unicodedata.east_asian_width(c) in ("W", "F") else 1


def cut(s: str, width: int) -> str:
    """``s`` cut to ``width`` columns, ending with ``…`` when something was cut."""
    if display_width(s) <= width:
        return s
    if width <= 0:
        return ""
    used, kept = 0, []
    for c in s:
        w = _char_width(c)
        if used + w > width - 1:
            break
        kept.append(c)
        used += w
    return "".join(kept) + "…"


def _pad(s: str, width: int, right: bool) -> str:
    gap = " " * max(0, width - display_width(s))
    return gap + s if right else s + gap


def render_table(
    headers: Sequence[str], rows: Iterable[Sequence[str]], *, width: int, flexible: int,
    keep: Mapping[int, int] | None = None, right: Sequence[int] = (), min_flexible: int = 20,
    gap: int = 2,
) -> list[str]:
    """Aligned lines, no wider than ``width`` where that can be done readably.

    Every column is as wide as its widest cell. When the sum is too wide: the ``flexible``
    column (free text) gives way first, down to ``min_flexible``; then the widest other column,
    a character at a time, down to its floor (``keep[i]``, or 8, and never below its header);
    then the flexible column down to 10. Past that the lines stay wider (use ``--json``).
    Cut cells end with ``…``.
    """
    table = [list(r) for r in rows]
    widths = [max([display_width(h)] + [display_width(r[i]) for r in table])
              for i, h in enumerate(headers)]
    floors = [
        min(widths[i], max(display_width(h), (keep or {}).get(i, 8)))
        for i, h in enumerate(headers)
    ]
    excess = sum(widths) + gap * (len(headers) - 1) - width

    def shrink_flexible(down_to: int) -> None:
        nonlocal excess
        give = max(0, min(excess, widths[flexible] - down_to))
        widths[flexible] -= give
        excess -= give

    shrink_flexible(max(min_flexible, floors[flexible]))
    while excess > 0:
        shrinkable = [i for i in range(len(widths)) if i != flexible and widths[i] > floors[i]]
        if not shrinkable:
            break
        widths[max(shrinkable, key=lambda i: widths[i])] -= 1
        excess -= 1
    shrink_flexible(10)
    lines = []
    for cells in [list(headers), *table]:
        parts = [_pad(cut(cell, widths[i]), widths[i], i in right)
                 for i, cell in enumerate(cells)]
        lines.append((" " * gap).join(parts).rstrip())
    return lines
