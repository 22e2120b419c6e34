"""Separators: the characters that are not part of a word in any script (normalize.py's
module docstring lists them), as tables computed once from this Python's ``unicodedata`` (so
they agree with its NFKC and case folding) and the regexes that remove them.
"""

from __future__ import annotations

import bisect
import functools
import itertools
import re
import unicodedata

__all__ = [
    "SLOW_ASTRAL",
    "class_body",
    "code_point_ranges",
    "drop_slow_separators",
    "fast_separator_class",
    "is_separator",
    "non_separator_re",
    "separator_class",
    "separator_re",
    "slow_astral_re",
    "unicode_tables",
]

MAX_CP = 0x110000
# Python's ``re`` tests a character class's ranges one by one beyond the BMP (the BMP part is a
# bitmap), so the hot separator regex carries the BMP and the few ranges from U+1F000 up
# (emoji, tags, private use, unassigned), and the ~330 separator ranges of U+10000-U+1EFFF
# (historic scripts' punctuation, musical and mathematical symbols) are removed by a second,
# per-character pass that runs only when the text holds a character of that block.
SLOW_ASTRAL = (0x10000, 0x1EFFF)

# Code points that are invisible although not in category Cf (see the module docstring).
_EXTRA_INVISIBLE = (0x034F, 0x115F, 0x1160, 0x3164, 0xFFA0)
# Variation selectors and Mongolian free variation selectors (category Mn).
_VARIATION_SELECTORS = ((0x180B, 0x180D), (0x180F, 0x180F), (0xFE00, 0xFE0F), (0xE0100, 0xE01EF))
_SEPARATOR_CATEGORIES = frozenset(
    {
        "Zs",
        "Zl",
        "Zp",
        "Pc",
        "Pd",
        "Ps",
        "Pe",
        "Pi",
        "Pf",
        "Po",
        "Sm",
        "Sc",
        "Sk",
        "So",
        "Cc",
        "Cf",
        "Cs",
        "Co",
        "Me",
    }
)


# --------------------------------------------------------------------------------------------
# Character tables, computed once from this Python's unicodedata (so they agree with its NFKC
# and casefold) and cached.


def code_point_ranges(codepoints: list[int]) -> list[tuple[int, int]]:
    out: list[tuple[int, int]] = []
    for cp in codepoints:
        if out and out[-1][1] == cp - 1:
            out[-1] = (out[-1][0], cp)
        else:
            out.append((cp, cp))
    return out


def class_body(ranges: list[tuple[int, int]]) -> str:
    """A Python ``re`` character class body (without brackets) for code point ranges."""
    parts: list[str] = []
    for lo, hi in ranges:
        if lo == hi:
            parts.append(f"\\U{lo:08x}")
        else:
            parts.append(f"\\U{lo:08x}-\\U{hi:08x}")
    return "".join(parts)


@functools.cache
def unicode_tables() -> tuple[frozenset[int], list[tuple[int, int]], list[tuple[int, int]]]:
    """(invisible code points, invisible ranges, separator ranges)."""
    category = unicodedata.category
    invisible: list[int] = []
    separators: list[int] = []
    extra_invisible = set(_EXTRA_INVISIBLE)
    vs = {cp for lo, hi in _VARIATION_SELECTORS for cp in range(lo, hi + 1)}
    slow_lo, slow_hi = SLOW_ASTRAL
    # Planes 2-3 hold only CJK ideographs (assigned or future): never separators. Planes 4-13
    # (unassigned) and 15-16 (private use) are all separators: added as ranges, no lookups.
    for cp in itertools.chain(range(0x20000), range(0xE0000, 0xF0000)):
        if 0x4E00 <= cp < 0xA000 or 0xAC00 <= cp < 0xD7A4:  # CJK, Hangul syllables: letters
            continue
        cat = category(chr(cp))
        if (cat == "Cf" and not slow_lo <= cp <= slow_hi) or cp in extra_invisible:
            invisible.append(cp)
            separators.append(cp)
        elif cat in _SEPARATOR_CATEGORIES or cat == "Cn" or cp in vs:
            separators.append(cp)
    ranges = sorted([*code_point_ranges(separators), (0x40000, 0xDFFFF), (0xF0000, MAX_CP - 1)])
    merged: list[tuple[int, int]] = []
    for lo, hi in ranges:
        if merged and lo <= merged[-1][1] + 1:
            merged[-1] = (merged[-1][0], max(hi, merged[-1][1]))
        else:
            merged.append((lo, hi))
    return frozenset(invisible), code_point_ranges(invisible), merged


@functools.cache
def separator_class() -> str:
    """The body of a Python ``re`` character class matching exactly the separators."""
    return class_body(unicode_tables()[2])


@functools.cache
def _separator_bounds() -> tuple[list[int], list[int]]:
    ranges = unicode_tables()[2]
    return [lo for lo, _ in ranges], [hi for _, hi in ranges]


def is_separator(ch: str) -> bool:
    """True when the one-character string ``ch`` is a separator (see the module docstring)."""
    los, his = _separator_bounds()
    cp = ord(ch)
    i = bisect.bisect_right(los, cp) - 1
    return i >= 0 and cp <= his[i]


@functools.cache
def _fast_ranges() -> tuple[tuple[int, int], ...]:
    """Every separator range, clipped to outside the slow block."""
    lo, hi = SLOW_ASTRAL
    fast: list[tuple[int, int]] = []
    for a, b in unicode_tables()[2]:
        if a < lo:
            fast.append((a, min(b, lo - 1)))
        if b > hi:
            fast.append((max(a, hi + 1), b))
    return tuple(fast)


@functools.cache
def fast_separator_class() -> str:
    """The body of a Python ``re`` character class matching the separators outside the slow
    block (:data:`SLOW_ASTRAL`)."""
    return class_body(list(_fast_ranges()))


@functools.cache
def separator_re() -> re.Pattern[str]:
    """Runs of separators outside the slow block (offset maps find them with it)."""
    return re.compile(f"[{fast_separator_class()}]+")


@functools.cache
def non_separator_re(*, keep_nul: bool = False) -> re.Pattern[str]:
    """Runs of what :func:`separator_re` leaves: joining them (``findall``) removes the
    separators, faster than substituting them away. With ``keep_nul``, NUL is kept too: it
    joins the texts of a page (Normalizer.normalize_many)."""
    ranges = _fast_ranges()
    if keep_nul:
        ranges = tuple((max(a, 1), b) for a, b in ranges if b >= 1)
    return re.compile(f"[^{class_body(list(ranges))}]+")


@functools.cache
def slow_astral_re() -> re.Pattern[str]:
    lo, hi = SLOW_ASTRAL
    return re.compile(f"[\\U{lo:08x}-\\U{hi:08x}]")


def drop_slow_separators(match: re.Match[str]) -> str:
    ch = match.group()
    return "" if is_separator(ch) else ch
