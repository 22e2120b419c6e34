"""Normalisation: the three forms of a comment and exact spans back into the original."""

from __future__ import annotations

import unicodedata

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from worker.rules.normalize import NormalizeOptions, Normalizer, is_separator

DEFAULT = Normalizer(NormalizeOptions())

# Any code point, lone surrogates included.
any_char = st.characters(codec=None, exclude_categories=())
tricky_char = st.one_of(
    any_char,
    st.sampled_from(
        "薇信加微ｑＱ１①ﬁßİΣς㎏\u0301\u0308\u20e3\ufe0f\u200b\u200d\ufeff\u3164 　！，。"
        "😀👍🏻\U0001f468\ud800\udc00ᄀ\u1161\u11a8e"
    ),
)
options_st = st.builds(
    NormalizeOptions,
    nfkc=st.booleans(),
    casefold=st.booleans(),
    strip_invisible=st.booleans(),
    skip_separators=st.booleans(),
    traditional_to_simplified=st.booleans(),
    collapse_repeats=st.none() | st.integers(min_value=1, max_value=3),
)


def skel(text: str, normalizer: Normalizer = DEFAULT) -> str:
    return normalizer.normalize(text).skeleton


def original_of_skeleton(text: str, start: int, end: int, normalizer: Normalizer = DEFAULT) -> str:
    norm = normalizer.normalize(text)
    a, b = norm.skeleton_span(start, end)
    return text[a:b]


@pytest.mark.parametrize(
    ("text", "kept", "skeleton"),
    [
        ("薇 信", "薇 信", "薇信"),
        ("ｑｑ：１２３", "qq:123", "qq123"),
        ("好！", "好!", "好"),
        ("加\u200bv", "加v", "加v"),
        ("微❤️信", "微❤️信", "微信"),
        ("ﬁsh", "fish", "fish"),
        ("Straße", "strasse", "strasse"),
        ("①②", "12", "12"),
        ("3㎏", "3kg", "3kg"),
        ("ℍello", "hello", "hello"),
        ("1️⃣2️⃣", "1\ufe0f\u20e32\ufe0f\u20e3", "12"),
        ("👍🏻好👨\u200d👩\u200d👧", "👍🏻好👨👩👧", "好"),
        ("a\ud800b", "a\ufffdb", "ab"),
        ("", "", ""),
        ("HELLO world", "hello world", "helloworld"),
    ],
)
def test_forms(text: str, kept: str, skeleton: str) -> None:
    norm = DEFAULT.normalize(text)
    assert norm.original == text
    assert norm.kept == kept
    assert norm.skeleton == skeleton


def test_skeleton_span_covers_exactly_the_disguised_original() -> None:
    assert original_of_skeleton("加我薇 信abc", 2, 4) == "薇 信"
    assert original_of_skeleton("ｑｑ：１２３", 0, 2) == "ｑｑ"
    assert original_of_skeleton("!! 薇\u200b-信 !!", 0, 2) == "薇\u200b-信"
    # A match that starts inside what one original character became covers that character.
    assert original_of_skeleton("xﬁy", 2, 3) == "ﬁ"
    assert original_of_skeleton("a㎏b", 1, 3) == "㎏"
    # Combining sequences stay whole.
    assert original_of_skeleton("ce\u0301x", 1, 2) == "e\u0301"


def test_kept_span() -> None:
    norm = DEFAULT.normalize("ＡＢ，ｃ")
    assert norm.kept == "ab,c"
    assert norm.kept_span(0, 4) == (0, 4)
    assert norm.kept_span(2, 3) == (2, 3)
    assert norm.kept_span(1, 1) == (1, 1)
    assert norm.kept_span(4, 4) == (4, 4)
    with pytest.raises(IndexError):
        norm.kept_span(0, 5)


def test_casefold_off_still_ignores_case_without_expanding() -> None:
    normalizer = Normalizer(NormalizeOptions(casefold=False, confusables=False))
    assert normalizer.normalize("QQ ΟΔΟΣ").kept == "qq οδοσ"
    assert normalizer.normalize("Straße").kept == "straße"  # no ß -> ss
    assert DEFAULT.normalize("Straße").kept == "strasse"


def test_strip_invisible_off_keeps_them_in_kept_but_skips_them() -> None:
    normalizer = Normalizer(NormalizeOptions(strip_invisible=False))
    norm = normalizer.normalize("薇\u200b信")
    assert norm.kept == "薇\u200b信"
    assert norm.skeleton == "薇信"


def test_skip_separators_off() -> None:
    normalizer = Normalizer(NormalizeOptions(skip_separators=False))
    norm = normalizer.normalize("薇 信")
    assert norm.skeleton == norm.kept == "薇 信"


def test_traditional_to_simplified() -> None:
    assert skel("發票聯繫") == "發票聯繫"  # off by default
    normalizer = Normalizer(NormalizeOptions(traditional_to_simplified=True))
    norm = normalizer.normalize("代開發 票，請聯繫")
    assert norm.skeleton == "代开发票请联系"
    assert original_of_skeleton("代開發 票，請聯繫", 2, 4, normalizer) == "發 票"


def test_collapse_repeats() -> None:
    normalizer = Normalizer(NormalizeOptions(collapse_repeats=2))
    norm = normalizer.normalize("fuuuuck 哈哈哈哈哈 f-u-u-u-ck")
    assert norm.kept == "fuuck 哈哈 f-u-u-u-ck"
    assert norm.skeleton == "fuuck哈哈fuuck"
    # The last kept character of a collapsed run stands for the whole run.
    assert original_of_skeleton("xfuuuuck", 0, 4, normalizer) == "xfuuuu"
    assert original_of_skeleton("xfuuuuck", 1, 6, normalizer) == "fuuuuck"
    with pytest.raises(ValueError, match="collapse_repeats"):
        NormalizeOptions(collapse_repeats=0)


