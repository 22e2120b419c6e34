"""Matching v2 (issue 13): allow, spaced-out words, numerals, confusables, sounds_like."""

from __future__ import annotations

import json
import re
import unicodedata
from importlib import resources
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from worker.errors import ConfigError, PatternError, Problem
from worker.rules import load_rules, spaced
from worker.rules.matcher import LiteralKind, Matcher, MatcherBuilder, is_word_char
from worker.rules.normalize import NUMERALS, NormalizeOptions, Normalizer
from worker.rules.sounds_like import sound_of
from worker.rules.spaced import spaced_runs

from .helpers import comment, ruleset, spaced_reference

DEFAULT = Normalizer()
NUMERAL_OPTIONS = NormalizeOptions(numerals=True)


def scan_terms(
    literals: dict[str, list[str]],
    text: str,
    *,
    allow: list[str] | None = None,
    regexes: list[str] | None = None,
    options: NormalizeOptions | None = None,
) -> dict[str, str]:
    """term -> the original text of its (first remaining) hit."""
    builder = MatcherBuilder(Normalizer(options or NormalizeOptions()))
    allow_ids = frozenset(builder.add_allow(t) for t in allow or [])
    ids: dict[int, str] = {}
    for kind, terms in literals.items():
        for term in terms:
            ids[builder.add_literal(kind, term, allow=allow_ids)] = term  # type: ignore[arg-type]
    re_ids = {builder.add_regex(p, allow=allow_ids): p for p in regexes or []}
    result = builder.build().scan(text)
    found: dict[str, str] = {}
    for ident in result.literals:
        start, end = result.literal_span(ident)
        found[ids[ident]] = text[start:end]
    for ident in result.regexes:
        start, end = result.regex_span(ident)
        found[re_ids[ident]] = text[start:end]
    return found


# -- confusables ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "term", "span"),
    [
        ("🅥🅧：abc123456", "vx", "🅥🅧"),  # negative circled letters: NFKC leaves them alone
        ("加🆅🆇好友", "vx", "🆅🆇"),  # negative squared letters
        ("vх", "vx", "vх"),  # Cyrillic х
        ("加ѴХ", "vx", "ѴХ"),  # Cyrillic capitals
        ("ΑΒС", "abc", "ΑΒС"),  # Greek and Cyrillic capitals
        ("fυcΚ", "fuck", "fυcΚ"),  # Greek upsilon and capital kappa
    ],
)
def test_confusables_fold_to_latin_with_exact_spans(text: str, term: str, span: str) -> None:
    assert scan_terms({"includes": [term]}, text) == {term: span}
    off = NormalizeOptions(confusables=False)
    assert scan_terms({"includes": [term]}, text, options=off) == {}


def test_confusables_never_fold_han_and_keep_digits_and_operators() -> None:
    assert DEFAULT.normalize("丨〇口").kept == "丨〇口"  # Han look-alikes of l, O and D
    assert DEFAULT.normalize("٣٤٥").kept == "٣٤٥"
    assert DEFAULT.normalize("3×4").skeleton == "34"  # × stays a separator
    assert scan_terms({"includes": ["微信"]}, "微×信") == {"微信": "微×信"}
    assert DEFAULT.normalize("🇨🇳").skeleton == ""  # regional indicators make flags


def test_confusables_table_is_one_latin_character_for_one() -> None:
    text = resources.files("worker").joinpath("data/confusables_latin.txt").read_text("utf-8")
    header = [line for line in text.splitlines() if line.startswith("#")]
    assert any("confusables.txt version 13.0.0" in line for line in header)
    rows = [line for line in text.splitlines() if line and not line.startswith("#")]
    assert len(rows) > 300
    for row in rows:
        source, target = row[0], row[1:]
        assert not source.isascii() and target.isascii() and target.isalnum(), row
        assert target == target.lower(), row
        assert "CJK" not in unicodedata.name(source, ""), row
        assert unicodedata.normalize("NFKC", source) == source, row


