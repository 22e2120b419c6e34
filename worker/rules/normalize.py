"""Text normalisation for matching, with exact spans back into the original text.

The pipeline (each step switchable through :class:`NormalizeOptions`), applied in this order:

1. ``nfkc``: Unicode NFKC (full-width ``ｑｑ`` -> ``qq``, ``①`` -> ``1``, ``ℍ`` -> ``h``,
   ``ﬁ`` -> ``fi``, ``㎏`` -> ``kg``, full-width punctuation -> ASCII punctuation).
2. ``strip_invisible``: remove *invisible* characters: every format character (category Cf:
   U+200B-U+200F, U+2060-U+2064, U+FEFF, bidi controls, emoji tag characters, ...), plus the
   combining grapheme joiner U+034F and the Hangul fillers U+115F, U+1160, U+3164, U+FFA0
   (letters by category, but blank, and used as invisible spacers). The few format
   characters of historic scripts in U+10000-U+1EFFF (Egyptian hieroglyph controls, ...) are
   left in place (they are still separators): keeping them out keeps the hot regex fast.
   Lone surrogates (which a JSON decoder can produce) are always replaced by U+FFFD, whatever
   the options: no encoder downstream (RE2, Aho-Corasick) accepts them.
   ``fold_accents`` runs in the same pass (one search finds what either step changes): Latin
   letters lose their diacritics (``wēi xìn`` -> ``wei xin``, ``Café`` -> ``Cafe``), a
   precomposed Latin letter mapping to its base letter one for one, and the combining
   diacritical marks U+0300-U+036F are dropped wherever they are (so a decomposed ``e`` +
   U+0304 folds too); precomposed letters of other scripts keep theirs.
3. ``confusables``: letters of other scripts and symbol blocks that look like a Latin letter
   or digit and that NFKC leaves alone (Cyrillic ``х``, Greek ``ν``, negative squared ``🅥``)
   become that ASCII character, one for one, from ``worker/data/confusables_latin.txt``
   (Unicode confusables.txt, see tools/gen_confusables.py); Han is never folded. It runs in
   the same search as step 2 (both are rare), before case folding (the table maps capitals)
   and before separators are decided (``🅥`` is a symbol, hence a separator, unfolded).
4. ``casefold``: full Unicode case folding (``str.casefold``: ``ß`` -> ``ss``, ``ς`` -> ``σ``).
   **With ``casefold: false`` matching is still case-insensitive** (the rule language says
   "all matching is case-insensitive"): the text is then lowercased one character at a time
   (``str.lower`` with final sigma folded to ``σ``), so ``QQ`` still equals ``qq`` but ``ß``
   no longer equals ``ss`` and case never changes the length of the text (except ``İ``).
5. ``numerals``: ``〇零一二三四五六七八九``, ``壹贰叁肆伍陆柒捌玖`` and ``貳參陸`` become ASCII
   digits, one for one (before step 6, which would make ``參`` the non-numeral ``参``).
6. ``traditional_to_simplified``: one character to one character (``發`` -> ``发``), from
   OpenCC's ``TSCharacters`` table shipped in ``worker/data/t2s_chars.txt``; being per
   character, spans stay exact. Costs nothing when off.
7. ``collapse_repeats: N``: a run of one character longer than N becomes N characters.

The result is :attr:`NormalizedText.kept`. :attr:`NormalizedText.skeleton` is ``kept`` with
every *separator* removed (computed before collapsing, so ``fu u u ck`` collapses too).

Separators (``skip_separators``) are every character that is not part of a word in any script:
categories Z* (spaces), P* (punctuation), S* (symbols, emoji, skin-tone modifiers, regional
indicators), Cc (controls such as newline), Cf (format characters: ZWJ, tags; they are
separators even with ``strip_invisible: false``, in which case they stay in ``kept`` but are
skipped in ``skeleton``), Co (private use), Cn (unassigned in this Python's Unicode database:
emoji newer than it; except planes 2 and 3, which hold only CJK ideographs), Me (enclosing
marks: the keycap U+20E3), the variation selectors (U+FE00-U+FE0F, U+E0100-U+E01EF, Mongolian
U+180B-U+180F) and the invisible characters of step 2. Letters (L*), digits and numbers (N*)
and combining marks other than those (Mn, Mc) are never separators, so CJK never is.

Hot path: :meth:`Normalizer.normalize` does no per-character Python work. ASCII text is only
lowercased; other text runs NFKC only when ``unicodedata.is_normalized`` says it must (and
first replaces the common full-width punctuation, which is usually all that stops a Chinese
comment from being NFKC already: 0.5 us instead of 3-6 us), one precompiled regex search for
invisible characters, look-alikes, numerals and every character case folding changes (and a
``str.replace`` for each distinct one found, then ``casefold``: a comment where it finds
nothing, most Chinese ones, is not case folded at all), and one precompiled character-class
``findall`` of the runs between separators. :meth:`Normalizer.normalize_many` runs a page of
comments through the same steps once, joined by NUL. The character tables (separators.py,
folding.py) are computed from this Python's ``unicodedata`` on first use (about 0.2 s once
per process), so they always agree with its NFKC and case folding.
The offset maps behind :meth:`NormalizedText.kept_span` / :meth:`NormalizedText.skeleton_span`
(offsets.py) are built lazily, by redoing the normalisation one NFKC-stable cluster at a time,
only when a span is asked for (that is, on a hit).
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from worker.rules.folding import NUMERALS, Finder, lower_simple, rare_fixer, rare_re, t2s_table
from worker.rules.offsets import OffsetMaps, offset_maps
from worker.rules.separators import (
    drop_slow_separators,
    is_separator,
    non_separator_re,
    separator_class,
    separator_re,
    slow_astral_re,
)

__all__ = [
    "NUMERALS",
    "NormalizeOptions",
    "NormalizedPage",
    "NormalizedText",
    "Normalizer",
    "is_separator",
    "separator_class",
]

# Characters whose NFKC form is their compatibility decomposition and that are common in Chinese
# comments (see Normalizer.pre).
_COMMON_COMPAT: tuple[tuple[str, str], ...] = tuple(
    (ch, unicodedata.normalize("NFKD", ch)) for ch in "，！？：；（）～\u3000…．"
)
# What offset maps remember of single characters' normalised forms, at most.
_CHAR_CACHE_SIZE = 1 << 16


@dataclass(frozen=True, slots=True, kw_only=True)
class NormalizeOptions:
    """Which normalisation steps run; see the module docstring for what each one does."""

    nfkc: bool = True
    casefold: bool = True
    strip_invisible: bool = True
    skip_separators: bool = True
    traditional_to_simplified: bool = False
    collapse_repeats: int | None = None  # N >= 1: a run of one character longer than N -> N
    fold_accents: bool = True  # ē, ì, ǎ, é -> e, i, a, e: pinyin with tones meets plain Latin
    confusables: bool = True
    numerals: bool = False

    def __post_init__(self) -> None:
        if self.collapse_repeats is not None and (
            isinstance(self.collapse_repeats, bool) or self.collapse_repeats < 1
        ):
            raise ValueError(
                f"collapse_repeats must be an integer >= 1, not {self.collapse_repeats!r}"
            )


# --------------------------------------------------------------------------------------------


class Normalizer:
    """Normalises comment text and rule terms the same way (see the module docstring)."""

    __slots__ = (
        "_case",
        "_char_cache",
        "_collapse_re",
        "_collapse_repl",
        "_kept_runs",
        "_nfkc",
        "_page_runs",
        "_rare_fix",
        "_rare_fixed",
        "_rare_re",
        "_t2s_re",
        "_t2s_table",
        "options",
        "separator_regex",
        "slow_astral_regex",
    )

    def __init__(self, options: NormalizeOptions | None = None) -> None:
        self.options = options if options is not None else NormalizeOptions()
        opts = self.options
        self._nfkc = opts.nfkc
        self._char_cache: dict[str, str] = {}
        steps = (opts.strip_invisible, opts.fold_accents, opts.confusables, opts.numerals)
        self._rare_re = rare_re(*steps, casefold=opts.casefold)
        self._rare_fix = rare_fixer(*steps)
        self._rare_fixed: dict[str, tuple[str, bool]] = {}  # what _fix_rare made of each
        self._case: Callable[[str], str] = str.casefold if opts.casefold else lower_simple
        #: runs of separators outside the slow astral block (None: separators are kept)
        self.separator_regex = separator_re() if opts.skip_separators else None
        self._kept_runs = non_separator_re()
        self._page_runs = non_separator_re(keep_nul=True)
        self.slow_astral_regex = slow_astral_re()
        if opts.traditional_to_simplified:
            table, pattern = t2s_table()
            self._t2s_table: dict[int, str] | None = table
            self._t2s_re: Finder | None = pattern
        else:
            self._t2s_table = None
            self._t2s_re = None
        n = opts.collapse_repeats
        if n is not None:
            self._collapse_re: re.Pattern[str] | None = re.compile(f"(.)\\1{{{n},}}", re.DOTALL)
            self._collapse_repl = "\\1" * n
        else:
            self._collapse_re = None
            self._collapse_repl = ""

    def __repr__(self) -> str:
        return f"Normalizer({self.options!r})"

    # The hot path --------------------------------------------------------------------------

    def pre(self, text: str) -> str:
        """Every step but collapsing and separator removal; per-character except NFKC.

        Look-alikes fold before case folding (the table maps capitals too) and before
        separators are decided, so a negative squared ``🅥`` (a symbol, hence a separator
        otherwise) is the letter ``v``. No step changes or produces a NUL, and NFKC never
        composes across one, so texts joined by NUL come out joined by NUL.
        """
        if text.isascii():
            return text.lower()  # ASCII: NFKC, invisibles and t2s are no-ops; casefold == lower
        if self._nfkc and not unicodedata.is_normalized("NFKC", text):
            # Most Chinese comments are not NFKC only because of full-width punctuation.
            # Replacing those by their compatibility decomposition first does not change the
            # NFKC result, and often leaves nothing for the (much slower) full NFKC to do.
            for fullwidth, ascii_form in _COMMON_COMPAT:
                text = text.replace(fullwidth, ascii_form)
            if not unicodedata.is_normalized("NFKC", text):
                text = unicodedata.normalize("NFKC", text)
        found = self._rare_re.findall(text)
        if found:  # else no character here is one the rare steps or case folding change
            text, cased = self._fix_rare(text, found)
            if cased:
                text = self._case(text)
        if self._t2s_re is not None and self._t2s_re.search(text):
            assert self._t2s_table is not None
            text = text.translate(self._t2s_table)
        return text

    def _fix_rare(self, text: str, found: list[str]) -> tuple[str, bool]:
        """Look-alikes and numerals fold here too: before case folding (the look-alike table
        maps capitals) and before t2s (which would make the numeral 參 参). One str.replace
        per distinct character found, not a Python call per occurrence (numerals are common:
        一 is the second most frequent character); what each becomes is remembered, and never
        itself a character this step changes.

        Also says whether case folding has anything to do: it is context-free (folding.py),
        and only what this step leaves of the characters found can change, so a text whose
        only finds are numerals or invisible characters is not folded."""
        fixed = self._rare_fixed
        cased = False
        for ch in set(found):
            known = fixed.get(ch)
            if known is None:
                out = self._rare_fix(ch)
                known = (out, self._case(out) != out)
                if len(fixed) < _CHAR_CACHE_SIZE:
                    fixed[ch] = known
            out, changes = known
            if out != ch:
                text = text.replace(ch, out)
            cased = cased or changes
        return text, cased

    def _collapse(self, text: str) -> str:
        if self._collapse_re is None:
            return text
        return self._collapse_re.sub(self._collapse_repl, text)

    def _skeleton_of(self, pre: str, *, page: bool = False) -> str:
        """``pre`` without separators (``page``: NUL, which joins a page's texts, stays)."""
        if self.separator_regex is None:
            return pre
        skeleton = "".join((self._page_runs if page else self._kept_runs).findall(pre))
        if not skeleton.isascii() and self.slow_astral_regex.search(skeleton) is not None:
            skeleton = self.slow_astral_regex.sub(drop_slow_separators, skeleton)
        return skeleton

    def normalize(self, text: str) -> NormalizedText:
        """Normalise a comment; never raises on any ``str``."""
        kept, skeleton = self.forms(text)
        return NormalizedText(text, kept, skeleton, self)

    def forms(self, text: str) -> tuple[str, str]:
        """:meth:`normalize`'s kept text and skeleton, without the object around them (a scan
        that finds nothing, most comments, never needs it)."""
        pre = self.pre(text)
        if self._collapse_re is None:
            return pre, self._skeleton_of(pre)
        return self._collapse(pre), self._collapse(self._skeleton_of(pre))

    def normalize_many(self, texts: Sequence[str]) -> NormalizedPage:
        """:meth:`normalize` of each text, and their kept texts and skeletons joined by NUL.

        The page goes through each step once, joined by NUL (which no step changes, NFKC
        composes across, or separator removal drops here), instead of once per text: the
        same results for less per-call overhead. A text holding a NUL itself, or collapsing
        (a run of NULs from empty texts would collapse), takes the text-by-text way.
        """
        joined = "\0".join(texts)
        if self._collapse_re is None and joined.count("\0") == len(texts) - 1:
            pre = self.pre(joined)
            skeleton = self._skeleton_of(pre, page=True)
            kepts = pre.split("\0")
            skeletons = skeleton.split("\0")
            if len(kepts) == len(skeletons) == len(texts):
                return NormalizedPage(texts, pre, skeleton, kepts, skeletons, self)
        kepts, skeletons = [], []
        for text in texts:
            kept, skeleton = self.forms(text)
            kepts.append(kept)
            skeletons.append(skeleton)
        return NormalizedPage(
            texts, "\0".join(kepts), "\0".join(skeletons), kepts, skeletons, self
        )

    def normalize_term(self, term: str, *, skeleton: bool) -> str:
        """A rule's term, normalised like the text it is matched against.

        ``skeleton=True`` (``includes``, ``starts_with``, ``ends_with``, ``full_exact``) also
        removes separators; ``skeleton=False`` (``includes_word``, regex literals) keeps them.
        """
        pre = self.pre(term)
        if skeleton:
            pre = self._skeleton_of(pre)
        return self._collapse(pre)

    def pre_char(self, ch: str) -> str:
        """:meth:`pre` of one character, remembered (offset maps ask for every character)."""
        out = self._char_cache.get(ch)
        if out is None:
            out = self.pre(ch)
            if len(self._char_cache) < _CHAR_CACHE_SIZE:
                self._char_cache[ch] = out
        return out


class NormalizedPage:
    """A page of comments normalised together: all joined by NUL, each one's forms, and each
    one as a :class:`NormalizedText` only when asked for (most comments of a page are never
    looked at one by one)."""

    __slots__ = ("_normalizer", "kept", "kepts", "originals", "skeleton", "skeletons")

    def __init__(
        self, originals: Sequence[str], kept: str, skeleton: str, kepts: list[str],
        skeletons: list[str], normalizer: Normalizer,
    ) -> None:
        self.originals = originals
        self.kept = kept  # the kept texts joined by NUL
        self.skeleton = skeleton  # the skeletons joined by NUL
        self.kepts = kepts
        self.skeletons = skeletons
        self._normalizer = normalizer

    def __len__(self) -> int:
        return len(self.originals)

    def text(self, index: int) -> NormalizedText:
        """The page's ``index``-th text, normalised."""
        return NormalizedText(
            self.originals[index], self.kepts[index], self.skeletons[index], self._normalizer
        )

    @property
    def texts(self) -> list[NormalizedText]:
        """Every text of the page, normalised."""
        return [self.text(index) for index in range(len(self.originals))]


class NormalizedText:
    """A comment in its three forms, and span mapping back to the original.

    ``kept``: every enabled step except separator skipping (what ``includes_word``, ``regex``
    and lengths see). ``skeleton``: ``kept`` without separators (what ``includes``,
    ``starts_with``, ``ends_with`` and ``full_exact`` see).
    """

    __slots__ = ("_maps", "_normalizer", "kept", "original", "skeleton")

    def __init__(self, original: str, kept: str, skeleton: str, normalizer: Normalizer) -> None:
        self.original = original
        self.kept = kept
        self.skeleton = skeleton
        self._normalizer = normalizer
        self._maps: OffsetMaps | None = None

    def __repr__(self) -> str:
        return (
            f"NormalizedText(original={self.original!r}, kept={self.kept!r}, "
            f"skeleton={self.skeleton!r})"
        )

    def _get_maps(self) -> OffsetMaps:
        if self._maps is None:
            self._maps = offset_maps(self._normalizer, self.original, self.kept, self.skeleton)
        return self._maps

    @property
    def spans_exact(self) -> bool:
        """False only if the offset maps had to fall back to whole-text spans (never expected)."""
        return self._get_maps().exact

    def kept_span(self, start: int, end: int) -> tuple[int, int]:
        """The span of the original covered by ``kept[start:end]``."""
        maps = self._get_maps()
        return self._span(start, end, len(self.kept), maps.kept_start, maps.kept_end)

    def skeleton_span(self, start: int, end: int) -> tuple[int, int]:
        """The span of the original covered by ``skeleton[start:end]``.

        It runs from the first original character that produced ``skeleton[start]`` to the
        last one that produced ``skeleton[end - 1]``, so it includes any separators and
        invisible characters between them (``薇 信`` for ``薇信``) but none around them.
        """
        maps = self._get_maps()
        return self._span(start, end, len(self.skeleton), maps.skel_start, maps.skel_end)

    def _span(
        self, start: int, end: int, length: int, starts: list[int], ends: list[int]
    ) -> tuple[int, int]:
        if not 0 <= start <= end <= length:
            raise IndexError(f"span [{start}, {end}) is outside the text of length {length}")
        if start == end:
            pos = starts[start] if start < length else len(self.original)
            return pos, pos
        return starts[start], ends[end - 1]
