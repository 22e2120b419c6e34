"""Offset maps: which original characters each character of a normalised text came from.

Built only when a span is asked for (on a hit), by redoing the normalisation one NFKC-stable
cluster at a time: a cluster's normalised form is where each of its output characters comes
from, the separator regex says which of them the skeleton keeps, and collapsing keeps the
first N of a run (the last kept one ending where the run ends).
"""

from __future__ import annotations

import functools
import itertools
import unicodedata
from dataclasses import dataclass
from typing import TYPE_CHECKING

from worker.rules.separators import is_separator

if TYPE_CHECKING:
    from worker.rules.normalize import Normalizer

__all__ = ["OffsetMaps", "offset_maps"]


@dataclass(frozen=True, slots=True)
class OffsetMaps:
    """Per character of kept / skeleton: the original span [start, end) it came from."""

    kept_start: list[int]
    kept_end: list[int]
    skel_start: list[int]
    skel_end: list[int]
    exact: bool


def offset_maps(normalizer: Normalizer, original: str, kept: str, skeleton: str) -> OffsetMaps:
    """The offset maps of ``original``, normalised by ``normalizer`` to ``kept``/``skeleton``."""
    n = len(original)
    pre, src_start, src_end = _pre_with_sources(normalizer, original)
    keep = _non_separators(normalizer, pre)
    limit = normalizer.options.collapse_repeats
    if limit is None:
        kept_start, kept_end = src_start, src_end
        kept_text = pre
        skel_start = list(itertools.compress(src_start, keep))
        skel_end = list(itertools.compress(src_end, keep))
        skel_text = "".join(itertools.compress(pre, keep))
    else:
        chars = list(pre)
        all_idx = list(range(len(chars)))
        kept_idx, kept_end = _collapse_indices(limit, chars, all_idx, src_end)
        kept_start = [src_start[i] for i in kept_idx]
        kept_text = "".join(chars[i] for i in kept_idx)
        non_sep = list(itertools.compress(all_idx, keep))
        skel_idx, skel_end = _collapse_indices(limit, chars, non_sep, src_end)
        skel_start = [src_start[i] for i in skel_idx]
        skel_text = "".join(chars[i] for i in skel_idx)
    if kept_text != kept or skel_text != skeleton:  # pragma: no cover - never seen
        # A normalisation the cluster split did not reproduce: spans stay valid (they cover
        # the whole comment) rather than wrong.
        return OffsetMaps(
            [0] * len(kept), [n] * len(kept), [0] * len(skeleton), [n] * len(skeleton), False
        )
    return OffsetMaps(kept_start, kept_end, skel_start, skel_end, True)


def _pre_with_sources(
    normalizer: Normalizer, original: str
) -> tuple[str, list[int], list[int]]:
    """``original`` through every step but separators and collapsing, and for each output
    character the start and end of the original cluster it came from."""
    n = len(original)
    starts = _clusters(original) if normalizer.options.nfkc else list(range(n))
    bounds = [*starts[1:], n] if starts else []
    parts: list[str] = []
    src_start: list[int] = []
    src_end: list[int] = []
    for s, e in zip(starts, bounds, strict=True):
        out = normalizer.pre_char(original[s]) if e - s == 1 else normalizer.pre(original[s:e])
        parts.append(out)
        k = len(out)
        if k == 1:
            src_start.append(s)
            src_end.append(e)
        elif k:
            src_start.extend([s] * k)
            src_end.extend([e] * k)
    return "".join(parts), src_start, src_end


def _non_separators(normalizer: Normalizer, pre: str) -> bytearray:
    """keep[i] == 1 when pre[i] is not a separator (all 1 without ``skip_separators``)."""
    keep = bytearray(b"\x01") * len(pre)
    separators = normalizer.separator_regex
    if separators is not None:
        for m in separators.finditer(pre):
            keep[m.start() : m.end()] = bytes(m.end() - m.start())
        if not pre.isascii():
            for m in normalizer.slow_astral_regex.finditer(pre):
                if is_separator(m.group()):
                    keep[m.start()] = 0
    return keep


def _clusters(text: str) -> list[int]:
    """Start offsets of segments whose NFKC forms concatenate to the NFKC of ``text``."""
    n = len(text)
    normalize = unicodedata.normalize
    combining = unicodedata.combining
    may_join = _may_join_previous()
    starts = [0] if n else []
    for i in range(1, n):
        c = text[i]
        o = ord(c)
        # Nothing composes with a following character below U+0300 or a CJK ideograph.
        if o < 0x300 or 0x3400 <= o < 0xA000:
            starts.append(i)
            continue
        if combining(c):
            continue
        if c not in may_join:
            starts.append(i)
            continue
        decomposed = normalize("NFKD", c)
        if decomposed and combining(decomposed[0]):
            continue
        cur = text[starts[-1] : i]
        if normalize("NFKC", cur + c) != normalize("NFKC", cur) + normalize("NFKC", c):
            continue
        starts.append(i)
    return starts


def _collapse_indices(
    limit: int, chars: list[str], idx: list[int], src_end: list[int]
) -> tuple[list[int], list[int]]:
    """Indices (into ``chars``) that survive collapsing runs to ``limit``, and each one's
    source end.

    The last kept character of a collapsed run ends where the run ends in the original, so
    a match that includes it covers the whole run.
    """
    out: list[int] = []
    ends: list[int] = []
    k = 0
    m = len(idx)
    while k < m:
        ch = chars[idx[k]]
        j = k
        while j + 1 < m and chars[idx[j + 1]] == ch:
            j += 1
        keep = idx[k : k + min(limit, j - k + 1)]
        out.extend(keep)
        ends.extend(src_end[i] for i in keep)
        ends[-1] = src_end[idx[j]]
        k = j + 1
    return out, ends
@functools.cache
def _may_join_previous() -> frozenset[str]:
    """Starters that NFKC may compose with (or reorder behind) the character before them.

    Those are the second halves of canonical compositions (mostly combining marks, but also
    Hangul vowel and trailing jamo and a few Indic vowel signs) and the characters whose
    compatibility decomposition starts with a non-starter or with such a second half (e.g. the
    Hangul compatibility jamo ㅐ). Any other character with combining class 0 starts a new
    NFKC cluster (see _clusters).
    """
    combining = unicodedata.combining
    seconds = {chr(cp) for cp in range(0x1161, 0x1176)} | {chr(cp) for cp in range(0x11A8, 0x11C3)}
    decomposable: list[str] = []
    for cp in range(0x30000):  # no character above plane 2 has a decomposition
        ch = chr(cp)
        decomposition = unicodedata.decomposition(ch)
        if not decomposition:
            continue
        decomposable.append(ch)
        parts = decomposition.split()
        if not parts[0].startswith("<") and len(parts) == 2:
            seconds.add(chr(int(parts[1], 16)))
    joiners = {ch for ch in seconds if not combining(ch)}
    for ch in decomposable:
        first = unicodedata.normalize("NFKD", ch)[0]
        if combining(first) or first in seconds:
            joiners.add(ch)
    return frozenset(joiners)