# -- numerals ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "span"),
    [
        ("加我一五一九四四五七六九零", "一五一九四四五七六九零"),
        ("电话：壹叁捌壹贰叁肆伍陆柒捌", "壹叁捌壹贰叁肆伍陆柒捌"),
        ("电话 一三八 〇〇一三 八〇〇〇", "一三八 〇〇一三 八〇〇〇"),
        ("拨壹叁捌〇〇壹叁捌〇〇〇", "壹叁捌〇〇壹叁捌〇〇〇"),
    ],
)
def test_numerals_become_digits_one_for_one(text: str, span: str) -> None:
    phone = r"1[3-9](?:[\s.-]?\d){9}"
    assert scan_terms({}, text, regexes=[phone], options=NUMERAL_OPTIONS) == {phone: span}
    assert scan_terms({}, text, regexes=[phone]) == {}


def test_numerals_step_maps_exactly_the_listed_characters() -> None:
    numerals = Normalizer(NUMERAL_OPTIONS)
    assert numerals.normalize("〇零一二三四五六七八九").kept == "00123456789"
    assert numerals.normalize("壹贰叁肆伍陆柒捌玖貳參陸").kept == "123456789236"
    assert numerals.normalize("十百千万两").kept == "十百千万两"
    assert set(NUMERALS) == set("〇零一二三四五六七八九壹贰叁肆伍陆柒捌玖貳參陸")
    # with traditional_to_simplified too: 參 is read as a numeral before t2s makes it 参
    both = Normalizer(NormalizeOptions(numerals=True, traditional_to_simplified=True))
    assert both.normalize("參").kept == "3"


def test_word_edges_are_judged_as_if_numerals_were_off() -> None:
    words = {"includes_word": ["vx"]}
    assert scan_terms(words, "加vx一起", options=NUMERAL_OPTIONS) == {"vx": "vx"}
    assert scan_terms(words, "一vx", options=NUMERAL_OPTIONS) == {"vx": "vx"}
    assert scan_terms(words, "v x一起", options=NUMERAL_OPTIONS) == {"vx": "v x"}
    assert scan_terms(words, "加vx1起", options=NUMERAL_OPTIONS) == {}
    assert scan_terms(words, "加vx１起", options=NUMERAL_OPTIONS) == {}  # full-width 1 is a digit


# -- spaced-out words ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "term", "span"),
    [
        ("s-h-i-t", "shit", "s-h-i-t"),
        ("f u c k", "fuck", "f u c k"),
        ("F.U.C.K", "fuck", "F.U.C.K"),
        ("s_h_i_t", "shit", "s_h_i_t"),
        ("f u c k you", "fuck", "f u c k"),
        ("what the f  u  c  k!", "fuck", "f  u  c  k"),
        ("加 v x 好友", "vx", "v x"),
        ("ｆ　ｕ　ｃ　ｋ", "fuck", "ｆ　ｕ　ｃ　ｋ"),
        ("f\u200bu\u200bc\u200bk", "fuck", "f\u200bu\u200bc\u200bk"),
    ],
)
def test_spaced_out_words_hit(text: str, term: str, span: str) -> None:
    assert scan_terms({"includes_word": [term]}, text) == {term: span}


@pytest.mark.parametrize(
    ("text", "term"),
    [
        ("a.s.s.e.t", "ass"),
        ("c l a s s", "ass"),
        ("x f u c k", "fuck"),  # the run spells xfuck
        ("f u c kyou", "fuck"),  # k continues into a word: the run spells fuc
        ("fu ck", "fuck"),  # not single characters
        ("f u 的 c k", "fuck"),  # a Han character breaks the run
        ("s h i t s h o w", "shit"),
    ],
)
def test_spaced_out_run_must_be_the_whole_word(text: str, term: str) -> None:
    assert scan_terms({"includes_word": [term]}, text) == {}


_SPACED_ALPHABET = st.sampled_from([*"abfuck", " ", ".", "-", "_", "的", "x"])


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(text=st.text(_SPACED_ALPHABET, max_size=14), term=st.sampled_from(["fuck", "ab", "uc"]))
def test_spaced_runs_agree_with_brute_force(text: str, term: str) -> None:
    found = any(word == term for word, _, _ in spaced_runs(text, lambda p: is_word_char(text[p])))
    assert found == spaced_reference(text, term)


