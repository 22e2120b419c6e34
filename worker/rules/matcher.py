"""All literal terms and regexes of one normalisation group, compiled into one scan.

One :class:`Matcher` serves every rule that shares a :class:`NormalizeOptions`. A scan
normalises the comment once, then runs:

* one Aho-Corasick automaton (ahocorasick-rs, overlapping, every id) over the *skeleton*, for
  ``includes``, ``starts_with`` and ``ends_with`` (``full_exact`` is a dictionary lookup of the
  whole skeleton);
* a second automaton over *kept*, only when ``includes_word`` terms exist;
* one ``re2.Set`` over *kept*, only when regexes exist.

``sounds_like`` terms (sounds_like.py) share the skeleton automaton: it then runs over the
skeleton, a NUL and the skeleton's sound. ``allow`` terms are skeleton-automaton patterns too;
a literal or regex added with allow ids keeps only hits whose original-text span lies inside
no match of those allow terms, so :attr:`ScanResult.literals` and the spans already report
only remaining hits (the allow check costs an offset map only when both hit one comment).

Spans are computed only when asked for (:meth:`ScanResult.literal_span`,
:meth:`ScanResult.regex_span`), from the normalised text's lazy offset maps.

``includes_word`` edges (rules-spec.md: "Latin letters and digits do not continue it on either
side"): a hit holds unless a *word character* continues the term, that is, unless the term's
first character is a word character and so is the character just before the hit, or the term's
last character is a word character and so is the character just after it. Word characters are
the letters of the Latin script (``a``-``z``, accented ``é``, ``ß``, ...) and decimal digits;
Han, kana, Greek, Cyrillic, Hangul, the underscore, marks, punctuation, spaces, symbols and
emoji are not. So ``ass`` does not hit ``assistant`` or ``class``, ``fuck`` hits
``what the fuck!`` and ``fuck_you``, and ``vx`` hits ``加vx好友``. A term made of word
characters also hits a spaced-out run that spells it (spaced.py: ``f u c k``). With the
``numerals`` step, a digit made from a Chinese numeral is not a word character (edges are
judged as if the step were off).
"""

from __future__ import annotations

import bisect
import functools
import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any, Literal, get_args

import ahocorasick_rs
import re2

from worker.errors import PatternError
from worker.rules.normalize import NUMERALS, NormalizedText, Normalizer
from worker.rules.regex import RegexBudget, re2_options
from worker.rules.sounds_like import has_han, needed_finder, sound_of, sound_of_page
from worker.rules.spaced import spaced_runs

__all__ = [
    "LiteralKind",
    "Matcher",
    "MatcherBuilder",
    "ScanResult",
    "is_word_char",
]

LiteralKind = Literal[
    "includes", "includes_word", "starts_with", "ends_with", "full_exact", "sounds_like"
]
_KINDS: frozenset[str] = frozenset(get_args(LiteralKind))
_TRIGGER = "trigger"  # a skeleton-automaton target that only says "run the word automaton"
_ALLOW = "allow"  # a skeleton-automaton target: a match of an allow term
_SOUND = "sound"  # a skeleton-automaton target: a sounds_like term, matched in the sound part
_NO_IDS: frozenset[int] = frozenset()
_ANCHORS = ("\\A", "\\z", "(?m:^)", "(?m:$)")  # as regex.py writes ^, $, \A and \Z
_NO_ALLOW: frozenset[int] = frozenset()

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
    term: str  # normalised (for sounds_like: the sound of the normalised term)
    word_start: bool  # for includes_word: the term starts with a word character
    word_end: bool
    allow: frozenset[int] = _NO_ALLOW  # allow-term ids whose matches cancel a hit


@dataclass(frozen=True, slots=True)
class _Regex:
    pattern: str
    translated: str
    compiled: Any
    allow: frozenset[int] = _NO_ALLOW


