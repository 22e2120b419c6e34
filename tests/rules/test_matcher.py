"""The matching core: literals on the skeleton / kept text, regexes through re2.Set, spans."""

from __future__ import annotations

import re

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bench.corpus import make_corpus, spam_regexes
from worker.errors import PatternError
from worker.rules.matcher import Matcher, MatcherBuilder, is_word_char
from worker.rules.normalize import NormalizeOptions, Normalizer

from .helpers import spaced_reference

CONTACT_LURES = ["加v", "加微", "薇信", "威信", "vx", "wx", "加我"]
QQ_REGEX = r"q{2}\s*[:：]?\s*\d{5,}"


def build(
    literals: dict[str, list[str]] | None = None,
    regexes: list[str] | None = None,
    options: NormalizeOptions | None = None,
) -> tuple[Matcher, dict[tuple[str, str], int], dict[str, int]]:
    builder = MatcherBuilder(Normalizer(options or NormalizeOptions()))
    lit_ids = {
        (kind, term): builder.add_literal(kind, term)  # type: ignore[arg-type]
        for kind, terms in (literals or {}).items()
        for term in terms
    }
    re_ids = {pattern: builder.add_regex(pattern) for pattern in regexes or []}
    return builder.build(), lit_ids, re_ids


def hit_terms(matcher: Matcher, ids: dict[tuple[str, str], int], text: str) -> set[str]:
    found = matcher.scan(text).literals
    return {term for (_, term), ident in ids.items() if ident in found}


def test_rules_spec_example() -> None:
    matcher, ids, re_ids = build({"includes": [*CONTACT_LURES, "代开发票"]}, [QQ_REGEX])
    for sample in ("加v：abc123456", "薇 信 abc123", "ｑｑ：１２３４５６７８"):
        result = matcher.scan(sample)
        assert result.literals or result.regexes, sample
    assert not hit_terms(matcher, ids, "微信支付很方便")
    assert not matcher.scan("微信支付很方便").regexes
    result = matcher.scan("ｑｑ：１２３４５６７８")
    assert result.regexes == {re_ids[QQ_REGEX]}
    assert result.regex_span(re_ids[QQ_REGEX]) == (0, 11)
    result = matcher.scan("快 薇 信 abc123")
    assert "ｑ" not in result.text.kept
    span = result.literal_span(ids["includes", "薇信"])
    assert "快 薇 信 abc123"[span[0] : span[1]] == "薇 信"


@pytest.mark.parametrize(
    "text",
    ["微信支付很方便", "我的微信号码忘了", "威力很大信心满满", "加油！我们一起", "v xyz", "wxyz"],
)
def test_false_positive_traps(text: str) -> None:
    matcher, ids, _ = build(
        {"includes_word": ["vx", "wx"], "includes": [*CONTACT_LURES[:4], "加我"]}
    )
    hits = hit_terms(matcher, ids, text)
    assert not hits, (text, hits)


def test_includes_word_edges() -> None:
    matcher, ids, _ = build({"includes_word": ["ass", "fuck", "vx", "q群"]})
    assert not hit_terms(matcher, ids, "assistant")
    assert not hit_terms(matcher, ids, "world class")
    assert not hit_terms(matcher, ids, "bass guitar")
    assert not hit_terms(matcher, ids, "café ass1")  # a digit continues a word too
    assert not hit_terms(matcher, ids, "éass")  # so does an accented Latin letter
    assert hit_terms(matcher, ids, "жass") == {"ass"}  # Latin letters and digits only (spec)
    assert hit_terms(matcher, ids, "you ass!") == {"ass"}
    assert hit_terms(matcher, ids, "what the fuck") == {"fuck"}
    assert hit_terms(matcher, ids, "WHAT THE FUCK!!") == {"fuck"}
    assert hit_terms(matcher, ids, "fuck_you") == {"fuck"}
    assert hit_terms(matcher, ids, "加vx好友") == {"vx"}
    assert not hit_terms(matcher, ids, "vxabc")
    assert not hit_terms(matcher, ids, "3vx")
    assert hit_terms(matcher, ids, "ｖｘ：123") == {"vx"}
    # The term ends with 群, which is not a word character: a digit after it continues nothing.
    assert hit_terms(matcher, ids, "加q群123") == {"q群"}
    assert not hit_terms(matcher, ids, "faq群")  # a Latin letter continues the q


def test_word_chars() -> None:
    for ch in "aZ09éßĀẞｚ٣":
        assert is_word_char(ch), ch
    for ch in "微信かカΩжㄱ가_ -!！😀\u0301กª":
        assert not is_word_char(ch), ch


