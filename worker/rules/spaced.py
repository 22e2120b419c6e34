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

from collections.abc import Callable, Iterator

from worker.rules.normalize import is_separator

__all__ = ["spaced_runs"]


def spaced_runs(
    text: str, is_word: Callable[[int], bool]
) -> Iterator[tuple[str, int, int]]:
    """Every spaced-out run of ``text`` as (spelled word, start, end); ``is_word(i)`` says
    whether ``text[i]`` is a word character."""
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