# Word characters of several scripts and blocks (accented Latin, Arabic-Indic and Osmanya
# digits, a mathematical letter), separators inside and outside the slow astral block, Han,
# kana, emoji: what the one-search check before the character-by-character one must not miss.
_RUN_ALPHABET = st.sampled_from(
    [*"aZé9ß٣", "\U000104a0", "\U0001d41f", " ", "-", "\u3000", "\U00010100", "\U0001d100",
     "😀", "\u200b", "的", "あ", "\uf900", "\0"]
)


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(text=st.text(_RUN_ALPHABET, max_size=10))
def test_spaced_runs_skip_only_texts_without_a_run(text: str) -> None:
    def is_word(p: int) -> bool:
        return is_word_char(text[p])

    assert list(spaced_runs(text, is_word)) == list(spaced._runs(text, is_word))


# -- allow ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("term", "allow", "innocent", "guilty", "span"),
    [
        ("口交", "路口交通", "前面路口交通拥堵", "路口交通，口交", "口交"),
        ("黄片", "三黄片", "三黄片是中药", "三黄片和黄片", "黄片"),
        ("干", "干嘛", "你在干嘛", "干死你", "干"),
    ],
)
def test_allow_terms_cancel_hits_inside_them(
    term: str, allow: str, innocent: str, guilty: str, span: str
) -> None:
    assert scan_terms({"includes": [term]}, innocent, allow=[allow]) == {}
    assert scan_terms({"includes": [term]}, innocent) == {term: term}
    assert scan_terms({"includes": [term]}, guilty, allow=[allow]) == {term: span}
    builder = MatcherBuilder(DEFAULT)
    ident = builder.add_literal("includes", term, allow=frozenset({builder.add_allow(allow)}))
    start, end = builder.build().scan(guilty).literal_span(ident)
    assert (start, end) == (guilty.rindex(span), guilty.rindex(span) + len(span))  # not inside


def test_allow_skips_separators_and_reports_a_remaining_hit() -> None:
    text = "路 口-交通，口 交"
    assert scan_terms({"includes": ["口交"]}, text, allow=["路口交通"]) == {"口交": "口 交"}
    assert scan_terms({"includes": ["口交"]}, "路 口-交通", allow=["路口交通"]) == {}


def test_allow_applies_to_every_matcher_of_its_map() -> None:
    assert scan_terms({"includes_word": ["sb"]}, "usb sb", allow=["sb 接口"]) == {"sb": "sb"}
    assert scan_terms({"includes_word": ["vx"]}, "vx群主", allow=["vx群"]) == {}
    assert scan_terms({"starts_with": ["干"]}, "干嘛呢", allow=["干嘛"]) == {}
    assert scan_terms({"ends_with": ["黄片"]}, "买三黄片", allow=["三黄片"]) == {}
    assert scan_terms({"full_exact": ["干"]}, "干", allow=["干"]) == {}
    pattern = r"\d{5,}"
    assert scan_terms({}, "订单12345678", allow=["订单12345678"], regexes=[pattern]) == {}
    found = scan_terms({}, "订单12345678 q 99999", allow=["订单12345678"], regexes=[pattern])
    assert found == {pattern: "99999"}
    assert scan_terms({"sounds_like": ["微信"]}, "维新变法", allow=["维新"]) == {}
    assert scan_terms({"sounds_like": ["微信"]}, "维新 威信", allow=["维新"]) == {"微信": "威信"}


def test_allow_in_rules_keeps_the_map_and(tmp_path: Path) -> None:
    rules = ruleset(tmp_path, """
        version: 1
        rules:
          - id: sexual
            when:
              content:
                includes: [口交, 黄片]
                allow: [路口交通, 三黄片]
            then: [delete]
            tests:
              match: ["路口交通，口交", 黄片]
              no_match: [前面路口交通拥堵, 三黄片是中药]
          - id: both
            when:
              content:
                includes: [口交]
                regex: ['\\d{3}']
                allow: [路口交通]
            then: [delete]
    """)
    decision = rules.evaluate(comment("路口交通，口交"))
    assert decision.matched == ["sexual"]
    assert decision.span("sexual") is not None
    assert decision.span("sexual").text == "口交"  # type: ignore[union-attr]
    assert rules.evaluate(comment("路口交通123")).matched == []  # includes cancelled: AND fails
    assert rules.evaluate(comment("口交123")).matched == ["sexual", "both"]


