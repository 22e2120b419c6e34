"""All literal terms and regexes of one normalisation group, compiled into one scan.

One :class:`Matcher` serves every rule that shares a :class:`NormalizeOptions`. A scan
normalises the comment once, then runs:

* one Aho-Corasick automaton (ahocorasick-rs, overlapping, every id) over the *skeleton*, for
  ``includes``, ``starts_with`` and ``ends_with`` (``full_exact`` is a dictionary lookup of the
  whole skeleton);
* a second automaton over *kept*, only when ``includes_word`` terms exist;
* one ``re2.Set`` over *kept*, only when regexes exist.

Spans are computed only when asked for (:meth:`ScanResult.literal_span`,
:meth:`ScanResult.regex_span`), from the normalised text's lazy offset maps.

``includes_word`` edges (rules-spec.md: "Latin letters and digits do not continue it on either
side"): a hit holds unless a *word character* continues the term, that is, unless the term's
first character is a word character and so is the character just before the hit, or the term's
last character is a word character and so is the character just after it. Word characters are
the letters of the Latin script (``a``-``z``, accented ``é``, ``ß``, ...) and decimal digits;
Han, kana, Greek, Cyrillic, Hangul, the underscore, marks, punctuation, spaces, symbols and
emoji are not. So ``ass`` does not hit ``assistant`` or ``class``, ``fuck`` hits
``what the fuck!`` and ``fuck_you``, and ``vx`` hits ``加vx好友``.
"""

from __future__ import annotations

import functools
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, Literal, get_args

import ahocorasick_rs
import re2

from worker.errors import PatternError
from worker.rules.normalize import NormalizedText, Normalizer
from worker.rules.regex import RegexBudget, re2_options

__all__ = [
    "LiteralKind",
    "Matcher",
    "MatcherBuilder",
    "ScanResult",
    "is_word_char",
]

LiteralKind = Literal["includes", "includes_word", "starts_with", "ends_with", "full_exact"]
_KINDS: frozenset[str] = frozenset(get_args(LiteralKind))
_TRIGGER = "trigger"  # a skeleton-automaton target that only says "run the word automaton"
_NO_IDS: frozenset[int] = frozenset()

# re2.Set needs far more than RE2's default 8 MiB for ~100 patterns (perf-notes.md); running
# out of it makes a set match fail, so be generous: it is a budget, allocated only when used.
SET_MAX_MEM = 512 << 20

@functools.lru_cache(maxsize=4096)
def _is_latin_letter(ch: str) -> bool:
    return ch.isalpha() and "LATIN " in unicodedata.name(ch, "")


def is_word_char(ch: str) -> bool:
    """Whether ``ch`` continues a word for ``includes_word`` (see the module docstring)."""
    if ch.isascii():
        return ch.isalnum()
    return ch.isdecimal() or _is_latin_letter(ch)


@dataclass(frozen=True, slots=True)
class _Literal:
    ident: int
    kind: LiteralKind
    term: str  # normalised
    word_start: bool  # for includes_word: the term starts with a word character
    word_end: bool


