"""``content.sounds_like``: terms matched by toneless pinyin.

A text's *sound* is its skeleton (normalised, separators skipped) with every Han character
replaced by the toneless pinyin of its most common reading (the first reading in pypinyin's
character table; ``ü`` written ``v``) and every other character kept as itself. A term is
matched when its sound occurs in the comment's sound *starting and ending on a boundary*:
between two characters, except inside a run of Latin letters and digits (a Latin word is one
unit). So ``微信`` (``weixin``) hits ``维信``, ``威辛`` and ``加weixin好友``, but not ``微博``
(``weibo``) or ``weixinhao``; ``西`` (``xi``) does not hit inside ``心`` (``xin``), nor ``微``
(``wei``) inside ``weird``.

The character table is built once per process from pypinyin's data (no pypinyin call per
comment); a comment costs one ``str.translate`` of its skeleton and one Aho-Corasick scan.
"""

from __future__ import annotations

import bisect
import functools
import unicodedata
from collections.abc import Callable, Iterator

__all__ = ["SoundMap", "boundary_hits", "has_han", "sound_of", "sound_table"]

# Tone marks (the diaeresis of ü is kept, then written v).
_TONE_MARKS = {0x0300: None, 0x0301: None, 0x0304: None, 0x030C: None}


def _toneless(reading: str) -> str:
    plain = unicodedata.normalize("NFD", reading).translate(_TONE_MARKS)
    return unicodedata.normalize("NFC", plain).replace("ü", "v")


@functools.cache
def sound_table() -> dict[int, str]:
    """Han code point -> toneless pinyin of its most common reading."""
    from pypinyin.pinyin_dict import pinyin_dict  # only rule sets that use sounds_like pay

    table: dict[int, str] = {}
    for cp, readings in pinyin_dict.items():
        first = readings.split(",", 1)[0].strip()
        if first:
            table[cp] = _toneless(first)
    return table


def has_han(text: str) -> bool:
    """Whether ``text`` holds a character with a pinyin reading."""
    table = sound_table()
    return any(ord(ch) in table for ch in text)


def sound_of(skeleton: str) -> str:
    """The sound of an (already normalised) text; see the module docstring."""
    return skeleton.translate(sound_table())


class SoundMap:
    """Offsets of a sound back to the skeleton it was made from (built only on a hit)."""

    __slots__ = ("_inner", "_starts")

    def __init__(self, skeleton: str, is_word_char: Callable[[str], bool]) -> None:
        table = sound_table()
        starts: list[int] = []
        inner: set[int] = set()  # skeleton positions inside a Latin word: not boundaries
        pos = 0
        previous_word = False
        for index, ch in enumerate(skeleton):
            starts.append(pos)
            reading = table.get(ord(ch))
            pos += len(reading) if reading is not None else 1
            word = reading is None and is_word_char(ch)
            if word and previous_word:
                inner.add(index)
            previous_word = word
        starts.append(pos)
        self._starts = starts  # sound offset where each skeleton character starts, then the end
        self._inner = inner

    def skeleton_range(self, start: int, end: int) -> tuple[int, int] | None:
        """The skeleton characters ``sound[start:end]`` covers, or None when it does not
        start and end on a character boundary."""
        starts = self._starts
        i = bisect.bisect_left(starts, start)
        j = bisect.bisect_left(starts, end)
        if i >= len(starts) or starts[i] != start or j >= len(starts) or starts[j] != end:
            return None
        if i in self._inner or j in self._inner:
            return None
        return i, j


def boundary_hits(
    hits: list[tuple[int, int, int]], skeleton: str, is_word_char: Callable[[str], bool]
) -> Iterator[tuple[int, int, int]]:
    """The automaton hits over a sound that fall on boundaries, as
    ``(pattern index, skeleton start, skeleton end)``."""
    sound_map = SoundMap(skeleton, is_word_char)
    for index, start, end in hits:
        found = sound_map.skeleton_range(start, end)
        if found is not None:
            yield index, found[0], found[1]
