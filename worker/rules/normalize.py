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
invisible characters, look-alikes and numerals (and a ``str.replace`` for each distinct one
found), one ``casefold``, and one
precompiled character-class substitution for separators. The character tables are computed
from this Python's ``unicodedata`` on first use (about 0.15 s once per process), so they always
agree with its NFKC and case folding.
The offset maps behind :meth:`NormalizedText.kept_span` / :meth:`NormalizedText.skeleton_span`
are built lazily, by redoing the normalisation one NFKC-stable cluster at a time, only when a
span is asked for (that is, on a hit).
"""

from __future__ import annotations

import bisect
import functools
import itertools
import re
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass
from importlib import resources

__all__ = [
    "NormalizeOptions",
    "NormalizedText",
    "Normalizer",
    "is_separator",
    "separator_class",
]

_MAX_CP = 0x110000
# Python's ``re`` tests a character class's ranges one by one beyond the BMP (the BMP part is a
# bitmap), so the hot separator regex carries the BMP and the few ranges from U+1F000 up
# (emoji, tags, private use, unassigned), and the ~330 separator ranges of U+10000-U+1EFFF
# (historic scripts' punctuation, musical and mathematical symbols) are removed by a second,
# per-character pass that runs only when the text holds a character of that block.
_SLOW_ASTRAL = (0x10000, 0x1EFFF)

# Code points that are invisible although not in category Cf (see the module docstring).
_EXTRA_INVISIBLE = (0x034F, 0x115F, 0x1160, 0x3164, 0xFFA0)
# Variation selectors and Mongolian free variation selectors (category Mn).
_VARIATION_SELECTORS = ((0x180B, 0x180D), (0x180F, 0x180F), (0xFE00, 0xFE0F), (0xE0100, 0xE01EF))
# Characters whose NFKC form is their compatibility decomposition and that are common in Chinese
# comments (see Normalizer._pre).
_COMMON_COMPAT: tuple[tuple[str, str], ...] = tuple(
    (ch, unicodedata.normalize("NFKD", ch)) for ch in "，！？：；（）～\u3000…．"
)
_SEPARATOR_CATEGORIES = frozenset(
    {
        "Zs",
        "Zl",
        "Zp",
        "Pc",
        "Pd",
        "Ps",
        "Pe",
        "Pi",
        "Pf",
        "Po",
        "Sm",
        "Sc",
        "Sk",
        "So",
        "Cc",
        "Cf",
        "Cs",
        "Co",
        "Me",
    }
)


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
# Character tables, computed once from this Python's unicodedata (so they agree with its NFKC
# and casefold) and cached.


def _ranges(codepoints: list[int]) -> list[tuple[int, int]]:
    out: list[tuple[int, int]] = []
    for cp in codepoints:
        if out and out[-1][1] == cp - 1:
            out[-1] = (out[-1][0], cp)
        else:
            out.append((cp, cp))
    return out


def _class_body(ranges: list[tuple[int, int]]) -> str:
    """A Python ``re`` character class body (without brackets) for code point ranges."""
    parts: list[str] = []
    for lo, hi in ranges:
        if lo == hi:
            parts.append(f"\\U{lo:08x}")
        else:
            parts.append(f"\\U{lo:08x}-\\U{hi:08x}")
    return "".join(parts)


@functools.cache
def _tables() -> tuple[frozenset[int], list[tuple[int, int]], list[tuple[int, int]]]:
    """(invisible code points, invisible ranges, separator ranges)."""
    category = unicodedata.category
    invisible: list[int] = []
    separators: list[int] = []
    extra_invisible = set(_EXTRA_INVISIBLE)
    vs = {cp for lo, hi in _VARIATION_SELECTORS for cp in range(lo, hi + 1)}
    slow_lo, slow_hi = _SLOW_ASTRAL
    # Planes 2-3 hold only CJK ideographs (assigned or future): never separators. Planes 4-13
    # (unassigned) and 15-16 (private use) are all separators: added as ranges, no lookups.
    for cp in itertools.chain(range(0x20000), range(0xE0000, 0xF0000)):
        if 0x4E00 <= cp < 0xA000 or 0xAC00 <= cp < 0xD7A4:  # CJK, Hangul syllables: letters
            continue
        cat = category(chr(cp))
        if (cat == "Cf" and not slow_lo <= cp <= slow_hi) or cp in extra_invisible:
            invisible.append(cp)
            separators.append(cp)
        elif cat in _SEPARATOR_CATEGORIES or cat == "Cn" or cp in vs:
            separators.append(cp)
    ranges = sorted([*_ranges(separators), (0x40000, 0xDFFFF), (0xF0000, _MAX_CP - 1)])
    merged: list[tuple[int, int]] = []
    for lo, hi in ranges:
        if merged and lo <= merged[-1][1] + 1:
            merged[-1] = (merged[-1][0], max(hi, merged[-1][1]))
        else:
            merged.append((lo, hi))
    return frozenset(invisible), _ranges(invisible), merged


@functools.cache
def separator_class() -> str:
    """The body of a Python ``re`` character class matching exactly the separators."""
    return _class_body(_tables()[2])


@functools.cache
def _separator_bounds() -> tuple[list[int], list[int]]:
    ranges = _tables()[2]
    return [lo for lo, _ in ranges], [hi for _, hi in ranges]


def is_separator(ch: str) -> bool:
    """True when the one-character string ``ch`` is a separator (see the module docstring)."""
    los, his = _separator_bounds()
    cp = ord(ch)
    i = bisect.bisect_right(los, cp) - 1
    return i >= 0 and cp <= his[i]


@functools.cache
def _separator_re() -> re.Pattern[str]:
    lo, hi = _SLOW_ASTRAL
    fast: list[tuple[int, int]] = []
    for a, b in _tables()[2]:  # every separator range, clipped to outside the slow block
        if a < lo:
            fast.append((a, min(b, lo - 1)))
        if b > hi:
            fast.append((max(a, hi + 1), b))
    return re.compile(f"[{_class_body(fast)}]+")


@functools.cache
def _slow_astral_re() -> re.Pattern[str]:
    lo, hi = _SLOW_ASTRAL
    return re.compile(f"[\\U{lo:08x}-\\U{hi:08x}]")


def _drop_slow_separators(match: re.Match[str]) -> str:
    ch = match.group()
    return "" if is_separator(ch) else ch


@functools.cache
def _rare_re(
    strip_invisible: bool, fold_accents: bool, confusables: bool, numerals: bool
) -> re.Pattern[str]:
    """Characters that need fixing after NFKC: surrogates, invisibles when stripping, accented
    Latin letters and combining diacritics when folding accents, look-alikes and numerals
    when folding them (one search finds them all: most comments have none, and then this is
    the only cost; one ``str.replace`` per distinct character found is cheaper than a
    ``translate`` or a substitution calling Python per occurrence).

    The look-alikes beyond the BMP are covered by one range (a class of many astral ranges
    makes ``re`` test each against every character, and emoji are common); the few other
    characters inside it are given back unchanged by :func:`_rare_fixer`.
    """
    body = "\\ud800-\\udfff"
    if strip_invisible:
        body += _class_body(_tables()[1])
    if fold_accents:
        body += _ACCENT_BLOCKS
    if confusables:
        codepoints = sorted(_confusables()[0])
        bmp = [cp for cp in codepoints if cp < 0x10000]
        astral = [cp for cp in codepoints if cp >= 0x10000]
        body += _class_body(_ranges(bmp))
        if astral:
            body += _class_body([(astral[0], astral[-1])])
    if numerals:
        body += "".join(NUMERALS)
    return re.compile(f"[{body}]")


@functools.cache
def _rare_fixer(
    strip_invisible: bool, fold_accents: bool, confusables: bool, numerals: bool
) -> Callable[[str], str]:
    """What each character :func:`_rare_re` finds becomes: a lone surrogate U+FFFD, a
    look-alike or numeral its ASCII character, an accented Latin letter its base (a
    diacritic nothing), an invisible character nothing; anything else (inside the astral
    range that covers the look-alikes) stays."""
    invisible = _tables()[0] if strip_invisible else frozenset()
    table = dict(_confusables()[0]) if confusables else {}
    if numerals:
        table.update((ord(ch), digit) for ch, digit in NUMERALS.items())

    def fix(ch: str) -> str:
        if "\ud800" <= ch <= "\udfff":
            return "\ufffd"
        cp = ord(ch)
        folded = table.get(cp)
        if folded is not None:
            return folded
        if fold_accents and (0xC0 <= cp <= 0x24F or 0x300 <= cp <= 0x36F or 0x1E00 <= cp <= 0x1EFF):
            return _accents().get(cp, ch)  # U+034F, invisible and a diacritic, goes either way
        return "" if cp in invisible else ch

    return fix


@functools.cache
def _t2s() -> tuple[dict[int, str], _Finder]:
    """The traditional -> simplified table and a regex finding any traditional character."""
    table = _char_table("t2s_chars.txt")
    return table, _finder(table)


def _char_table(name: str) -> dict[int, str]:
    """A shipped one-character-to-one-character table ("SA" per line, '#' lines are comments)."""
    table: dict[int, str] = {}
    text = resources.files("worker").joinpath(f"data/{name}").read_text(encoding="utf-8")
    for line in text.splitlines():
        if not line or line.startswith("#"):
            continue
        if len(line) != 2:
            raise ValueError(f"worker/data/{name}: malformed line {line!r}")
        table[ord(line[0])] = line[1]
    return table


class _Finder:
    """Tells whether a text may hold a character of a set, fast.

    A class with many astral ranges makes Python's ``re`` test every character against each
    range (emoji are astral and common), so the astral part is one covering range: a text
    with a character inside it but outside the set only costs a translation that changes
    nothing.
    """

    __slots__ = ("_re",)

    def __init__(self, codepoints: list[int]) -> None:
        bmp = [cp for cp in codepoints if cp < 0x10000]
        astral = [cp for cp in codepoints if cp >= 0x10000]
        ranges = _ranges(bmp)
        if astral:
            ranges.append((astral[0], astral[-1]))
        self._re = re.compile("[" + _class_body(ranges) + "]")

    def search(self, text: str) -> bool:
        return self._re.search(text) is not None


def _finder(table: dict[int, str]) -> _Finder:
    """Finds any character the table maps."""
    return _Finder(sorted(table))


@functools.cache
def _confusables() -> tuple[dict[int, str], _Finder]:
    """Look-alikes of Latin letters and digits -> ASCII (worker/data/confusables_latin.txt)."""
    table = _char_table("confusables_latin.txt")
    return table, _finder(table)


#: Chinese numerals, financial numerals (大写) and their traditional forms -> ASCII digits.
NUMERALS: dict[str, str] = {
    **{ch: str(i) for i, ch in enumerate("〇一二三四五六七八九")},
    "零": "0",
    **{ch: str(i) for i, ch in enumerate("壹贰叁肆伍陆柒捌玖", start=1)},
    "貳": "2",
    "參": "3",
    "陸": "6",
}


# The blocks accented Latin letters and combining diacritics come from (a superset of
# _accents(): three ranges test faster than its ~500).
_ACCENT_BLOCKS = "\\u00c0-\\u024f\\u0300-\\u036f\\u1e00-\\u1eff"


@functools.cache
def _accents() -> dict[int, str]:
    """Accented Latin letters -> base letter, combining diacritical marks -> nothing.

    Dropping a mark wherever it stands (not only after a Latin letter) keeps the step
    character by character, so spans stay exact even when NFKC is off and marks stand alone.
    """
    table: dict[int, str] = {}
    for cp in itertools.chain(range(0x00C0, 0x0250), range(0x1E00, 0x1F00)):
        decomposed = unicodedata.normalize("NFD", chr(cp))
        base, marks = decomposed[0], decomposed[1:]
        if marks and base.isascii() and base.isalpha() and all(
            0x300 <= ord(mark) <= 0x36F for mark in marks
        ):
            table[cp] = base
    table.update(dict.fromkeys(range(0x300, 0x370), ""))
    return table


_CHAR_CACHE_SIZE = 1 << 16


@functools.cache
def _may_join_previous() -> frozenset[str]:
    """Starters that NFKC may compose with (or reorder behind) the character before them.

    Those are the second halves of canonical compositions (mostly combining marks, but also
    Hangul vowel and trailing jamo and a few Indic vowel signs) and the characters whose
    compatibility decomposition starts with a non-starter or with such a second half (e.g. the
    Hangul compatibility jamo ㅐ). Any other character with combining class 0 starts a new
    NFKC cluster (see Normalizer._clusters).
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