# -- sounds_like ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "span"),
    [("维信", "维信"), ("威信", "威信"), ("薇信", "薇信"), ("威辛abc", "威辛"),
     ("加 维-信 好友", "维-信"), ("快加薇❤️芯", "薇❤️芯"), ("維信", "維信")],
)
def test_sounds_like_hits_homophones(text: str, span: str) -> None:
    assert scan_terms({"sounds_like": ["微信"]}, text) == {"微信": span}


@pytest.mark.parametrize("text", ["微博", "心", "weird", "weixin", "为了新年", "维 X 信"])
def test_sounds_like_misses_other_sounds(text: str) -> None:
    assert scan_terms({"sounds_like": ["微信", "西"]}, text) == {}
    expected = {"微": text[0]} if text[0] in "微维为" else {}
    assert scan_terms({"sounds_like": ["微"]}, text) == expected


def test_sounds_like_latin_letters_are_themselves_and_words_are_units() -> None:
    assert scan_terms({"sounds_like": ["加v"]}, "家v") == {"加v": "家v"}
    assert scan_terms({"sounds_like": ["加v"]}, "佳V信") == {"加v": "佳V"}
    assert scan_terms({"sounds_like": ["加v"]}, "家vx") == {}
    assert scan_terms({"sounds_like": ["v信"]}, "好v芯") == {"v信": "v芯"}
    assert scan_terms({"sounds_like": ["v信"]}, "av芯") == {}


def test_sounds_like_needs_a_han_character() -> None:
    builder = MatcherBuilder(DEFAULT)
    with pytest.raises(PatternError, match="no Chinese character"):
        builder.add_literal("sounds_like", "vx")


# -- properties ----------------------------------------------------------------------------

_ALPHABET = st.sampled_from(list("口交路通黄片三干嘛ab维微信新 ,.-"))
_TERMS = st.lists(st.text(_ALPHABET, min_size=1, max_size=3).filter(str.strip), max_size=4)
_KINDS: list[LiteralKind] = ["includes", "includes_word", "starts_with", "sounds_like"]


def _builder_with(
    terms: list[str], allow: list[str]
) -> tuple[Matcher, dict[int, tuple[LiteralKind, str]]]:
    builder = MatcherBuilder(DEFAULT)
    allow_ids = frozenset(builder.add_allow(t) for t in allow if DEFAULT.normalize(t).skeleton)
    ids: dict[int, tuple[LiteralKind, str]] = {}
    for kind in _KINDS:
        for term in terms:
            try:
                ids[builder.add_literal(kind, term, allow=allow_ids)] = (kind, term)
            except PatternError:
                continue
    return builder.build(), ids


def _hits(matcher: Matcher, ids: dict[int, tuple[LiteralKind, str]], text: str) -> set[object]:
    return {ids[i] for i in matcher.scan(text).literals}


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(text=st.text(_ALPHABET, max_size=16), terms=_TERMS, allow=_TERMS)
def test_allow_never_adds_a_hit(text: str, terms: list[str], allow: list[str]) -> None:
    with_allow, ids_a = _builder_with(terms, allow)
    without, ids_b = _builder_with(terms, [])
    assert _hits(with_allow, ids_a, text) <= _hits(without, ids_b, text)


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(text=st.text(_ALPHABET, max_size=16), terms=_TERMS)
def test_allow_terms_that_never_match_change_nothing(text: str, terms: list[str]) -> None:
    guarded, ids_a = _builder_with(terms, ["从未出现"])
    plain, ids_b = _builder_with(terms, [])
    assert _hits(guarded, ids_a, text) == _hits(plain, ids_b, text)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(text=st.text(_ALPHABET, max_size=16), terms=_TERMS, allow=_TERMS)
def test_every_span_normalises_to_a_matching_string(
    text: str, terms: list[str], allow: list[str]
) -> None:
    matcher, ids = _builder_with(terms, allow)
    result = matcher.scan(text)
    for ident in result.literals:
        kind, term = ids[ident]
        start, end = result.literal_span(ident)
        piece = DEFAULT.normalize(text[start:end])
        wanted = DEFAULT.normalize_term(term, skeleton=True)
        if kind == "sounds_like":  # the span sounds like the term
            assert sound_of(piece.skeleton) == sound_of(wanted)
        else:  # includes, starts_with, includes_word (spaced out or not): the term itself
            assert piece.skeleton == wanted


