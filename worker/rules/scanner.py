"""The compiled scan of one normalisation group (:class:`Matcher`; matcher.py says what it
runs and how ``includes_word`` edges, ``sounds_like`` and ``allow`` are judged)."""

from __future__ import annotations

import array
import bisect
import re
from collections.abc import Callable, Iterable, Sequence
from typing import Any

import ahocorasick_rs
import re2

from worker.errors import PatternError
from worker.rules.allow import allowed_regexes, settle
from worker.rules.literals import NO_ALLOW, LiteralDef, RegexDef
from worker.rules.normalize import NUMERALS, NormalizedPage, NormalizedText, Normalizer
from worker.rules.regex import re2_options
from worker.rules.scan_result import Found, Hit, PageScan, ScanResult
from worker.rules.sounds_like import needed_finder, sound_of, sound_of_page
from worker.rules.spaced import spaced_runs
from worker.rules.words import is_word_char

__all__ = ["SET_MAX_MEM", "Matcher"]

# A skeleton-automaton target is one int, ``number << 3 | kind`` (no object per target: 100k
# terms are 100k targets). The kinds:
_INCLUDES, _STARTS_WITH, _ENDS_WITH = 0, 1, 2  # the literal of that kind and id
_ALLOW = 3  # a match of the allow term of that id
_TRIGGER = 4  # only says "run the word automaton"
_SOUND = 5  # the sounds_like terms of that sound index, matched in the sound part
_KIND_CODES = {"includes": _INCLUDES, "starts_with": _STARTS_WITH, "ends_with": _ENDS_WITH}
_MULTI = -1  # in the single-target array: the pattern's targets are in the multi dict
_NO_IDS: frozenset[int] = frozenset()
_NO_FIRST: dict[int, tuple[str, int, int]] = {}  # shared: a ScanResult never changes its own
_ANCHORS = ("\\A", "\\z", "(?m:^)", "(?m:$)")  # as regex.py writes ^, $, \A and \Z

# re2.Set needs far more than RE2's default 8 MiB for ~100 patterns (perf-notes.md); running
# out of it makes a set match fail, so be generous: it is a budget, allocated only when used.
SET_MAX_MEM = 512 << 20


