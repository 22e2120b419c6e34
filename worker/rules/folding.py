"""The one-for-one character steps after NFKC: invisible characters removed, accents,
look-alikes (confusables) and numerals folded, and the traditional -> simplified table.

Each maps one character to at most one, so spans stay exact; :func:`rare_re` finds, in one
search, every character these steps (but t2s) may change.
"""

from __future__ import annotations

import functools
import itertools
import re
import unicodedata
from collections.abc import Callable
from importlib import resources

from worker.rules.separators import class_body, code_point_ranges, unicode_tables

__all__ = [
    "NUMERALS",
    "Finder",
    "confusables_table",
    "lower_simple",
    "rare_fixer",
    "rare_re",
    "t2s_table",
]

@functools.cache
def rare_re(
    strip_invisible: bool, fold_accents: bool, confusables: bool, numerals: bool, casefold: bool
) -> re.Pattern[str]:
    """Characters that need fixing after NFKC: surrogates, invisibles when stripping, accented
    Latin letters and combining diacritics when folding accents, look-alikes and numerals
    when folding them, and every character the case step changes (``casefold``: str.casefold,
    else :func:`lower_simple`). One search finds them all: most Chinese comments have none,
    and then this is the only cost (no case folding either); one ``str.replace`` per distinct
    character found is cheaper than a ``translate`` or a substitution calling Python per
    occurrence.

    The look-alikes and cased letters beyond the BMP are covered by one range (a class of
    many astral ranges makes ``re`` test each against every character, and emoji are
    common); the few other characters inside it are given back unchanged by
    :func:`rare_fixer`, and only cost a case folding that changes nothing.
    """
    body = "\\ud800-\\udfff"
    if strip_invisible:
        body += class_body(unicode_tables()[1])
    if fold_accents:
        body += _ACCENT_BLOCKS
    if numerals:
        body += "".join(NUMERALS)
    folded = set(confusables_table()[0]) if confusables else set()
    codepoints = sorted(_case_changed(casefold) | folded)
    bmp = [cp for cp in codepoints if cp < 0x10000]
    astral = [cp for cp in codepoints if cp >= 0x10000]
    body += class_body(code_point_ranges(bmp))
    if astral:
        body += class_body([(astral[0], astral[-1])])
    return re.compile(f"[{body}]")


def lower_simple(text: str) -> str:
    """Context-free one-to-one lowercasing (``casefold: false``)."""
    return text.lower().replace("ς", "σ")


@functools.cache
def _case_changed(casefold: bool) -> frozenset[int]:
    """The code points the case step changes (str.casefold and :func:`lower_simple` are
    context-free: a text changes exactly when one of its characters does)."""
    case = str.casefold if casefold else lower_simple
    # No cased letter lies beyond plane 1 (the last is Adlam's, U+1E921).
    return frozenset(
        cp for cp in range(0x20000) if not 0xD800 <= cp <= 0xDFFF and case(chr(cp)) != chr(cp)
    )


@functools.cache
def rare_fixer(
    strip_invisible: bool, fold_accents: bool, confusables: bool, numerals: bool
) -> Callable[[str], str]:
    """What each character :func:`rare_re` finds becomes: a lone surrogate U+FFFD, a
    look-alike or numeral its ASCII character, an accented Latin letter its base (a
    diacritic nothing), an invisible character nothing; anything else (inside the astral
    range that covers the look-alikes, and cased letters, which the case step changes) stays."""
    invisible = unicode_tables()[0] if strip_invisible else frozenset()
    table = dict(confusables_table()[0]) if confusables else {}
    if numerals:
        table.update((ord(ch), digit) for ch, digit in NUMERALS.items())

    def fix(ch: str) -> str:
        if "\ud800" <= ch <= "\udfff":
            return "\ufffd"
        cp = ord(ch)
        folded = table.get(cp)
        if folded is not None:
            return folded
        if fold_accents and (0xC0 <= cp <= 0x24F or 0x300 <= cp <= 0x36F or 0x1E00 <= cp <= 0x1EFF):
            return _accents().get(cp, ch)  # U+034F, invisible and a diacritic, goes either way
        return "" if cp in invisible else ch

    return fix


@functools.cache
def t2s_table() -> tuple[dict[int, str], Finder]:
    """The traditional -> simplified table and a regex finding any traditional character."""
    table = _char_table("t2s_chars.txt")
    return table, _finder(table)


def _char_table(name: str) -> dict[int, str]:
    """A shipped one-character-to-one-character table ("SA" per line, '#' lines are comments)."""
    table: dict[int, str] = {}
    text = resources.files("worker").joinpath(f"data/{name}").read_text(encoding="utf-8")
    for line in text.splitlines():
        if not line or line.startswith("#"):
            continue
        if len(line) != 2:
            raise ValueError(f"worker/data/{name}: malformed line {line!r}")
        table[ord(line[0])] = line[1]
    return table


class Finder:
    """Tells whether a text may hold a character of a set, fast.

    A class with many astral ranges makes Python's ``re`` test every character against each
    range (emoji are astral and common), so the astral part is one covering range: a text
    with a character inside it but outside the set only costs a translation that changes
    nothing.
    """

    __slots__ = ("_re",)

    def __init__(self, codepoints: list[int]) -> None:
        bmp = [cp for cp in codepoints if cp < 0x10000]
        astral = [cp for cp in codepoints if cp >= 0x10000]
        ranges = code_point_ranges(bmp)
        if astral:
            ranges.append((astral[0], astral[-1]))
        self._re = re.compile("[" + class_body(ranges) + "]")

    def search(self, text: str) -> bool:
        return self._re.search(text) is not None


def _finder(table: dict[int, str]) -> Finder:
    """Finds any character the table maps."""
    return Finder(sorted(table))


@functools.cache
def confusables_table() -> tuple[dict[int, str], Finder]:
    """Look-alikes of Latin letters and digits -> ASCII (worker/data/confusables_latin.txt)."""
    table = _char_table("confusables_latin.txt")
    return table, _finder(table)


#: Chinese numerals, financial numerals (大写) and their traditional forms -> ASCII digits.
NUMERALS: dict[str, str] = {
    **{ch: str(i) for i, ch in enumerate("〇一二三四五六七八九")},
    "零": "0",
    **{ch: str(i) for i, ch in enumerate("壹贰叁肆伍陆柒捌玖", start=1)},
    "貳": "2",
    "參": "3",
    "陸": "6",
}


# The blocks accented Latin letters and combining diacritics come from (a superset of
# _accents(): three ranges test faster than its ~500).
_ACCENT_BLOCKS = "\\u00c0-\\u024f\\u0300-\\u036f\\u1e00-\\u1eff"


@functools.cache
def _accents() -> dict[int, str]:
    """Accented Latin letters -> base letter, combining diacritical marks -> nothing.

    Dropping a mark wherever it stands (not only after a Latin letter) keeps the step
    character by character, so spans stay exact even when NFKC is off and marks stand alone.
    """
    table: dict[int, str] = {}
    for cp in itertools.chain(range(0x00C0, 0x0250), range(0x1E00, 0x1F00)):
        decomposed = unicodedata.normalize("NFD", chr(cp))
        base, marks = decomposed[0], decomposed[1:]
        if marks and base.isascii() and base.isalpha() and all(
            0x300 <= ord(mark) <= 0x36F for mark in marks
        ):
            table[cp] = base
    table.update(dict.fromkeys(range(0x300, 0x370), ""))
    return table