_FULL_KINDS: list[LiteralKind] = ["includes", "starts_with", "ends_with", "full_exact"]


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(text=st.text(_ALPHABET, max_size=16), terms=_TERMS)
def test_without_allow_terms_hits_are_v1s(text: str, terms: list[str]) -> None:
    # v1's meaning, written out: the term's skeleton in, at the start of, at the end of, or
    # equal to the comment's skeleton.
    builder = MatcherBuilder(DEFAULT)
    ids: dict[int, tuple[LiteralKind, str]] = {}
    for kind in _FULL_KINDS:
        for term in terms:
            if DEFAULT.normalize_term(term, skeleton=True):
                ids[builder.add_literal(kind, term)] = (kind, term)
    skeleton = DEFAULT.normalize(text).skeleton

    def v1(kind: LiteralKind, term: str) -> bool:
        wanted = DEFAULT.normalize_term(term, skeleton=True)
        if kind == "starts_with":
            return skeleton.startswith(wanted)
        if kind == "ends_with":
            return skeleton.endswith(wanted)
        return wanted == skeleton if kind == "full_exact" else wanted in skeleton

    expected = {i for i, (kind, term) in ids.items() if v1(kind, term)}
    assert builder.build().scan(text).literals == expected


_PATTERNS = ["ab", "a.?b", "黄片|三黄", "[维微]信", r"\w{3}"]


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(text=st.text(_ALPHABET, max_size=16), allow=_TERMS)
def test_every_regex_span_normalises_to_a_match(text: str, allow: list[str]) -> None:
    builder = MatcherBuilder(DEFAULT)
    allow_ids = frozenset(builder.add_allow(t) for t in allow if DEFAULT.normalize(t).skeleton)
    ids = {builder.add_regex(p, allow=allow_ids): p for p in _PATTERNS}
    result = builder.build().scan(text)
    for ident in result.regexes:
        start, end = result.regex_span(ident)
        kept = DEFAULT.normalize(text[start:end]).kept
        assert re.fullmatch(ids[ident], kept, re.IGNORECASE), (text, ids[ident], kept)


# -- loader --------------------------------------------------------------------------------


def _problems(tmp_path: Path, text: str) -> list[Problem]:
    with pytest.raises(ConfigError) as info:
        ruleset(tmp_path, text)
    return info.value.problems


def test_located_errors_for_misuse(tmp_path: Path) -> None:
    problems = _problems(tmp_path, """
        version: 1
        rules:
          - id: outside
            when:
              allow: [维新]
              content: {includes: [x]}
            then: [delete]
          - id: nothing-to-excuse
            when:
              content:
                min_length: 3
                allow: [维新]
            then: [delete]
          - id: latin-sound
            when:
              content:
                sounds_like: [微信, vx]
            then: [delete]
          - id: step
            normalize: {numeral: true}
            when:
              content: {includes: [x]}
            then: [delete]
    """)
    by_rule = {p.rule: p for p in problems}
    assert "inside a content map" in by_rule["outside"].message
    assert by_rule["outside"].line == 5
    assert "has none" in by_rule["nothing-to-excuse"].message
    assert by_rule["nothing-to-excuse"].line == 12
    assert "no Chinese character" in by_rule["latin-sound"].message
    assert by_rule["latin-sound"].line == 17
    assert "unknown key 'numeral'" in by_rule["step"].message
    assert "numerals" in by_rule["step"].message
    assert by_rule["step"].line == 20


def test_sounds_like_span_in_replay_and_rule_tests(tmp_path: Path) -> None:
    rules = ruleset(tmp_path, """
        version: 1
        rules:
          - id: lure
            normalize: {numerals: true}
            when:
              any:
                - content: {sounds_like: [微信], allow: [维新]}
                - content: {regex: ['1[3-9](?:[\\s.-]?\\d){9}']}
            then: [delete]
            tests:
              match: [加维信好友, 电话一三八一二三四五六七八]
              no_match: [戊戌维新, 微博]
    """)
    decision = rules.evaluate(comment("快加 维信 好友"))
    assert decision.to_dict(spans=True)["spans"] == {"lure": [3, 5, "维信"]}