class MatcherBuilder:
    """Collects terms and regexes; :meth:`build` compiles them into a :class:`Matcher`."""

    def __init__(self, normalizer: Normalizer, *, budget: RegexBudget | None = None) -> None:
        """``budget``: shared by every builder of one rule set (one of its own by default)."""
        self.normalizer = normalizer
        self.budget = budget if budget is not None else RegexBudget()
        self._literals: list[_Literal] = []
        self._literal_ids: dict[tuple[str, str], int] = {}
        self._regexes: list[tuple[str, str, Any]] = []  # (pattern, translated, compiled)
        self._regex_ids: dict[str, int] = {}

    def add_literal(self, kind: LiteralKind, term: str) -> int:
        """Add a literal term; identical (kind, normalised term) pairs share one id.

        Raises :class:`PatternError` when the term normalises to nothing.
        """
        if kind not in _KINDS:
            raise ValueError(f"unknown literal kind {kind!r}")
        if not isinstance(term, str):
            raise PatternError(f"a term must be a string, not {type(term).__name__}")
        skeleton = kind != "includes_word"
        norm = self.normalizer.normalize_term(term, skeleton=skeleton)
        if not norm:
            raise PatternError(_empty_reason(term, self.normalizer, skeleton=skeleton))
        key = (kind, norm)
        found = self._literal_ids.get(key)
        if found is not None:
            return found
        ident = len(self._literals)
        word_start = word_end = False
        if kind == "includes_word":
            word_start = is_word_char(norm[0])
            word_end = is_word_char(norm[-1])
        self._literals.append(_Literal(ident, kind, norm, word_start, word_end))
        self._literal_ids[key] = ident
        return ident

    def add_regex(self, pattern: str) -> int:
        """Add a regex (Python syntax); identical patterns share one id.

        Raises :class:`PatternError` with the reason when the pattern is invalid or cannot run
        in linear time.
        """
        found = self._regex_ids.get(pattern)
        if found is not None:
            return found
        if pattern == "":
            raise PatternError("an empty regex matches every comment; remove it or write a pattern")
        literal = self._literal_normalizer
        compiled = self.budget.compile(pattern, literal=literal)
        ident = len(self._regexes)
        self._regexes.append((pattern, compiled.pattern, compiled))
        self._regex_ids[pattern] = ident
        return ident

    def _literal_normalizer(self, ch: str) -> str:
        return self.normalizer.normalize_term(ch, skeleton=False)

    def build(self) -> Matcher:
        """Compile the automata and the regex set."""
        return Matcher(self.normalizer, list(self._literals), list(self._regexes))


def _empty_reason(term: str, normalizer: Normalizer, *, skeleton: bool) -> str:
    if term == "":
        return "an empty term matches every comment"
    if normalizer.normalize_term(term, skeleton=False) == "":
        return (
            f"the term {term!r} is only invisible characters, which normalisation removes, so "
            "it can never match"
        )
    assert skeleton
    return (
        f"the term {term!r} is only separators (spaces, punctuation, symbols or emoji), which "
        "are skipped when matching, so it can never match; use a regex to match them"
    )


