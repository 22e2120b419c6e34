"""``content.sounds_like``: terms matched by toneless pinyin.

A text's *sound* is its skeleton (normalised, separators skipped) with every Han character
replaced by the toneless pinyin of its most common reading (the first reading in pypinyin's
character table; ``ü`` written ``v``) and every other character kept as itself. A term is
matched when its sound occurs in the comment's sound *starting and ending on a boundary*:
before and after each Han character; a run of other characters (Latin letters, digits) is one
unit, like a word. So ``微信`` (``wei xin``) hits ``维信``, ``威辛`` and ``薇芯`` but not ``微博``
(``wei bo``), ``西`` (``xi``) does not hit inside ``心`` (``xin``), and ``加v`` hits ``家v信`` but
not ``家vx``.

Boundaries are written into the sound: each Han character becomes ``|syllable|`` and the
whole sound is wrapped in ``|``, so one Aho-Corasick scan finds exactly the matches that
start and end on boundaries, with no per-hit check. The character table is built once per
process from pypinyin's data (no pypinyin call per comment); a comment costs one
``str.translate`` of its skeleton and one scan.
"""

from __future__ import annotations

import functools
import unicodedata

__all__ = ["has_han", "skeleton_range", "sound_of", "sound_table", "term_sound"]

_MARK = "|"  # never in a skeleton: it is a separator
# Tone marks (the diaeresis of ü is kept, then written v).
_TONE_MARKS = {0x0300: None, 0x0301: None, 0x0304: None, 0x030C: None}


def _toneless(reading: str) -> str:
    plain = unicodedata.normalize("NFD", reading).translate(_TONE_MARKS)
    return unicodedata.normalize("NFC", plain).replace("ü", "v")


@functools.cache
def _readings() -> dict[int, str]:
    """Han code point -> toneless pinyin of its most common reading."""
    from pypinyin.pinyin_dict import pinyin_dict  # only rule sets that use sounds_like pay

    table: dict[int, str] = {}
    for cp, readings in pinyin_dict.items():
        first = readings.split(",", 1)[0].strip()
        if first:
            table[cp] = _toneless(first)
    return table


@functools.cache
def sound_table() -> dict[int, str]:
    """Han code point -> ``|syllable|`` (the translation table of :func:`sound_of`)."""
    return {cp: f"{_MARK}{reading}{_MARK}" for cp, reading in _readings().items()}


def has_han(text: str) -> bool:
    """Whether ``text`` holds a character with a pinyin reading."""
    table = _readings()
    return any(ord(ch) in table for ch in text)


def sound_of(skeleton: str) -> str:
    """The sound of an (already normalised, separator-free) text, boundaries marked."""
    return f"{_MARK}{skeleton.translate(sound_table())}{_MARK}"


def term_sound(skeleton: str) -> str:
    """The sound of a term: marked at both ends, so it matches from boundary to boundary."""
    sound = skeleton.translate(sound_table())
    if not sound.startswith(_MARK):
        sound = _MARK + sound
    if not sound.endswith(_MARK):
        sound += _MARK
    return sound


def skeleton_range(skeleton: str, start: int, end: int) -> tuple[int, int]:
    """The skeleton characters that ``sound_of(skeleton)[start:end]`` (a match) covers."""
    sound = sound_of(skeleton)
    while start < end and sound[start] == _MARK:
        start += 1
    while end > start and sound[end - 1] == _MARK:
        end -= 1
    table = sound_table()
    pos = 1  # after the opening mark
    first = last = -1
    for index, ch in enumerate(skeleton):
        width = len(table.get(ord(ch), ch))
        if first < 0 and start < pos + width:
            first = index
        if pos < end:
            last = index
        pos += width
    return first, last + 1