def test_a_failing_sample_of_a_new_key_is_reported(tmp_path: Path) -> None:
    problems = _problems(tmp_path, """
        version: 1
        rules:
          - id: lure
            when:
              content: {sounds_like: [微信], allow: [维新]}
            then: [delete]
            tests:
              no_match: [维信]
    """)
    assert "matched at '维信'" in problems[0].message


def test_example_rules_use_the_new_keys(repo_root: Path) -> None:
    rules = load_rules([repo_root / "rules"])
    contact = rules.rule("contact-spam")
    assert contact.normalize is not None and contact.normalize.numerals
    samples = ("加我一五一九四四五七六九零", "电话：壹叁捌壹贰叁肆伍陆柒捌", "🅥🅧：abc", "威辛abc")
    for text in samples:
        assert "contact-spam" in rules.evaluate(comment(text)).matched, text


def test_replay_spans_and_match_template_for_new_keys(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from worker.cli import main

    (tmp_path / "rules").mkdir()
    (tmp_path / "rules" / "r.yaml").write_text(
        "version: 1\n"
        "rules:\n"
        "  - id: lure\n"
        "    normalize: {numerals: true}\n"
        "    when:\n"
        "      any:\n"
        "        - content: {sounds_like: [微信], allow: [微信, 维新]}\n"
        "        - content: {regex: ['1[3-9]\\d{9}']}\n"
        "        - content: {includes_word: [vx]}\n"
        "    then: [{reply: '请勿发布{match}'}]\n",
        encoding="utf-8",
    )
    config = tmp_path / "config.yaml"
    config.write_text("rules: [rules/]\n", encoding="utf-8")
    source = tmp_path / "in.jsonl"
    lines = ["快加维信", "电话一三八〇〇一三八〇〇〇", "🅥🅧：abc", "戊戌维新和微信"]
    source.write_text(
        "".join(json.dumps({"id": str(i), "content": t}) + "\n" for i, t in enumerate(lines)),
        encoding="utf-8",
    )
    assert main(["replay", "-c", str(config), "--input", str(source), "--spans"]) == 0
    out = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [o.get("spans") for o in out] == [
        {"lure": [2, 4, "维信"]},
        {"lure": [2, 13, "一三八〇〇一三八〇〇〇"]},
        {"lure": [0, 2, "🅥🅧"]},
        None,
    ]
    assert out[0]["actions"][0]["text"] == "请勿发布维信"
    assert out[3]["matched"] == []


def test_the_pinyin_table_is_pypinyins_first_reading() -> None:
    """The shipped table (tools/gen_pinyin.py) says what pypinyin's does, character for
    character: a newer pypinyin with other readings makes this fail until it is generated
    again."""
    import unicodedata

    from pypinyin.pinyin_dict import pinyin_dict

    from worker.rules.sounds_like import _chars_by_syllable, syllables

    expected: dict[str, str] = {}
    for cp, readings in pinyin_dict.items():
        first = readings.split(",")[0].strip()
        if first:
            bare = "".join(c for c in unicodedata.normalize("NFD", first)
                           if c not in "\u0300\u0301\u0304\u030c")
            expected[chr(cp)] = unicodedata.normalize("NFC", bare).replace("ü", "v")
    shipped = {ch: syllable for syllable, chars in _chars_by_syllable().items() for ch in chars}
    assert shipped == expected
    assert syllables(sound_of("微信绿")) == "wei xin lv"
    assert syllables(sound_of("女")) == "nv"


def test_comments_without_a_terms_first_syllable_skip_the_sound() -> None:
    from worker.rules.sounds_like import needed_finder

    finder = needed_finder([sound_of("微信"), sound_of("加v")])
    assert finder is not None
    assert finder.search("为") and finder.search("家") and finder.search("威")
    assert not finder.search("信") and not finder.search("你好吗")  # 信 is not a first syllable
    # many terms: nearly every comment would need the sound, so no check is made
    assert needed_finder([sound_of("微信")], max_share=0.0) is None


@settings(max_examples=200, deadline=None)
@given(text=st.text(st.sampled_from([*"微维信新ab1 ", "\0", "😀", "𠀀", "\ud800", "\uffff"])))
def test_a_page_sound_equals_the_translated_sound(text: str) -> None:
    from worker.rules.sounds_like import sound_of_page

    assert sound_of_page(text) == sound_of(text)
