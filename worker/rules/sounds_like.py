"""``content.sounds_like``: terms matched by toneless pinyin.

A text's *sound* is its skeleton (normalised, separators skipped) with every Han character
replaced by the toneless pinyin syllable of its most common reading (the first reading in
pypinyin's character table; ``ü`` written ``v``) and every other character kept as itself. A
term is matched when its sound occurs in the comment's sound, syllable for syllable; where
the term starts or ends with a Latin letter or digit, no Latin letter or digit may continue
it (as for ``includes_word``). So ``微信`` (wei xin) hits ``维信``, ``威辛`` and ``薇芯`` but not
``微博`` (wei bo); ``西`` (xi) does not hit ``心`` (xin); ``加v`` hits ``家v信`` but not ``家vx``.

Each syllable is written as one private-use character (U+E000 + its number; private-use
characters are separators, so none is left in a skeleton), which makes the sound as long
as the skeleton: one ``str.translate`` per comment, one Aho-Corasick scan, and a hit's
offsets are skeleton offsets. The table is read once per process from
``worker/data/pinyin_first.txt`` (generated from pypinyin's table by tools/gen_pinyin.py);
no pypinyin call per comment.
"""

from __future__ import annotations

import functools
import re
from importlib import resources

import numpy as np
import numpy.typing as npt

__all__ = ["has_han", "needed_finder", "sound_of", "sound_of_page", "sound_table", "syllables"]

_FIRST_MARK = 0xE000
_TABLE = "pinyin_first.txt"


@functools.cache
def _chars_by_syllable() -> dict[str, str]:
    """Toneless syllable -> the Han characters whose most common reading it is.

    Only the first reading of each character, as shipped: loading pypinyin's table of every
    reading (and importing pypinyin: its phrase dictionary) took 10 MB and more for this.
    """
    text = resources.files("worker").joinpath(f"data/{_TABLE}").read_text(encoding="utf-8")
    table: dict[str, str] = {}
    for line in text.splitlines():
        if not line or line.startswith("#"):
            continue
        syllable, tab, chars = line.partition("\t")
        if not tab or not syllable or not chars:
            raise ValueError(f"worker/data/{_TABLE}: malformed line {line[:40]!r}")
        table[syllable] = chars
    return table


@functools.cache
def _marks() -> dict[str, str]:
    """Syllable -> the private-use character that stands for it."""
    return {
        syllable: chr(_FIRST_MARK + number)
        for number, syllable in enumerate(sorted(_chars_by_syllable()))
    }


@functools.cache
def _han_count() -> int:
    """How many characters have a reading (astral ones included)."""
    return sum(map(len, _chars_by_syllable().values()))


@functools.cache
def sound_table() -> list[int]:
    """The table of :func:`sound_of`: for each BMP code point, the code point of its syllable's
    character (Han) or itself. A list, not a dict: ``str.translate`` indexes it without
    hashing (1.3 instead of 2 us a comment); astral characters (rare Han of extension B and
    up) are past its end, which ``translate`` takes as "keep"."""
    marks = _marks()
    table = list(range(0x10000))
    for syllable, chars in _chars_by_syllable().items():
        mark = ord(marks[syllable])
        for ch in chars:
            if ord(ch) < 0x10000:
                table[ord(ch)] = mark
    return table


def has_han(text: str) -> bool:
    """Whether ``text`` holds a character that :func:`sound_of` reads as a syllable."""
    table = sound_table()
    return any(ord(ch) < 0x10000 and table[ord(ch)] != ord(ch) for ch in text)


def sound_of(skeleton: str) -> str:
    """The sound of an (already normalised, separator-free) text: as long as the text."""
    return skeleton.translate(sound_table())


@functools.cache
def _sound_array() -> npt.NDArray[np.uint16]:
    return np.array(sound_table(), dtype=np.uint16)


def sound_of_page(text: str) -> str:
    """:func:`sound_of` for a long text (a page of comments joined): one numpy gather over
    the UTF-16 code units instead of ``str.translate``'s Python lookup per character (a
    tenth of the cost a character; for one short comment numpy's fixed cost is the larger).
    The table keeps every surrogate, so an astral character (a pair of them) stays itself;
    ``text`` must hold no lone surrogate (normalised text never does: Normalizer.pre replaces
    them), since a high one followed by a low one would come back as one character."""
    units = np.frombuffer(text.encode("utf-16-le", "surrogatepass"), dtype=np.uint16)
    return _sound_array().take(units).tobytes().decode("utf-16-le", "surrogatepass")


def needed_finder(sounds: list[str], max_share: float = 0.25) -> re.Pattern[str] | None:
    """A regex that finds, in a skeleton, a character some term's sound cannot do without.

    Each term's first syllable must be in the comment for the term to match, so a skeleton
    with no character read as one of those syllables needs no sound at all. None when those
    characters are more than ``max_share`` of all Han characters (many terms): then nearly
    every comment has one and the search would only add its cost.
    """
    marks = set(_marks().values())
    first = {next(ch for ch in sound if ch in marks) for sound in sounds}
    table = sound_table()
    chars = [cp for cp, mark in enumerate(table) if cp != mark and chr(mark) in first]
    if not chars or len(chars) > max_share * _han_count():
        return None
    return re.compile("[" + "".join(chr(cp) for cp in chars) + "]")


def syllables(sound: str) -> str:
    """A sound written out, syllables space-separated (for messages and tests)."""
    names = {mark: syllable for syllable, mark in _marks().items()}
    return " ".join(names.get(ch, ch) for ch in sound)