def test_positional_literals() -> None:
    matcher, ids, _ = build(
        {
            "starts_with": ["你好"],
            "ends_with": ["再见"],
            "full_exact": ["好", "ok"],
            "includes": ["好"],
        }
    )
    assert hit_terms(matcher, ids, "你 好呀，再见～") == {"你好", "再见", "好"}
    assert hit_terms(matcher, ids, "  你好") == {"你好", "好"}
    assert hit_terms(matcher, ids, "说你好") == {"好"}
    assert hit_terms(matcher, ids, "好！") == {"好"}
    result = matcher.scan("好！")
    assert result.literals == {ids["full_exact", "好"], ids["includes", "好"]}
    assert result.literal_span(ids["full_exact", "好"]) == (0, 1)
    assert hit_terms(matcher, ids, "OK!!") == {"ok"}
    assert hit_terms(matcher, ids, "再见了") == set()
    result = matcher.scan("你好你好")
    assert result.literal_span(ids["starts_with", "你好"]) == (0, 2)
    assert result.literal_span(ids["includes", "好"]) == (1, 2)


def test_shared_ids_and_empty_terms() -> None:
    builder = MatcherBuilder(Normalizer(NormalizeOptions()))
    a = builder.add_literal("includes", "vx")
    assert builder.add_literal("includes", "ＶＸ") == a
    assert builder.add_literal("includes", "v x") == a
    assert builder.add_literal("includes_word", "vx") != a
    assert builder.add_regex("abc") == builder.add_regex("abc")
    with pytest.raises(PatternError, match="only separators"):
        builder.add_literal("includes", "！！ ")
    with pytest.raises(PatternError, match="invisible"):
        builder.add_literal("includes", "\u200b")
    with pytest.raises(PatternError, match="empty"):
        builder.add_literal("includes", "")
    with pytest.raises(PatternError, match="empty"):
        builder.add_regex("")
    with pytest.raises(PatternError, match="includes_word"):
        builder.add_regex(r"\bvx\b")
    # includes_word keeps separators, so a term of separators only is allowed there.
    builder.add_literal("includes_word", "!!!")


def test_empty_matcher_and_text() -> None:
    matcher, _, _ = build()
    result = matcher.scan("")
    assert not result.literals and not result.regexes
    matcher, _, _ = build({"includes": ["a"], "includes_word": ["b"]}, ["x"])
    assert not matcher.scan("").literals


def test_normalisation_options_apply() -> None:
    matcher, ids, _ = build(
        {"includes": ["发票", "QQ"]},
        options=NormalizeOptions(traditional_to_simplified=True, casefold=False),
    )
    result = matcher.scan("代開發票加qq")
    assert hit_terms(matcher, ids, "代開發票加qq") == {"发票", "QQ"}
    assert result.literal_span(ids["includes", "发票"]) == (2, 4)
    matcher, ids, _ = build({"includes": ["fuuck"]}, options=NormalizeOptions(collapse_repeats=2))
    assert hit_terms(matcher, ids, "fuuuuuuck") == {"fuuck"}
    assert matcher.scan("xfuuuuuuck").literal_span(ids["includes", "fuuck"]) == (1, 10)
    matcher, ids, _ = build({"includes": ["薇信"]}, options=NormalizeOptions(skip_separators=False))
    assert not hit_terms(matcher, ids, "薇 信")


def test_regex_literals_are_normalised_like_the_text() -> None:
    matcher, _, re_ids = build(
        regexes=["ｑｑ", "發票", "straße"], options=NormalizeOptions(traditional_to_simplified=True)
    )
    assert matcher.scan("QQ").regexes == {re_ids["ｑｑ"]}
    assert matcher.scan("发票").regexes == {re_ids["發票"]}
    assert matcher.scan("STRASSE").regexes == {re_ids["straße"]}


def test_regex_sees_kept_text() -> None:
    matcher, _, re_ids = build(regexes=[r"1[3-9](?:[\s.-]?[0-9]){9}", r"\w{2}信"])
    result = matcher.scan("电话：138 1234 5678，加微信")
    assert result.regexes == set(re_ids.values())
    a, b = result.regex_span(re_ids[r"1[3-9](?:[\s.-]?[0-9]){9}"])
    assert "电话：138 1234 5678，加微信"[a:b] == "138 1234 5678"
    a, b = result.regex_span(re_ids[r"\w{2}信"])
    assert "电话：138 1234 5678，加微信"[a:b] == "加微信"
    with pytest.raises(KeyError):
        matcher.scan("nothing").regex_span(0)