class Matcher:
    """Scans a comment for every term and regex of one normalisation group."""

    def __init__(
        self,
        normalizer: Normalizer,
        literals: list[_Literal],
        regexes: list[tuple[str, str, Any]],
    ) -> None:
        self.normalizer = normalizer
        self.literal_count = len(literals)
        self.regex_count = len(regexes)
        self._literals = literals
        self._regexes = [compiled for _, _, compiled in regexes]
        self.patterns = [pattern for pattern, _, _ in regexes]

        # Skeleton automaton: includes, starts_with, ends_with. One automaton pattern per
        # distinct normalised term, mapping to (kind, id) pairs.
        skel_terms: dict[str, list[tuple[str, int]]] = {}
        word_terms: dict[str, list[_Literal]] = {}
        full: dict[str, list[int]] = {}
        for lit in literals:
            if lit.kind == "full_exact":
                full.setdefault(lit.term, []).append(lit.ident)
            elif lit.kind == "includes_word":
                word_terms.setdefault(lit.term, []).append(lit)
            else:
                skel_terms.setdefault(lit.term, []).append((lit.kind, lit.ident))
        # includes_word runs on kept, but a term found in kept is also found, separators
        # removed, in the skeleton (without collapse_repeats, the skeleton is kept filtered).
        # So the skeleton automaton also carries each word term's skeleton as a trigger, and
        # the second automaton runs only when a trigger fires: the no-hit path scans once.
        self._word_always = bool(word_terms) and normalizer.options.collapse_repeats is not None
        if word_terms and not self._word_always:
            for term in word_terms:
                trigger = normalizer.normalize_term(term, skeleton=True)
                if not trigger:
                    self._word_always = True
                    break
                skel_terms.setdefault(trigger, []).append((_TRIGGER, -1))
        self._full = full
        self._skel_targets: list[list[tuple[str, int]]] = list(skel_terms.values())
        self._skel_ac: Any = ahocorasick_rs.AhoCorasick(list(skel_terms)) if skel_terms else None
        self._word_targets: list[list[_Literal]] = list(word_terms.values())
        self._word_ac: Any = ahocorasick_rs.AhoCorasick(list(word_terms)) if word_terms else None

        self._set: Any = None
        if regexes:
            rset = re2.Set.SearchSet(re2_options(max_mem=SET_MAX_MEM))
            for _, translated, _ in regexes:
                rset.Add(translated)
            try:
                rset.Compile()
            except re2.error as exc:
                raise PatternError(
                    f"the {len(regexes)} regexes of this rule set are too large to run together "
                    f"in the linear-time engine ({exc}); simplify or split them"
                ) from exc
            self._set = rset

    def scan(self, text: str) -> ScanResult:
        """Normalise ``text`` and find every literal and regex that holds."""
        norm = self.normalizer.normalize(text)
        skeleton = norm.skeleton
        literals: set[int] = set()
        first: dict[int, tuple[str, int, int]] = {}  # id -> (which text, start, end)

        if self._full:
            ids = self._full.get(skeleton)
            if ids:
                for ident in ids:
                    literals.add(ident)
                    first[ident] = ("skeleton", 0, len(skeleton))

        run_word = self._word_always
        if self._skel_ac is not None and skeleton:
            hits = self._skel_ac.find_matches_as_indexes(skeleton, overlapping=True)
            if hits:
                run_word = self._skeleton_hits(hits, len(skeleton), literals, first) or run_word

        if run_word and self._word_ac is not None and norm.kept:
            hits = self._word_ac.find_matches_as_indexes(norm.kept, overlapping=True)
            if hits:
                self._word_hits(hits, norm.kept, literals, first)

        regexes = _NO_IDS
        if self._set is not None:
            found = self._set.Match(norm.kept)
            if found:
                regexes = frozenset(found)
        return ScanResult(norm, frozenset(literals) if literals else _NO_IDS, regexes, first, self)

    def _skeleton_hits(
        self,
        hits: Iterable[tuple[int, int, int]],
        length: int,
        literals: set[int],
        first: dict[int, tuple[str, int, int]],
    ) -> bool:
        """Record the skeleton hits that hold; True when an includes_word trigger fired."""
        targets = self._skel_targets
        triggered = False
        for index, start, end in hits:
            for kind, ident in targets[index]:
                if kind == _TRIGGER:
                    triggered = True
                    continue
                if ident in first:
                    continue
                if (
                    kind == "includes"
                    or (kind == "starts_with" and start == 0)
                    or (kind == "ends_with" and end == length)
                ):
                    literals.add(ident)
                    first[ident] = ("skeleton", start, end)
        return triggered

    def _word_hits(
        self,
        hits: Iterable[tuple[int, int, int]],
        kept: str,
        literals: set[int],
        first: dict[int, tuple[str, int, int]],
    ) -> None:
        targets = self._word_targets
        n = len(kept)
        for index, start, end in hits:
            for lit in targets[index]:
                if lit.ident in first:
                    continue
                if lit.word_start and start > 0 and is_word_char(kept[start - 1]):
                    continue
                if lit.word_end and end < n and is_word_char(kept[end]):
                    continue
                literals.add(lit.ident)
                first[lit.ident] = ("kept", start, end)

    def _regex_search(self, ident: int, kept: str) -> tuple[int, int] | None:
        match = self._regexes[ident].search(kept)
        if match is None:
            return None
        start, end = match.span()
        return int(start), int(end)


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
    ) -> None:
        self.text = text
        self.literals = literals
        self.regexes = regexes
        self._first = first
        self._matcher = matcher
        self._regex_first: dict[int, tuple[int, int]] = {}

    def __repr__(self) -> str:
        return f"ScanResult(literals={sorted(self.literals)}, regexes={sorted(self.regexes)})"

    def literal_span(self, literal_id: int) -> tuple[int, int]:
        """The span, in the original text, of the first occurrence of the literal that holds.

        Raises ``KeyError`` when the literal did not hold.
        """
        where, start, end = self._first[literal_id]
        if where == "skeleton":
            return self.text.skeleton_span(start, end)
        return self.text.kept_span(start, end)

    def regex_span(self, regex_id: int) -> tuple[int, int]:
        """The span, in the original text, of the regex's first (leftmost) match.

        Raises ``KeyError`` when the regex did not match.
        """
        if regex_id not in self.regexes:
            raise KeyError(regex_id)
        span = self._regex_first.get(regex_id)
        if span is None:
            found = self._matcher._regex_search(regex_id, self.text.kept)
            if found is None:  # pragma: no cover - the set and the single regex disagree
                raise KeyError(regex_id)
            span = self.text.kept_span(*found)
            self._regex_first[regex_id] = span
        return span
