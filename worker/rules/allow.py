"""``allow`` terms: a literal or regex hit whose original-text span lies inside a match of
one of its allow terms does not count (rules-spec.md, "v1.1").

Allow matches are skeleton-automaton hits recorded in :class:`Found`; the spans (and so the
offset maps) are computed only when a guarded hit and one of its allow terms meet in one
comment.
"""

from __future__ import annotations

from collections.abc import Sequence

from worker.rules.literals import RegexDef
from worker.rules.normalize import NormalizedText
from worker.rules.scan_result import Found, original_span

__all__ = ["allowed_regexes", "settle"]

_Spans = dict[int, list[tuple[int, int]]]


def _allow_spans(norm: NormalizedText, found: Found) -> _Spans:
    """Original-text spans of the allow terms' matches, by allow id."""
    spans: _Spans = {}
    for ident, start, end in found.allow:
        spans.setdefault(ident, []).append(norm.skeleton_span(start, end))
    return spans


def _inside(span: tuple[int, int], allow: frozenset[int], spans: _Spans) -> bool:
    start, end = span
    return any(a <= start and end <= b for ident in allow for a, b in spans.get(ident, ()))


def settle(norm: NormalizedText, found: Found, allow_of: Sequence[frozenset[int]]) -> None:
    """Keep the first hit of each allow-guarded literal that no allow match covers
    (``allow_of``: by literal id, its allow ids)."""
    allowed_ids = {ident for ident, _, _ in found.allow}
    spans: _Spans | None = None
    for ident, where, start, end in found.pending:
        if ident in found.first:
            continue
        allow = allow_of[ident]
        if not allowed_ids.isdisjoint(allow):
            if spans is None:
                spans = _allow_spans(norm, found)
            if _inside(original_span(norm, where, start, end), allow, spans):
                continue
        found.first[ident] = (where, start, end)


def allowed_regexes(
    norm: NormalizedText, regexes: frozenset[int], found: Found,
    regex_defs: Sequence[RegexDef], regex_first: dict[int, tuple[int, int]],
) -> frozenset[int]:
    """The regexes that hold once matches inside an allow match are dropped; the first
    remaining match of each guarded one goes into ``regex_first``."""
    allowed_ids = {ident for ident, _, _ in found.allow}
    spans: _Spans | None = None
    kept: set[int] = set()
    for ident in regexes:
        regex = regex_defs[ident]
        if allowed_ids.isdisjoint(regex.allow):
            kept.add(ident)
            continue
        if spans is None:
            spans = _allow_spans(norm, found)
        for match in regex.compiled.finditer(norm.kept):
            span = norm.kept_span(int(match.start()), int(match.end()))
            if not _inside(span, regex.allow, spans):
                kept.add(ident)
                regex_first[ident] = span
                break
    return frozenset(kept)