class MatcherBuilder:
    """Collects terms and regexes; :meth:`build` compiles them into a :class:`Matcher`."""

    def __init__(self, normalizer: Normalizer, *, budget: RegexBudget | None = None) -> None:
        """``budget``: shared by every builder of one rule set (one of its own by default)."""
        self.normalizer = normalizer
        self.budget = budget if budget is not None else RegexBudget()
        self._literals: list[_Literal] = []
        self._literal_ids: dict[tuple[str, str, frozenset[int]], int] = {}
        self._regexes: list[_Regex] = []
        self._regex_ids: dict[tuple[str, frozenset[int]], int] = {}
        self._compiled: dict[str, Any] = {}  # pattern -> compiled, whatever its allow terms
        self._allow: list[str] = []  # allow terms, normalised like includes terms
        self._allow_ids: dict[str, int] = {}

    def add_literal(
        self, kind: LiteralKind, term: str, *, allow: frozenset[int] = _NO_ALLOW
    ) -> int:
        """Add a literal term; identical (kind, normalised term, allow ids) share one id.

        ``allow`` (ids from :meth:`add_allow`): a hit inside a match of one of them does not
        count. Raises :class:`PatternError` when the term normalises to nothing, or is a
        ``sounds_like`` term without a Han character.
        """
        if kind not in _KINDS:
            raise ValueError(f"unknown literal kind {kind!r}")
        if not isinstance(term, str):
            raise PatternError(f"a term must be a string, not {type(term).__name__}")
        skeleton = kind != "includes_word"
        norm = self.normalizer.normalize_term(term, skeleton=skeleton)
        if not norm:
            raise PatternError(_empty_reason(term, self.normalizer, skeleton=skeleton))
        if kind == "sounds_like":
            if not has_han(norm):
                raise PatternError(
                    f"the term {term!r} has no Chinese character: sounds_like matches by "
                    "pinyin; use includes or includes_word for it"
                )
            norm = sound_of(norm)
        key = (kind, norm, allow)
        found = self._literal_ids.get(key)
        if found is not None:
            return found
        ident = len(self._literals)
        word_start = word_end = False
        if kind in ("includes_word", "sounds_like"):
            word_start = is_word_char(norm[0])
            word_end = is_word_char(norm[-1])
        self._literals.append(_Literal(ident, kind, norm, word_start, word_end, allow))
        self._literal_ids[key] = ident
        return ident

    def add_allow(self, term: str) -> int:
        """Add an allow term (matched like ``includes``); identical ones share one id."""
        if not isinstance(term, str):
            raise PatternError(f"a term must be a string, not {type(term).__name__}")
        norm = self.normalizer.normalize_term(term, skeleton=True)
        if not norm:
            raise PatternError(_empty_reason(term, self.normalizer, skeleton=True))
        found = self._allow_ids.get(norm)
        if found is None:
            found = self._allow_ids[norm] = len(self._allow)
            self._allow.append(norm)
        return found

    def add_regex(self, pattern: str, *, allow: frozenset[int] = _NO_ALLOW) -> int:
        """Add a regex (Python syntax); identical (pattern, allow ids) share one id.

        Raises :class:`PatternError` with the reason when the pattern is invalid or cannot run
        in linear time.
        """
        found = self._regex_ids.get((pattern, allow))
        if found is not None:
            return found
        if pattern == "":
            raise PatternError("an empty regex matches every comment; remove it or write a pattern")
        compiled = self._compiled.get(pattern)
        if compiled is None:  # the same pattern with other allow terms reuses it (and budget)
            compiled = self.budget.compile(pattern, literal=self._literal_normalizer)
            self._compiled[pattern] = compiled
        ident = len(self._regexes)
        self._regexes.append(_Regex(pattern, compiled.pattern, compiled, allow))
        self._regex_ids[(pattern, allow)] = ident
        return ident

    def _literal_normalizer(self, ch: str) -> str:
        return self.normalizer.normalize_term(ch, skeleton=False)

    def build(self) -> Matcher:
        """Compile the automata and the regex set."""
        return Matcher(
            self.normalizer, list(self._literals), list(self._regexes), list(self._allow)
        )


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
        regexes: list[_Regex],
        allow: list[str] | None = None,
    ) -> None:
        self.normalizer = normalizer
        self.literal_count = len(literals)
        self.regex_count = len(regexes)
        self._literals = literals
        self._regex_defs = regexes
        self._regexes = [r.compiled for r in regexes]
        self.patterns = [r.pattern for r in regexes]
        self._numerals = normalizer.options.numerals
        self._guarded = frozenset(lit.ident for lit in literals if lit.allow)
        self._guarded_regexes = frozenset(i for i, r in enumerate(regexes) if r.allow)

        # Skeleton automaton: includes, starts_with, ends_with, allow terms. One automaton
        # pattern per distinct normalised term, mapping to (kind, id) pairs.
        skel_terms: dict[str, list[tuple[str, int]]] = {}
        word_terms: dict[str, list[_Literal]] = {}
        sound_terms: dict[str, list[_Literal]] = {}
        full: dict[str, list[int]] = {}
        for lit in literals:
            if lit.kind == "full_exact":
                full.setdefault(lit.term, []).append(lit.ident)
            elif lit.kind == "includes_word":
                word_terms.setdefault(lit.term, []).append(lit)
            elif lit.kind == "sounds_like":
                sound_terms.setdefault(lit.term, []).append(lit)
            else:
                skel_terms.setdefault(lit.term, []).append((lit.kind, lit.ident))
        for ident, term in enumerate(allow or ()):
            skel_terms.setdefault(term, []).append((_ALLOW, ident))
        # sounds_like terms go into the same automaton, run over skeleton + NUL + sound: a
        # sound term holds a syllable character, which no skeleton holds, and NUL is in no
        # term, so each part only finds its own terms (Latin skeleton terms also found in
        # the sound part are ignored there). One scan instead of two.
        self._sound_targets: list[list[_Literal]] = list(sound_terms.values())
        for index, term in enumerate(sound_terms):
            skel_terms.setdefault(term, []).append((_SOUND, index))
        self._sounds = bool(sound_terms)
        # With a few terms, most comments hold no character read as a term's first syllable:
        # they skip the sound (None: too many such characters for the check to pay).
        self._sound_needed = needed_finder(list(sound_terms)) if sound_terms else None
        # includes_word runs on kept, but a term found in kept is also found, separators
        # removed, in the skeleton (without collapse_repeats, the skeleton is kept filtered);
        # so is a spaced-out run. So the skeleton automaton also carries each word term's
        # skeleton as a trigger, and the word pass runs only when a trigger fires: the
        # no-hit path scans once.
        self._word_always = bool(word_terms) and normalizer.options.collapse_repeats is not None
        if word_terms and not self._word_always:
            for term in word_terms:
                trigger = normalizer.normalize_term(term, skeleton=True)
                if not trigger:
                    self._word_always = True
                    break
                skel_terms.setdefault(trigger, []).append((_TRIGGER, -1))
        self._full = full
        # Tuples, and the lists gone before the automaton is built (the peak of a load).
        patterns = list(skel_terms)
        self._skel_targets: list[tuple[tuple[str, int], ...]] = [
            tuple(targets) for targets in skel_terms.values()
        ]
        del skel_terms
        # A page's skeletons are scanned joined by NUL (scan_many): no pattern may hold one.
        self._page_scan = not any("\0" in term for term in patterns)
        self._skel_ac: Any = ahocorasick_rs.AhoCorasick(patterns) if patterns else None
        del patterns
        self._word_targets: list[list[_Literal]] = list(word_terms.values())
        self._word_ac: Any = ahocorasick_rs.AhoCorasick(list(word_terms)) if word_terms else None
        # Spaced-out runs spell terms made of word characters only (see spaced.py).
        self._spelled = {
            term: index for index, term in enumerate(word_terms)
            if all(is_word_char(ch) for ch in term)
        }

        self._set: Any = None
        # Without anchors a regex matching a comment matches any text holding it: a page's
        # texts joined can be searched once (scan_many). The translation writes every anchor
        # as one of these (a literal backslash before A or z only makes this cautious).
        self._page_regex = not any(
            anchor in regex.translated for regex in regexes for anchor in _ANCHORS
        )
        if regexes:
            rset = re2.Set.SearchSet(re2_options(max_mem=SET_MAX_MEM))
            for regex in regexes:
                rset.Add(regex.translated)
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
        return self._result(norm, self._hits_of(norm.skeleton))

    def scan_many(self, texts: Sequence[str]) -> list[ScanResult]:
        """:meth:`scan` of each text, equal to it text for text, for a page of comments.

        The page's skeletons (and their sound) go through the automaton in one scan, joined
        by NUL, which no automaton pattern holds, so no match reaches across two comments.
        The regex set first runs once over the page's texts joined: no rule regex has an
        anchor (checked at build), so a regex that matches one of them matches the joined
        text too, and a page where none matches (most pages) costs one set search, not one
        per comment.
        """
        norms = [self.normalizer.normalize(text) for text in texts]
        if len(norms) < 2:
            return [self._result(norm, self._hits_of(norm.skeleton)) for norm in norms]
        regex_free = (
            self._set is not None and self._page_regex
            and not self._set.Match("\0".join(norm.kept for norm in norms))
        )
        if self._skel_ac is None or not self._page_scan:
            return [
                self._result(norm, self._hits_of(norm.skeleton), regex_free=regex_free)
                for norm in norms
            ]
        skeletons = [norm.skeleton for norm in norms]
        joined = "\0".join(skeletons)
        length = len(joined)
        scanned = joined
        if self._sounds and not joined.isascii() and self._sound_may_hit(joined):
            scanned = f"{joined}\0{sound_of_page(joined)}"
        starts: list[int] = []  # where each skeleton starts in ``joined``
        at = 0
        for skeleton in skeletons:
            starts.append(at)
            at += len(skeleton) + 1
        per_text: list[list[tuple[int, int, int]]] = [[] for _ in norms]
        for index, start, end in self._skel_ac.find_matches_as_indexes(scanned, overlapping=True):
            if end <= length:
                which = bisect.bisect_right(starts, start) - 1
                base = starts[which]
                per_text[which].append((index, start - base, end - base))
            else:  # in the sound part: numbered as scan() does, after the skeleton and a NUL
                at = start - length - 1  # in the sound of ``joined``
                which = bisect.bisect_right(starts, at) - 1
                shift = len(skeletons[which]) + 1 - starts[which]
                per_text[which].append((index, at + shift, end - length - 1 + shift))
        return [
            self._result(norm, hits, regex_free=regex_free)
            for norm, hits in zip(norms, per_text, strict=True)
        ]

    def _hits_of(self, skeleton: str) -> list[tuple[int, int, int]]:
        """The skeleton automaton's hits in one skeleton; those of its sound, when scanned, are
        numbered as if the sound followed the skeleton and a NUL."""
        if self._skel_ac is None or not skeleton:
            return []
        # Every sounds_like term has a Han character: an ASCII skeleton sounds like none.
        scanned = (
            f"{skeleton}\0{sound_of(skeleton)}"
            if self._sounds and not skeleton.isascii() and self._sound_may_hit(skeleton)
            else skeleton
        )
        hits: list[tuple[int, int, int]] = self._skel_ac.find_matches_as_indexes(
            scanned, overlapping=True
        )
        return hits

    def _sound_may_hit(self, skeleton: str) -> bool:
        return self._sound_needed is None or self._sound_needed.search(skeleton) is not None

    def _result(
        self, norm: NormalizedText, hits: list[tuple[int, int, int]], *, regex_free: bool = False
    ) -> ScanResult:
        """What one comment's scan found, from its automaton hits (``regex_free``: the regex
        set is known to match nothing in it)."""
        skeleton = norm.skeleton
        found: _Found | None = None  # created on the first hit: most comments have none

        if self._full:
            ids = self._full.get(skeleton)
            if ids:
                found = _Found()
                for ident in ids:
                    found.hit(ident, "skeleton", 0, len(skeleton), ident in self._guarded)

        run_word = self._word_always
        if hits:
            found = found or _Found()
            run_word = self._skeleton_hits(hits, skeleton, found) or run_word

        if run_word and self._word_ac is not None and norm.kept:
            found = found or _Found()
            self._word_hits(norm, found)

        regexes = _NO_IDS
        regex_first: dict[int, tuple[int, int]] = {}
        if self._set is not None and not regex_free:
            matched = self._set.Match(norm.kept)
            if matched:
                regexes = frozenset(matched)
                if not self._guarded_regexes.isdisjoint(regexes):
                    found = found or _Found()
                    regexes = self._allowed_regexes(norm, regexes, found, regex_first)
        if found is None:
            return ScanResult(norm, _NO_IDS, regexes, {}, self, regex_first)
        if found.pending:
            self._settle(norm, found)
        literals = frozenset(found.first) if found.first else _NO_IDS
        return ScanResult(norm, literals, regexes, found.first, self, regex_first)

    def _skeleton_hits(
        self, hits: Iterable[tuple[int, int, int]], skeleton: str, found: _Found
    ) -> bool:
        """Record the skeleton hits that hold; True when an includes_word trigger fired."""
        targets = self._skel_targets
        first = found.first
        guarded = self._guarded
        length = len(skeleton)
        triggered = False
        for index, start, end in hits:
            if end > length:  # in the sound part
                self._sound_hit(index, start - length - 1, end - length - 1, skeleton, found)
                continue
            for kind, ident in targets[index]:
                if kind == _TRIGGER:
                    triggered = True
                    continue
                if kind == _ALLOW:
                    found.allow.append((ident, start, end))
                    continue
                if ident in first:
                    continue
                if (
                    kind == "includes"
                    or (kind == "starts_with" and start == 0)
                    or (kind == "ends_with" and end == length)
                ):
                    found.hit(ident, "skeleton", start, end, ident in guarded)
        return triggered

    def _word_hits(self, norm: NormalizedText, found: _Found) -> None:
        kept = norm.kept
        targets = self._word_targets
        n = len(kept)

        def continues(pos: int) -> bool:
            ch = kept[pos]
            if not is_word_char(ch):
                return False
            # Word edges are judged as if the numerals step were off: 加vx一起 still has vx.
            if self._numerals and "0" <= ch <= "9":
                start, end = norm.kept_span(pos, pos + 1)
                return not any(c in NUMERALS for c in norm.original[start:end])
            return True

        hits = self._word_ac.find_matches_as_indexes(kept, overlapping=True)
        for index, start, end in hits:
            for lit in targets[index]:
                if lit.ident in found.first:
                    continue
                if lit.word_start and start > 0 and continues(start - 1):
                    continue
                if lit.word_end and end < n and continues(end):
                    continue
                found.hit(lit.ident, "kept", start, end, bool(lit.allow))
        if self._spelled:
            for word, start, end in spaced_runs(kept, continues):
                index = self._spelled.get(word)
                if index is None:
                    continue
                for lit in targets[index]:
                    if lit.ident not in found.first:
                        found.hit(lit.ident, "kept", start, end, bool(lit.allow))

    def _sound_hit(
        self, index: int, start: int, end: int, skeleton: str, found: _Found
    ) -> None:
        """A hit in the sound part; sound offsets are skeleton offsets. Latin letters and
        digits at a term's ends must not be continued by more of them (sounds_like.py)."""
        n = len(skeleton)
        for kind, sound_index in self._skel_targets[index]:
            if kind != _SOUND:
                continue  # a Latin skeleton term found again among the sound's letters
            for lit in self._sound_targets[sound_index]:
                if lit.word_start and start > 0 and is_word_char(skeleton[start - 1]):
                    continue
                if lit.word_end and end < n and is_word_char(skeleton[end]):
                    continue
                found.hit(lit.ident, "skeleton", start, end, bool(lit.allow))

    def _allow_spans(self, norm: NormalizedText, found: _Found) -> dict[int, list[tuple[int, int]]]:
        """Original-text spans of the allow terms' matches, by allow id."""
        spans: dict[int, list[tuple[int, int]]] = {}
        for ident, start, end in found.allow:
            spans.setdefault(ident, []).append(norm.skeleton_span(start, end))
        return spans

    @staticmethod
    def _inside(span: tuple[int, int], allow: frozenset[int],
                spans: dict[int, list[tuple[int, int]]]) -> bool:
        start, end = span
        return any(
            a <= start and end <= b
            for ident in allow for a, b in spans.get(ident, ())
        )

    def _settle(self, norm: NormalizedText, found: _Found) -> None:
        """Keep the first hit of each allow-guarded literal that no allow match covers."""
        literals = self._literals
        allowed_ids = {ident for ident, _, _ in found.allow}
        spans: dict[int, list[tuple[int, int]]] | None = None
        for ident, where, start, end in found.pending:
            if ident in found.first:
                continue
            allow = literals[ident].allow
            if not allowed_ids.isdisjoint(allow):
                if spans is None:
                    spans = self._allow_spans(norm, found)
                span = _original_span(norm, where, start, end)
                if self._inside(span, allow, spans):
                    continue
            found.first[ident] = (where, start, end)

    def _allowed_regexes(
        self, norm: NormalizedText, regexes: frozenset[int], found: _Found,
        regex_first: dict[int, tuple[int, int]],
    ) -> frozenset[int]:
        """The regexes that hold once matches inside an allow match are dropped."""
        allowed_ids = {ident for ident, _, _ in found.allow}
        spans: dict[int, list[tuple[int, int]]] | None = None
        kept: set[int] = set()
        for ident in regexes:
            allow = self._regex_defs[ident].allow
            if ident not in self._guarded_regexes or allowed_ids.isdisjoint(allow):
                kept.add(ident)
                continue
            if spans is None:
                spans = self._allow_spans(norm, found)
            for match in self._regexes[ident].finditer(norm.kept):
                span = norm.kept_span(int(match.start()), int(match.end()))
                if not self._inside(span, allow, spans):
                    kept.add(ident)
                    regex_first[ident] = span
                    break
        return frozenset(kept)

    def _regex_search(self, ident: int, kept: str) -> tuple[int, int] | None:
        match = self._regexes[ident].search(kept)
        if match is None:
            return None
        start, end = match.span()
        return int(start), int(end)


def _original_span(norm: NormalizedText, where: str, start: int, end: int) -> tuple[int, int]:
    """The original-text span of a hit in the skeleton or the kept text."""
    if where == "skeleton":
        return norm.skeleton_span(start, end)
    return norm.kept_span(start, end)


class _Found:
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
        self._regex_first: dict[int, tuple[int, int]] = regex_first or {}

    def __repr__(self) -> str:
        return f"ScanResult(literals={sorted(self.literals)}, regexes={sorted(self.regexes)})"

    def literal_span(self, literal_id: int) -> tuple[int, int]:
        """The span, in the original text, of the first occurrence of the literal that holds.

        Raises ``KeyError`` when the literal did not hold.
        """
        where, start, end = self._first[literal_id]
        return _original_span(self.text, where, start, end)

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