class Matcher:
    """Scans a comment for every term and regex of one normalisation group."""

    def __init__(
        self,
        normalizer: Normalizer,
        literals: list[LiteralDef],
        regexes: list[RegexDef],
        allow: list[str] | None = None,
    ) -> None:
        """``literals`` is emptied once grouped (see MatcherBuilder.build)."""
        self.normalizer = normalizer
        self.literal_count = len(literals)
        self.regex_count = len(regexes)
        # what settle() needs of the literals: the allow ids of each, by id (NO_ALLOW: none);
        # empty when none has any. A list: with allow beside a 100k-term list, 0.8 MB where a
        # dict and a set of the guarded ids took 9.
        self._allow_of: list[frozenset[int]] = []
        if any(lit.allow for lit in literals):
            self._allow_of = [NO_ALLOW] * len(literals)
            for lit in literals:
                self._allow_of[lit.ident] = lit.allow
        self._regex_defs = regexes
        self.patterns = [r.pattern for r in regexes]
        self._numerals = normalizer.options.numerals
        self._guarded_regexes = frozenset(i for i, r in enumerate(regexes) if r.allow)
        skel_terms, word_terms, sound_terms, self._full = _group_literals(literals, allow or ())
        literals.clear()  # consumed (MatcherBuilder.build): the grouped terms are all it needs
        self._add_sound_terms(skel_terms, sound_terms)
        self._add_word_terms(skel_terms, word_terms)
        self._build_skeleton_automaton(skel_terms)
        # A comment with no automaton hit and no regex match then holds nothing (no
        # full_exact lookup or unconditional word pass to run).
        self._clean_without_hits = not self._full and not self._word_always
        # The set's match takes UTF-8 bytes: google-re2's wrapper object (its ``_set``) would
        # encode a str itself, one more Python call per comment.
        regex_set = _regex_set(regexes) if regexes else None
        self._set_match: Callable[[bytes], list[int] | None] | None = (
            getattr(regex_set, "_set", regex_set).Match if regex_set is not None else None
        )
        # Without anchors a regex matching a comment matches any text holding it: a page's
        # texts joined can be searched once (scan_page). The translation writes every anchor
        # as one of these (a literal backslash before A or z only makes this cautious).
        self._page_regex = not any(
            anchor in regex.translated for regex in regexes for anchor in _ANCHORS
        )

    def _add_sound_terms(
        self, skel_terms: _SkeletonTerms, sound_terms: dict[str, list[LiteralDef]]
    ) -> None:
        """sounds_like terms go into the skeleton automaton, run over skeleton + NUL + sound:
        a sound term holds a syllable character, which no skeleton holds, and NUL is in no
        term, so each part only finds its own terms (Latin skeleton terms also found in the
        sound part are ignored there). One scan instead of two."""
        self._sound_targets: list[list[LiteralDef]] = list(sound_terms.values())
        for index, term in enumerate(sound_terms):
            skel_terms.setdefault(term, []).append(index << 3 | _SOUND)
        self._sounds = bool(sound_terms)
        # With a few terms, most comments hold no character read as a term's first syllable:
        # they skip the sound (None: too many such characters for the check to pay).
        self._sound_needed = needed_finder(list(sound_terms)) if sound_terms else None

    def _add_word_terms(
        self, skel_terms: _SkeletonTerms, word_terms: dict[str, list[LiteralDef]]
    ) -> None:
        """includes_word runs on kept, but a term found in kept is also found, separators
        removed, in the skeleton (without collapse_repeats, the skeleton is kept filtered);
        so is a spaced-out run. So the skeleton automaton also carries each word term's
        skeleton as a trigger, and the word pass runs only when a trigger fires: the no-hit
        path scans once."""
        normalizer = self.normalizer
        self._word_always = bool(word_terms) and normalizer.options.collapse_repeats is not None
        if word_terms and not self._word_always:
            for term in word_terms:
                trigger = normalizer.normalize_term(term, skeleton=True)
                if not trigger:
                    self._word_always = True
                    break
                skel_terms.setdefault(trigger, []).append(_TRIGGER)
        self._word_targets: list[list[LiteralDef]] = list(word_terms.values())
        self._word_ac: Any = ahocorasick_rs.AhoCorasick(list(word_terms)) if word_terms else None
        # Spaced-out runs spell terms made of word characters only (see spaced.py).
        self._spelled = {
            term: index for index, term in enumerate(word_terms)
            if all(is_word_char(ch) for ch in term)
        }

    def _build_skeleton_automaton(self, skel_terms: _SkeletonTerms) -> None:
        """One automaton pattern per distinct skeleton term; its target in an array when it
        has one (most), else its targets in a dict. The term lists are emptied before the
        automaton is built (the peak of a load)."""
        patterns = list(skel_terms)
        self._skel_single = array.array("q", [_MULTI]) * len(patterns)
        self._skel_multi: dict[int, tuple[int, ...]] = {}
        for index, targets in enumerate(skel_terms.values()):
            if len(targets) == 1:
                self._skel_single[index] = targets[0]
            else:
                self._skel_multi[index] = tuple(targets)
        skel_terms.clear()
        # A page's skeletons are scanned joined by NUL (scan_page): no pattern may hold one.
        self._page_scan = not any("\0" in term for term in patterns)
        self._skel_ac: Any = ahocorasick_rs.AhoCorasick(patterns) if patterns else None

    def scan(self, text: str) -> ScanResult:
        """Normalise ``text`` and find every literal and regex that holds."""
        norm = self.normalizer.normalize(text)
        return self._result(norm, self._hits_of(norm.skeleton), self._regex_matches(norm.kept))

    def probe(self, text: str) -> ScanResult | None:
        """:meth:`scan`, or None when ``text`` is known to hold nothing: then no object is
        made for it (most comments)."""
        kept, skeleton = self.normalizer.forms(text)
        hits = self._hits_of(skeleton)
        set_match = self._set_match
        matched = None if set_match is None else set_match(kept.encode())
        if not hits and not matched and self._clean_without_hits:
            return None
        return self._result(NormalizedText(text, kept, skeleton, self.normalizer), hits, matched)

    def _regex_matches(self, kept: str) -> list[int] | None:
        """The ids of the regexes that match ``kept`` (None or empty: none)."""
        return None if self._set_match is None else self._set_match(kept.encode())

    def scan_many(self, texts: Sequence[str]) -> list[ScanResult]:
        """:meth:`scan` of each text, equal to it text for text, for a page of comments
        (:meth:`scan_page`)."""
        page = self.scan_page(texts)
        return [page.result(index) for index in range(len(texts))]

    def scan_page(self, texts: Sequence[str]) -> PageScan:
        """A page of comments scanned together: :meth:`PageScan.result` is :meth:`scan` of
        each text, made only when asked for; :attr:`PageScan.busy` says which texts may hold
        something (the others hold nothing).

        The page is normalised in one pass (Normalizer.normalize_many) and its skeletons
        (and their sound) go through the automaton in one scan, joined by NUL, which no
        automaton pattern holds, so no match reaches across two comments. The regex set
        first runs over the page's kept texts joined: no rule regex has an anchor (checked
        at build), so a regex that matches one of them matches the joined text too, and a
        page where none matches costs one set search; a page where one does is halved until
        the texts it matches in are found (:meth:`_search_halves`).
        """
        page = self.normalizer.normalize_many(texts)
        count = len(page)
        if count < 2 or self._skel_ac is None or not self._page_scan:
            hits = {}
            for index, skeleton in enumerate(page.skeletons):
                found = self._hits_of(skeleton)
                if found:
                    hits[index] = found
        else:
            hits = self._page_hits(page)
        matched = self._page_regexes(page)
        if self._clean_without_hits:
            busy = frozenset(hits).union(matched)
        else:
            busy = frozenset(range(count))
        return PageScan(self, page, hits, matched, busy)

    def _page_regexes(self, page: NormalizedPage) -> dict[int, list[int]]:
        """The ids of the regexes the set matches in each text of the page (only texts with
        some)."""
        matched: dict[int, list[int]] = {}
        if self._set_match is None:
            return matched
        kepts = page.kepts
        if self._page_regex and len(kepts) > 1:
            self._search_halves(kepts, 0, len(kepts), page.kept, matched)
        else:
            self._search_each(kepts, 0, len(kepts), matched)
        return matched

    def _search_halves(
        self, kepts: list[str], lo: int, hi: int, joined: str, matched: dict[int, list[int]]
    ) -> None:
        """Find the regexes matching each of texts ``lo:hi`` (``joined``: them joined by
        NUL): none when a search of them together finds none, else in each half, down to a
        search each."""
        assert self._set_match is not None
        found = self._set_match(joined.encode())
        if not found:
            return
        if hi - lo == 1:
            matched[lo] = found
        elif hi - lo <= _REGEX_SPLIT_MIN:
            self._search_each(kepts, lo, hi, matched)
        else:
            mid = (lo + hi) // 2
            self._search_halves(kepts, lo, mid, "\0".join(kepts[lo:mid]), matched)
            self._search_halves(kepts, mid, hi, "\0".join(kepts[mid:hi]), matched)

    def _search_each(
        self, kepts: list[str], lo: int, hi: int, matched: dict[int, list[int]]
    ) -> None:
        """Find the regexes matching each of texts ``lo:hi``, one search each."""
        assert self._set_match is not None
        for index in range(lo, hi):
            found = self._set_match(kepts[index].encode())
            if found:
                matched[index] = found

    def _page_hits(self, page: NormalizedPage) -> dict[int, list[Hit]]:
        """The skeleton automaton's hits in a page, by text (only texts with hits), each
        numbered as :meth:`_hits_of` numbers them for the text alone."""
        joined = page.skeleton
        length = len(joined)
        scanned = joined
        if self._sounds and not joined.isascii() and self._sound_may_hit(joined):
            scanned = f"{joined}\0{sound_of_page(joined)}"
        hits: list[Hit] = self._skel_ac.find_matches_as_indexes(scanned, overlapping=True)
        per_text: dict[int, list[Hit]] = {}
        if not hits:
            return per_text
        skeletons = page.skeletons
        starts: list[int] = []  # where each skeleton starts in ``joined``
        at = 0
        for skeleton in skeletons:
            starts.append(at)
            at += len(skeleton) + 1
        for index, start, end in hits:
            if end <= length:
                which = bisect.bisect_right(starts, start) - 1
                base = starts[which]
                hit = (index, start - base, end - base)
            else:  # in the sound part: numbered as scan() does, after the skeleton and a NUL
                at = start - length - 1  # in the sound of ``joined``
                which = bisect.bisect_right(starts, at) - 1
                shift = len(skeletons[which]) + 1 - starts[which]
                hit = (index, at + shift, end - length - 1 + shift)
            per_text.setdefault(which, []).append(hit)
        return per_text

    def _hits_of(self, skeleton: str) -> list[Hit]:
        """The skeleton automaton's hits in one skeleton; those of its sound, when scanned, are
        numbered as if the sound followed the skeleton and a NUL."""
        if self._skel_ac is None or not skeleton:
            return []
        scanned = skeleton
        # Every sounds_like term has a Han character: an ASCII skeleton sounds like none.
        if self._sounds and not skeleton.isascii():
            needed = self._sound_needed
            if needed is None or needed.search(skeleton) is not None:
                scanned = f"{skeleton}\0{sound_of(skeleton)}"
        hits: list[Hit] = self._skel_ac.find_matches_as_indexes(scanned, overlapping=True)
        return hits

    def _sound_may_hit(self, skeleton: str) -> bool:
        return self._sound_needed is None or self._sound_needed.search(skeleton) is not None

    def _result(
        self, norm: NormalizedText, hits: Sequence[Hit], matched: list[int] | None
    ) -> ScanResult:
        """What one comment's scan found, from its automaton hits and the ids of the regexes
        the set matched in it."""
        if not hits and not matched and self._clean_without_hits:
            return ScanResult(norm, _NO_IDS, _NO_IDS, _NO_FIRST, self)  # most comments
        skeleton = norm.skeleton
        found: Found | None = None  # created on the first hit

        if self._full:
            ids = self._full.get(skeleton)
            if ids:
                found = Found()
                allow_of = self._allow_of
                for ident in ids:
                    guarded = bool(allow_of) and allow_of[ident] is not NO_ALLOW
                    found.hit(ident, "skeleton", 0, len(skeleton), guarded)

        run_word = self._word_always
        if hits:
            found = found or Found()
            run_word = self._skeleton_hits(hits, skeleton, found) or run_word

        if run_word and self._word_ac is not None and norm.kept:
            found = found or Found()
            self._word_hits(norm, found)

        regexes = _NO_IDS
        regex_first: dict[int, tuple[int, int]] = {}
        if matched:
            regexes = frozenset(matched)
            if not self._guarded_regexes.isdisjoint(regexes):
                found = found or Found()
                regexes = allowed_regexes(norm, regexes, found, self._regex_defs, regex_first)
        if found is None:
            return ScanResult(norm, _NO_IDS, regexes, _NO_FIRST, self, regex_first)
        if found.pending:
            settle(norm, found, self._allow_of)
        literals = frozenset(found.first) if found.first else _NO_IDS
        return ScanResult(norm, literals, regexes, found.first, self, regex_first)

    def _skeleton_hits(
        self, hits: Iterable[tuple[int, int, int]], skeleton: str, found: Found
    ) -> bool:
        """Record the skeleton hits that hold; True when an includes_word trigger fired."""
        first = found.first
        allow_of = self._allow_of
        length = len(skeleton)
        triggered = False
        for index, start, end in hits:
            if end > length:  # in the sound part
                self._sound_hit(index, start - length - 1, end - length - 1, skeleton, found)
                continue
            for target in self._targets(index):
                kind, ident = target & 7, target >> 3
                if kind == _TRIGGER:
                    triggered = True
                    continue
                if kind == _ALLOW:
                    found.allow.append((ident, start, end))
                    continue
                if ident in first:
                    continue
                if (
                    kind == _INCLUDES
                    or (kind == _STARTS_WITH and start == 0)
                    or (kind == _ENDS_WITH and end == length)
                ):
                    guarded = bool(allow_of) and allow_of[ident] is not NO_ALLOW
                    found.hit(ident, "skeleton", start, end, guarded)
        return triggered

    def _targets(self, index: int) -> tuple[int, ...]:
        """The targets of skeleton-automaton pattern ``index``."""
        single = self._skel_single[index]
        return (single,) if single != _MULTI else self._skel_multi[index]

    def _word_hits(self, norm: NormalizedText, found: Found) -> None:
        kept = norm.kept
        targets = self._word_targets
        n = len(kept)
        # A digit made from a numeral needs a numeral in the original: without one, no
        # offset map is needed to tell.
        numerals = self._numerals and _NUMERAL_RE.search(norm.original) is not None

        def continues(pos: int) -> bool:
            ch = kept[pos]
            if not is_word_char(ch):
                return False
            # Word edges are judged as if the numerals step were off: 加vx一起 still has vx.
            if numerals and "0" <= ch <= "9":
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
        self, index: int, start: int, end: int, skeleton: str, found: Found
    ) -> None:
        """A hit in the sound part; sound offsets are skeleton offsets. Latin letters and
        digits at a term's ends must not be continued by more of them (sounds_like.py)."""
        n = len(skeleton)
        for target in self._targets(index):
            if target & 7 != _SOUND:
                continue  # a Latin skeleton term found again among the sound's letters
            for lit in self._sound_targets[target >> 3]:
                if lit.word_start and start > 0 and is_word_char(skeleton[start - 1]):
                    continue
                if lit.word_end and end < n and is_word_char(skeleton[end]):
                    continue
                found.hit(lit.ident, "skeleton", start, end, bool(lit.allow))

    def _regex_search(self, ident: int, kept: str) -> tuple[int, int] | None:
        match = self._regex_defs[ident].compiled.search(kept)
        if match is None:
            return None
        start, end = match.span()
        return int(start), int(end)