SEPARATORS = [
    " ",
    "　",
    ".",
    "*",
    "-",
    "_",
    "@",
    "❤️",
    "😀",
    "👍🏻",
    "\u200b",
    "\u200d",
    "\ufeff",
    "！",
    "，",
]
cjk = st.characters(min_codepoint=0x4E00, max_codepoint=0x9FA5)
latin = st.sampled_from("abcdefghijklmnopqrstuvwxyz0123456789")


@st.composite
def disguised(draw: st.DrawFn) -> tuple[str, str, str, str]:
    """(term, prefix, disguised term, suffix)."""
    chars = draw(st.lists(st.one_of(cjk, latin), min_size=2, max_size=6))
    term = "".join(chars)
    out = []
    for i, char in enumerate(chars):
        ch = char
        if ch.isascii() and ch.isalpha() and draw(st.booleans()):
            ch = ch.upper()
        if ch.isascii() and draw(st.booleans()):
            ch = chr(ord(ch) + 0xFEE0)  # full-width
        out.append(ch)
        if i < len(chars) - 1:
            out.extend(draw(st.lists(st.sampled_from(SEPARATORS), max_size=3)))
    prefix = draw(st.text(alphabet=st.sampled_from("好的。！ 😂"), max_size=5))
    suffix = draw(st.text(alphabet=st.sampled_from("好的。！ 😂"), max_size=5))
    return term, prefix, "".join(out), suffix


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(case=disguised())
def test_disguised_terms_match_with_exact_span(case: tuple[str, str, str, str]) -> None:
    term, prefix, hidden, suffix = case
    matcher, ids, _ = build({"includes": [term]})
    text = prefix + hidden + suffix
    result = matcher.scan(text)
    ident = ids["includes", term]
    assert ident in result.literals, (term, text)
    start, end = result.literal_span(ident)
    # The prefix/suffix alphabets cannot contain the term, so the first occurrence is ours.
    assert text[start:end] == hidden, (text, text[start:end], hidden)


def test_pathological_input_completes() -> None:
    regexes = [*spam_regexes(100), r"(a+)+$", r"^(\w+\s?)*$", r"(x+x+)+y", r"a{1,1000}b"]
    terms = ["aa", "aaa", "哈哈", "a" * 50, "微信"]
    matcher, _, _ = build({"includes": terms, "includes_word": ["aaa"]}, regexes)
    for ch in ("a", "哈", "1", " ", "😀"):
        result = matcher.scan(ch * 100_000)
        for ident in result.literals:
            result.literal_span(ident)
        for ident in result.regexes:
            result.regex_span(ident)


def test_agrees_with_brute_force_on_the_corpus() -> None:
    corpus = make_corpus(n_comments=1500, n_cn_terms=1500, n_en_terms=100, hit_rate=0.2)
    normalizer = Normalizer(NormalizeOptions())
    builder = MatcherBuilder(normalizer)
    inc = {
        builder.add_literal("includes", t): normalizer.normalize_term(t, skeleton=True)
        for t in corpus.cn_terms
    }
    word = {
        builder.add_literal("includes_word", t): normalizer.normalize_term(t, skeleton=False)
        for t in corpus.en_terms
    }
    rex = {builder.add_regex(p): re.compile(p, re.IGNORECASE) for p in corpus.regexes}
    matcher = builder.build()
    total = 0
    for comment in corpus.comments:
        result = matcher.scan(comment)
        norm = result.text
        expected = {i for i, t in inc.items() if t in norm.skeleton}
        expected |= {
            i
            for i, t in word.items()
            if re.search(rf"(?<![^\W_]){re.escape(t)}(?![^\W_])", norm.kept, re.ASCII)
            or (t in norm.skeleton and spaced_reference(norm.kept, t))
        }
        assert result.literals == expected, comment
        assert result.regexes == {i for i, r in rex.items() if r.search(norm.kept)}, comment
        total += len(result.literals) + len(result.regexes)
    assert total > 100


def test_a_builder_builds_once() -> None:
    """build() hands the literals over (the matcher lets go of them before its automaton is
    built), so the builder refuses to build again or take more terms."""
    builder = MatcherBuilder(Normalizer(NormalizeOptions()))
    builder.add_literal("includes", "微信")
    matcher = builder.build()
    assert matcher.scan("加微信").literals == {0}
    with pytest.raises(ValueError, match="built its Matcher already"):
        builder.add_literal("includes", "扣扣")
    with pytest.raises(ValueError, match="built its Matcher already"):
        builder.build()