def test_normalize_term() -> None:
    assert DEFAULT.normalize_term("薇 信", skeleton=True) == "薇信"
    assert DEFAULT.normalize_term("薇 信", skeleton=False) == "薇 信"
    assert DEFAULT.normalize_term("ＶＸ", skeleton=True) == "vx"
    assert DEFAULT.normalize_term("！！", skeleton=True) == ""


def test_separators() -> None:
    for ch in " 　,，!！-_@*~/|·❤\ufe0f\u20e3\u200d\U0001f600\U0001f3fb\U0001f1e8\n\t":
        assert is_separator(ch), ascii(ch)
    for ch in "a1Z微信ｑ٣ßé\u0301ᄀ가\U00020000":
        assert not is_separator(ch), ascii(ch)


@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow])
@given(text=st.text(alphabet=tricky_char, max_size=60), options=options_st)
def test_normalize_never_raises_and_spans_are_exact(text: str, options: NormalizeOptions) -> None:
    normalizer = Normalizer(options)
    norm = normalizer.normalize(text)
    assert max(norm.kept, default="") < "\ud800" or not any(
        "\ud800" <= c <= "\udfff" for c in norm.kept
    )
    assert norm.spans_exact
    for i in range(len(norm.kept)):
        a, b = norm.kept_span(i, i + 1)
        assert 0 <= a < b <= len(text)
    for i in range(len(norm.skeleton)):
        a, b = norm.skeleton_span(i, i + 1)
        assert 0 <= a < b <= len(text)
    if norm.skeleton:
        a, b = norm.skeleton_span(0, len(norm.skeleton))
        assert a <= b


@settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(unit=st.text(alphabet=tricky_char, min_size=1, max_size=12), options=options_st)
def test_normalize_long_texts(unit: str, options: NormalizeOptions) -> None:
    text = (unit * (10_000 // len(unit) + 1))[:10_000]
    norm = Normalizer(options).normalize(text)
    assert len(norm.kept) <= 10_000 * 18  # NFKC expands by at most 18x
    if norm.skeleton:
        norm.skeleton_span(0, len(norm.skeleton))


def test_many_combining_marks() -> None:
    text = "a" + "\u0301" * 10_000 + "b" + "\u0316\u0301" * 3000
    norm = DEFAULT.normalize(text)
    assert norm.skeleton_span(0, len(norm.skeleton)) == (0, len(text))
    assert norm.spans_exact


def test_kept_is_nfkc_when_text_is() -> None:
    text = "微信ＡＢＣ，好的！"
    assert DEFAULT.normalize(text).kept == unicodedata.normalize("NFKC", text).casefold()


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    texts=st.lists(st.text(alphabet=st.one_of(tricky_char, st.just("\0")), max_size=12),
                   max_size=6),
    options=options_st,
)
def test_a_page_normalised_together_equals_each_text_alone(
    texts: list[str], options: NormalizeOptions
) -> None:
    normalizer = Normalizer(options)
    page = normalizer.normalize_many(texts)
    alone = [normalizer.normalize(text) for text in texts]
    assert [(n.original, n.kept, n.skeleton) for n in page.texts] == [
        (n.original, n.kept, n.skeleton) for n in alone
    ]
    assert page.kept == "\0".join(n.kept for n in alone)
    assert page.skeleton == "\0".join(n.skeleton for n in alone)


@pytest.mark.parametrize("casefold", [True, False])
def test_a_text_the_rare_search_finds_nothing_in_needs_no_case_folding(casefold: bool) -> None:
    """Normalizer.pre folds case only when the rare-character search finds something: every
    code point that search misses must be one the case step leaves alone."""
    normalizer = Normalizer(NormalizeOptions(casefold=casefold))
    case = str.casefold if casefold else (lambda t: t.lower().replace("ς", "σ"))
    finder = normalizer._rare_re
    missed = [
        chr(cp) for cp in range(0x110000)
        if not 0xD800 <= cp <= 0xDFFF and finder.search(chr(cp)) is None
        and case(chr(cp)) != chr(cp)
    ]
    assert missed == []
    assert normalizer.normalize("微信 Straße").kept == case("微信 straße")


_STEPS_ST = st.builds(
    NormalizeOptions,
    nfkc=st.booleans(),
    casefold=st.booleans(),
    strip_invisible=st.booleans(),
    fold_accents=st.booleans(),
    confusables=st.booleans(),
    numerals=st.booleans(),
)


# Numerals, invisible characters, look-alikes (Cyrillic а and А, negative squared 🅗),
# accented and cased letters, characters case folding changes though not upper case (ß ς ﬁ).
_FOLDED = st.sampled_from("一二三零壹Ａа\u0410\U0001f157ÉéΣςßﬁİ\u200bA微 ")


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(text=st.text(st.one_of(_FOLDED, tricky_char), max_size=8), options=_STEPS_ST)
@example(text="微ß", options=NormalizeOptions())
@example(text="一二ς", options=NormalizeOptions(numerals=True, casefold=False))
def test_pre_folds_case_exactly_when_it_changes_something(
    text: str, options: NormalizeOptions
) -> None:
    """Normalizer.pre folds case only when a character it found changes under it (a text
    whose only finds are numerals or invisible characters is not folded): the result is
    the steps applied one after the other to the whole text."""
    normalizer = Normalizer(options)
    case = str.casefold if options.casefold else (lambda t: t.lower().replace("ς", "σ"))
    expected = unicodedata.normalize("NFKC", text) if options.nfkc else text
    fix = normalizer._rare_fix
    expected = case("".join(fix(ch) for ch in expected))
    assert normalizer.pre(text) == expected
