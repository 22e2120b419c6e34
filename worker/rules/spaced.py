"""Spaced-out words for ``includes_word``: ``f u c k``, ``s-h-i-t``, ``F.U.C.K``, ``s_h_i_t``.

A *spaced-out run* is a maximal sequence of at least two single word characters (a word
character with no word character directly before or after it) where each one is separated
from the next by one or more separators and nothing else. The run *spells* its word
characters joined: ``f u c k you`` holds the run ``f u c k`` spelling ``fuck`` (``you`` is a
word of three characters, so it ends the run), ``c l a s s`` spells ``class`` and ``a.s.s.e.t``
spells ``asset``. An ``includes_word`` term made only of word characters hits a run that
spells exactly the term, so the spaced-out run is itself the whole word.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable, Iterator

from worker.rules.normalize import is_separator
from worker.rules.separators import SLOW_ASTRAL, fast_separator_class

__all__ = ["spaced_runs"]

# Han: never a word character (words.py), and what most of a Chinese comment is made of.
_HAN = "\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff"


@functools.cache
def _pair_re() -> re.Pattern[str]:
    """Two characters that may be word characters with only separators, at least one,
    between them: every spaced-out run starts with such a pair. The classes are supersets
    (a word character is never a separator nor Han; the whole slow block counts as both), so
    a text this finds nothing in holds no run; one search instead of a Python step per
    character."""
    fast = fast_separator_class()
    lo, hi = SLOW_ASTRAL
    separators = f"[{fast}\\U{lo:08x}-\\U{hi:08x}]"
    maybe_word = f"[^{fast}{_HAN}]"
    return re.compile(f"{maybe_word}{separators}+{maybe_word}")


def spaced_runs(
    text: str, is_word: Callable[[int], bool]
) -> Iterator[tuple[str, int, int]]:
    """Every spaced-out run of ``text`` as (spelled word, start, end); ``is_word(i)`` says
    whether ``text[i]`` is a word character (only ever for a character words.py calls one)."""
    if _pair_re().search(text) is not None:
        yield from _runs(text, is_word)


def _runs(text: str, is_word: Callable[[int], bool]) -> Iterator[tuple[str, int, int]]:
    """:func:`spaced_runs`, one character at a time."""
    n = len(text)
    run: list[int] = []
    i = 0
    while i < n:
        if is_word(i):
            j = i + 1
            while j < n and is_word(j):
                j += 1
            if j - i == 1:
                run.append(i)  # a run is only ever open across separators (see below)
            else:
                yield from _spelled(text, run)
                run = []
            i = j
            continue
        if run and not is_separator(text[i]):
            yield from _spelled(text, run)
            run = []
        i += 1
    yield from _spelled(text, run)


def _spelled(text: str, run: list[int]) -> Iterator[tuple[str, int, int]]:
    if len(run) >= 2:
        yield "".join(text[p] for p in run), run[0], run[-1] + 1
