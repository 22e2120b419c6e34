"""What one scan of a comment found (:class:`ScanResult`), what the scan of a page of them
found (:class:`PageScan`), and the hits gathered while scanning (:class:`Found`)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from worker.rules.normalize import NormalizedPage, NormalizedText

if TYPE_CHECKING:
    from worker.rules.matcher import Matcher

__all__ = ["Found", "PageScan", "ScanResult", "original_span"]

Hit = tuple[int, int, int]  # (automaton pattern index, start, end)


def original_span(norm: NormalizedText, where: str, start: int, end: int) -> tuple[int, int]:
    """The original-text span of a hit in the skeleton or the kept text."""
    if where == "skeleton":
        return norm.skeleton_span(start, end)
    return norm.kept_span(start, end)


class Found:
    """Hits gathered during one scan."""

    __slots__ = ("allow", "first", "pending")

    def __init__(self) -> None:
        self.first: dict[int, tuple[str, int, int]] = {}  # id -> (which text, start, end)
        self.pending: list[tuple[int, str, int, int]] = []  # allow-guarded hits to settle
        self.allow: list[tuple[int, int, int]] = []  # (allow id, skeleton start, end)

    def hit(self, ident: int, where: str, start: int, end: int, guarded: bool) -> None:
        if guarded:
            self.pending.append((ident, where, start, end))
        elif ident not in self.first:
            self.first[ident] = (where, start, end)


class ScanResult:
    """What one scan found: literal and regex ids that hold, with lazy original-text spans."""

    __slots__ = ("_first", "_matcher", "_regex_first", "literals", "regexes", "text")

    def __init__(
        self,
        text: NormalizedText,
        literals: frozenset[int],
        regexes: frozenset[int],
        first: dict[int, tuple[str, int, int]],
        matcher: Matcher,
        regex_first: dict[int, tuple[int, int]] | None = None,
    ) -> None:
        self.text = text
        self.literals = literals
        self.regexes = regexes
        self._first = first
        self._matcher = matcher
        self._regex_first = regex_first  # spans found so far; created on the first ask

    def __repr__(self) -> str:
        return f"ScanResult(literals={sorted(self.literals)}, regexes={sorted(self.regexes)})"

    def literal_span(self, literal_id: int) -> tuple[int, int]:
        """The span, in the original text, of the first occurrence of the literal that holds.

        Raises ``KeyError`` when the literal did not hold.
        """
        where, start, end = self._first[literal_id]
        return original_span(self.text, where, start, end)

    def regex_span(self, regex_id: int) -> tuple[int, int]:
        """The span, in the original text, of the regex's first (leftmost) match.

        Raises ``KeyError`` when the regex did not match.
        """
        if regex_id not in self.regexes:
            raise KeyError(regex_id)
        if self._regex_first is None:
            self._regex_first = {}
        span = self._regex_first.get(regex_id)
        if span is None:
            found = self._matcher._regex_search(regex_id, self.text.kept)
            if found is None:  # pragma: no cover - the set and the single regex disagree
                raise KeyError(regex_id)
            span = self.text.kept_span(*found)
            self._regex_first[regex_id] = span
        return span


class PageScan:
    """What the scan of a page of comments found (Matcher.scan_page): which texts may hold
    something (:attr:`busy`; the others hold nothing), and each text's :class:`ScanResult`,
    made only when asked for."""

    __slots__ = ("_hits", "_matcher", "_page", "_regexes", "busy")

    def __init__(
        self, matcher: Matcher, page: NormalizedPage, hits: dict[int, list[Hit]],
        regexes: dict[int, list[int]], busy: frozenset[int],
    ) -> None:
        """``hits``: the automaton's hits of the texts that have some, by index; ``regexes``:
        the ids of the regexes the set matched, of the texts it matched in."""
        self._matcher = matcher
        self._page = page
        self._hits = hits
        self._regexes = regexes
        self.busy = busy

    def result(self, index: int) -> ScanResult:
        """:meth:`Matcher.scan` of the page's ``index``-th text."""
        return self._matcher._result(
            self._page.text(index), self._hits.get(index, ()), self._regexes.get(index)
        )
