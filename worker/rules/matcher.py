"""All literal terms and regexes of one normalisation group, compiled into one scan.

:class:`MatcherBuilder` collects them (here); the :class:`Matcher` it builds (scanner.py)
scans. One :class:`Matcher` serves every rule that shares a :class:`NormalizeOptions`. A scan
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

from typing import Any

from worker.errors import PatternError
from worker.rules.literals import KINDS, NO_ALLOW, LiteralDef, LiteralKind, RegexDef
from worker.rules.normalize import Normalizer
from worker.rules.regex import RegexBudget
from worker.rules.scan_result import ScanResult
from worker.rules.scanner import Matcher
from worker.rules.sounds_like import has_han, sound_of
from worker.rules.words import is_word_char

__all__ = [
    "LiteralKind",
    "Matcher",
    "MatcherBuilder",
    "ScanResult",
    "is_word_char",
]


class MatcherBuilder:
    """Collects terms and regexes; :meth:`build` compiles them into a :class:`Matcher`."""

    def __init__(self, normalizer: Normalizer, *, budget: RegexBudget | None = None) -> None:
        """``budget``: shared by every builder of one rule set (one of its own by default)."""
        self.normalizer = normalizer
        self.budget = budget if budget is not None else RegexBudget()
        self._literals: list[LiteralDef] = []
        self._literal_ids: dict[tuple[str, str, frozenset[int]], int] = {}
        self._regexes: list[RegexDef] = []
        self._regex_ids: dict[tuple[str, frozenset[int]], int] = {}
        self._compiled: dict[str, Any] = {}  # pattern -> compiled, whatever its allow terms
        self._allow: list[str] = []  # allow terms, normalised like includes terms
        self._allow_ids: dict[str, int] = {}
        self._built = False

    def add_literal(
        self, kind: LiteralKind, term: str, *, allow: frozenset[int] = NO_ALLOW
    ) -> int:
        """Add a literal term; identical (kind, normalised term, allow ids) share one id.

        ``allow`` (ids from :meth:`add_allow`): a hit inside a match of one of them does not
        count. Raises :class:`PatternError` when the term normalises to nothing, or is a
        ``sounds_like`` term without a Han character.
        """
        if kind not in KINDS:
            raise ValueError(f"unknown literal kind {kind!r}")
        if self._built:
            raise ValueError("this MatcherBuilder has built its Matcher already")
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
        self._literals.append(LiteralDef(ident, kind, norm, word_start, word_end, allow))
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

    def add_regex(self, pattern: str, *, allow: frozenset[int] = NO_ALLOW) -> int:
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
        self._regexes.append(RegexDef(pattern, compiled.pattern, compiled, allow))
        self._regex_ids[(pattern, allow)] = ident
        return ident

    def _literal_normalizer(self, ch: str) -> str:
        return self.normalizer.normalize_term(ch, skeleton=False)

    def build(self) -> Matcher:
        """Compile the automata and the regex set. A builder builds once: its literals go to
        the matcher (which lets go of those it no longer needs before the automaton is
        built, the peak of a load), so adding more afterwards is refused."""
        if self._built:
            raise ValueError("this MatcherBuilder has built its Matcher already")
        self._built = True
        literals, self._literals = self._literals, []
        self._literal_ids.clear()
        return Matcher(self.normalizer, literals, list(self._regexes), list(self._allow))


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