_NUMERAL_RE = re.compile(f"[{''.join(NUMERALS)}]")
_SkeletonTerms = dict[str, list[int]]  # skeleton term -> its targets
_REGEX_SPLIT_MIN = 4  # a matching part of a page this small is searched text by text


def _group_literals(
    literals: list[LiteralDef], allow: Sequence[str]
) -> tuple[
    _SkeletonTerms, dict[str, list[LiteralDef]], dict[str, list[LiteralDef]], dict[str, list[int]]
]:
    """The literals by where they are matched: skeleton-automaton terms (includes,
    starts_with, ends_with and the allow terms) with their targets, includes_word terms,
    sounds_like terms (by sound) and full_exact terms (a dictionary lookup)."""
    skel_terms: _SkeletonTerms = {}
    word_terms: dict[str, list[LiteralDef]] = {}
    sound_terms: dict[str, list[LiteralDef]] = {}
    full: dict[str, list[int]] = {}
    for lit in literals:
        if lit.kind == "full_exact":
            full.setdefault(lit.term, []).append(lit.ident)
        elif lit.kind == "includes_word":
            word_terms.setdefault(lit.term, []).append(lit)
        elif lit.kind == "sounds_like":
            sound_terms.setdefault(lit.term, []).append(lit)
        else:
            skel_terms.setdefault(lit.term, []).append(lit.ident << 3 | _KIND_CODES[lit.kind])
    for ident, term in enumerate(allow):
        skel_terms.setdefault(term, []).append(ident << 3 | _ALLOW)
    return skel_terms, word_terms, sound_terms, full


def _regex_set(regexes: list[RegexDef]) -> Any:
    """One RE2 set of every regex; raises :class:`PatternError` when RE2 cannot build it."""
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
    return rset