def _lower_simple(text: str) -> str:
    """Context-free one-to-one lowercasing (``casefold: false``)."""
    return text.lower().replace("ς", "σ")


# --------------------------------------------------------------------------------------------


class Normalizer:
    """Normalises comment text and rule terms the same way (see the module docstring)."""

    __slots__ = (
        "_case",
        "_char_cache",
        "_collapse_re",
        "_collapse_repl",
        "_nfkc",
        "_rare_fix",
        "_rare_fixed",
        "_rare_re",
        "_sep_re",
        "_slow_re",
        "_t2s_re",
        "_t2s_table",
        "options",
    )

    def __init__(self, options: NormalizeOptions | None = None) -> None:
        self.options = options if options is not None else NormalizeOptions()
        opts = self.options
        self._nfkc = opts.nfkc
        self._char_cache: dict[str, str] = {}
        self._rare_re = _rare_re(
            opts.strip_invisible, opts.fold_accents, opts.confusables, opts.numerals
        )
        self._rare_fix = _rare_fixer(
            opts.strip_invisible, opts.fold_accents, opts.confusables, opts.numerals
        )
        self._rare_fixed: dict[str, str] = {}
        self._case: Callable[[str], str] = str.casefold if opts.casefold else _lower_simple
        self._sep_re = _separator_re() if opts.skip_separators else None
        self._slow_re = _slow_astral_re()
        if opts.traditional_to_simplified:
            table, pattern = _t2s()
            self._t2s_table: dict[int, str] | None = table
            self._t2s_re: _Finder | None = pattern
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

    def _pre(self, text: str) -> str:
        """Every step but collapsing and separator removal; per-character except NFKC.

        Look-alikes fold before case folding (the table maps capitals too) and before
        separators are decided, so a negative squared ``🅥`` (a symbol, hence a separator
        otherwise) is the letter ``v``.
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
        if found:
            # look-alikes and numerals fold here too: before case folding (the look-alike
            # table maps capitals) and before t2s (which would make the numeral 參 参). One
            # str.replace per distinct character found, not a Python call per occurrence
            # (numerals are common: 一 is the second most frequent character); what each
            # becomes is remembered, and never itself a character this step changes.
            fixed = self._rare_fixed
            for ch in set(found):
                out = fixed.get(ch)
                if out is None:
                    out = self._rare_fix(ch)
                    if len(fixed) < _CHAR_CACHE_SIZE:
                        fixed[ch] = out
                if out != ch:
                    text = text.replace(ch, out)
        text = self._case(text)
        if self._t2s_re is not None and self._t2s_re.search(text):
            assert self._t2s_table is not None
            text = text.translate(self._t2s_table)
        return text

    def _collapse(self, text: str) -> str:
        if self._collapse_re is None:
            return text
        return self._collapse_re.sub(self._collapse_repl, text)

    def _skeleton_of(self, pre: str) -> str:
        if self._sep_re is None:
            return pre
        skeleton = self._sep_re.sub("", pre)
        if not skeleton.isascii() and self._slow_re.search(skeleton) is not None:
            skeleton = self._slow_re.sub(_drop_slow_separators, skeleton)
        return skeleton

    def normalize(self, text: str) -> NormalizedText:
        """Normalise a comment; never raises on any ``str``."""
        pre = self._pre(text)
        if self._collapse_re is None:
            kept = pre
            skeleton = self._skeleton_of(pre)
        else:
            kept = self._collapse(pre)
            skeleton = self._collapse(self._skeleton_of(pre))
        return NormalizedText(text, kept, skeleton, self)

    def normalize_term(self, term: str, *, skeleton: bool) -> str:
        """A rule's term, normalised like the text it is matched against.

        ``skeleton=True`` (``includes``, ``starts_with``, ``ends_with``, ``full_exact``) also
        removes separators; ``skeleton=False`` (``includes_word``, regex literals) keeps them.
        """
        pre = self._pre(term)
        if skeleton:
            pre = self._skeleton_of(pre)
        return self._collapse(pre)

    # The slow path: offset maps ------------------------------------------------------------

    def _clusters(self, text: str) -> list[int]:
        """Start offsets of segments whose NFKC forms concatenate to the NFKC of ``text``."""
        n = len(text)
        if not self._nfkc:
            return list(range(n))
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

    def _offset_maps(self, original: str, kept: str, skeleton: str) -> _OffsetMaps:
        n = len(original)
        starts = self._clusters(original)
        bounds = [*starts[1:], n] if starts else []
        parts: list[str] = []
        src_start: list[int] = []
        src_end: list[int] = []
        cache = self._char_cache
        for s, e in zip(starts, bounds, strict=True):
            if e - s == 1:  # most clusters are one character: remember what it becomes
                ch = original[s]
                out = cache.get(ch)
                if out is None:
                    out = self._pre(ch)
                    if len(cache) < _CHAR_CACHE_SIZE:
                        cache[ch] = out
            else:
                out = self._pre(original[s:e])
            parts.append(out)
            k = len(out)
            if k == 1:
                src_start.append(s)
                src_end.append(e)
            elif k:
                src_start.extend([s] * k)
                src_end.extend([e] * k)
        pre = "".join(parts)
        # keep[i] == 1 when pre[i] is not a separator.
        keep = bytearray(b"\x01") * len(pre)
        if self._sep_re is not None:
            for m in self._sep_re.finditer(pre):
                keep[m.start() : m.end()] = bytes(m.end() - m.start())
            if not pre.isascii():
                for m in self._slow_re.finditer(pre):
                    if is_separator(m.group()):
                        keep[m.start()] = 0
        if self._collapse_re is None:
            kept_start, kept_end = src_start, src_end
            kept_text = pre
            skel_start = list(itertools.compress(src_start, keep))
            skel_end = list(itertools.compress(src_end, keep))
            skel_text = "".join(itertools.compress(pre, keep))
        else:
            chars = list(pre)
            all_idx = list(range(len(chars)))
            kept_idx, kept_end = self._collapse_indices(chars, all_idx, src_end)
            kept_start = [src_start[i] for i in kept_idx]
            kept_text = "".join(chars[i] for i in kept_idx)
            non_sep = list(itertools.compress(all_idx, keep))
            skel_idx, skel_end = self._collapse_indices(chars, non_sep, src_end)
            skel_start = [src_start[i] for i in skel_idx]
            skel_text = "".join(chars[i] for i in skel_idx)
        if kept_text != kept or skel_text != skeleton:  # pragma: no cover - never seen
            # A normalisation the cluster split did not reproduce: spans stay valid (they cover
            # the whole comment) rather than wrong.
            return _OffsetMaps(
                [0] * len(kept), [n] * len(kept), [0] * len(skeleton), [n] * len(skeleton), False
            )
        return _OffsetMaps(kept_start, kept_end, skel_start, skel_end, True)

    def _collapse_indices(
        self, chars: list[str], idx: list[int], src_end: list[int]
    ) -> tuple[list[int], list[int]]:
        """Indices (into ``chars``) that survive collapsing, and each one's source end.

        The last kept character of a collapsed run ends where the run ends in the original, so
        a match that includes it covers the whole run.
        """
        limit = self.options.collapse_repeats
        if limit is None:
            return idx, [src_end[i] for i in idx]
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


@dataclass(frozen=True, slots=True)
class _OffsetMaps:
    kept_start: list[int]
    kept_end: list[int]
    skel_start: list[int]
    skel_end: list[int]
    exact: bool


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
        self._maps: _OffsetMaps | None = None

    def __repr__(self) -> str:
        return (
            f"NormalizedText(original={self.original!r}, kept={self.kept!r}, "
            f"skeleton={self.skeleton!r})"
        )

    def _get_maps(self) -> _OffsetMaps:
        if self._maps is None:
            self._maps = self._normalizer._offset_maps(self.original, self.kept, self.skeleton)
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
