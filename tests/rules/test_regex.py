"""Rule regexes: Python syntax and meaning, translated for RE2."""

from __future__ import annotations

import re

import pytest
import re2
from hypothesis import given, settings
from hypothesis import strategies as st

from worker.errors import PatternError
from worker.rules.regex import compile_regex, translate


def search(pattern: str, text: str) -> tuple[int, int] | None:
    match = compile_regex(pattern).search(text)
    return None if match is None else match.span()


def matches(pattern: str, text: str) -> bool:
    return search(pattern, text) is not None


def test_unicode_classes_like_python() -> None:
    assert matches(r"\w", "微")
    assert matches(r"^\w+$", "微信abc_123")
    assert matches(r"\d", "٣")  # ARABIC-INDIC DIGIT THREE
    assert matches(r"\s", "\u3000")
    assert not matches(r"\W", "微")
    assert matches(r"\W", "！")
    assert not matches(r"\D", "٣")
    assert not matches(r"\S", "\u3000")
    assert matches(r"[\w]", "信") and matches(r"[^\W]", "信")
    assert matches(r"[^\W\d]", "微") and not matches(r"[^\W\d]", "3")
    assert matches(r"[^\W\d]", "_")  # "_" is a word character and not a digit
    assert matches(r"[\W\d]", "!") and matches(r"[\W\d]", "٣") and not matches(r"[\W\d]", "a")
    assert matches(r"[\S]", "a") and not matches(r"[\S]", " ")
    assert matches(r"[^\s]", "a") and not matches(r"^[^\s]$", "\u2003")
    assert not matches(r"[\D]", "9") and matches(r"[^\D]", "9")


def test_ascii_flag() -> None:
    assert not matches(r"(?a)\w", "微")
    assert matches(r"(?a)\w", "w")
    assert not matches(r"(?a)\d", "٣")


def test_whole_unicode_range_agrees_with_python_for_categories() -> None:
    """\\s, \\d exactly; \\w on every character this Python knows (RE2's tables may be newer)."""
    import unicodedata

    for pattern in (r"\s", r"\d", r"\w", r"[^\W\d]", r"\S"):
        ours = compile_regex(pattern)
        python = re.compile(pattern, re.IGNORECASE)
        for cp in list(range(0, 0x3400)) + list(range(0xA000, 0x20000, 3)):
            if 0xD800 <= cp <= 0xDFFF:
                continue
            ch = chr(cp)
            if unicodedata.category(ch) == "Cn":
                continue
            assert bool(ours.search(ch)) == bool(python.search(ch)), (pattern, hex(cp))


def test_case_insensitive_always() -> None:
    assert matches("ABC", "xabcx")
    assert matches("abc", "ABC")
    assert matches("[A-Z]{3}", "abc")
    assert matches("(?i)QQ", "qq")


def test_escapes() -> None:
    assert matches(r"\u5fae\u4fe1", "加微信")
    assert matches(r"\U00005fae", "微")
    assert matches(r"\x41", "a")
    assert matches(r"\N{BULLET}", "•")
    assert matches(r"[\u5fae\u8587]信", "薇信")
    assert matches(r"\101", "A")
    assert "\\u" not in translate(r"\u5fae")


def test_dot_anchors_and_flags() -> None:
    assert not matches("a.b", "a\nb")
    assert matches("(?s)a.b", "a\nb")
    assert matches("a$", "xa")
    assert matches("a$", "xa\n")  # Python's $ also matches before a final newline
    assert not matches(r"a\Z", "xa\n")
    assert not matches("^b", "a\nb")
    assert matches("(?m)^b", "a\nb")
    assert matches(r"\Aa", "ab") and not matches(r"\Ab", "ab")
    assert matches("(?x) a  b  # comment", "ab")


def test_non_greedy_spans_like_python() -> None:
    assert search("a.*?b", "xaxbxb") == (1, 4)
    assert search("a.*b", "xaxbxb") == (1, 6)
    assert search("(?:ab|a)", "ab") == (0, 2)


@pytest.mark.parametrize(
    ("pattern", "needle"),
    [
        (r"(.)\1{5,}", "backreference"),
        (r"(?P<x>a)(?P=x)", "backreference"),
        (r"qq(?=\d)", "lookahead"),
        (r"qq(?!\d)", "lookahead"),
        (r"(?<=加)v", "lookbehind"),
        (r"(?<!加)v", "lookbehind"),
        (r"(a)?(?(1)b|c)", "conditional"),
        (r"a*+", "possessive"),
        (r"(?>ab)", "atomic"),
        (r"\bvx\b", "includes_word"),
        (r"a\Bb", "includes_word"),
        (r"a{1001}", "1000"),
    ],
)
def test_rejected_constructs(pattern: str, needle: str) -> None:
    with pytest.raises(PatternError, match=needle):
        translate(pattern)


def test_linear_time_message() -> None:
    with pytest.raises(PatternError) as info:
        translate(r"(.)\1")
    assert "linear time" in str(info.value)


@pytest.mark.parametrize(
    ("pattern", "reason", "position"),
    [
        ("(", "missing ), unterminated subpattern", 0),
        ("[a-", "unterminated character set", 0),
        ("a**", "multiple repeat", 2),
        ("*a", "nothing to repeat", 0),
        (r"\p{L}", "bad escape \\p", 0),
        ("(?P<1>a)", "bad character in group name", 4),
        ("ab)", "unbalanced parenthesis", 2),
    ],
)
def test_syntax_errors_carry_pythons_reason(pattern: str, reason: str, position: int) -> None:
    with pytest.raises(PatternError) as info:
        translate(pattern)
    message = str(info.value)
    assert reason in message
    assert f"position {position}" in message


def test_no_absl_logging_for_bad_input(capfd: pytest.CaptureFixture[str]) -> None:
    for pattern in ("(", r"\1", "a{5000}", r"(?<=a)b"):
        with pytest.raises(PatternError):
            compile_regex(pattern)
    assert capfd.readouterr().err == ""


def test_literal_normalisation_hook() -> None:
    pattern = translate(
        "ｑｑ發[Ａ發]", literal=lambda ch: {"ｑ": "q", "發": "发", "Ａ": "a"}.get(ch, ch)
    )
    compiled = re2.compile(pattern)
    assert compiled.search("qq发a") and compiled.search("qq发发")


PATTERNS = [
    r"1[3-9]\d{9}",
    r"q{2}\s*[:：]?\s*\d{5,}",
    r"加?[v微薇威]信?[:：]?\s*\w{3,}",
    r"[^\W\d_]+\d+",
    r"(?:ab|a)(?:bc|c)?",
    r"\S+@\S+",
    r"a.{0,3}?b",
    r"^\w+$",
    r"[\W\d]{2}",
    r"x$",
    r"(?m)^\d",
    r"[^a-c微]{2,}",
]
text_st = st.text(alphabet=st.sampled_from("abcxqv13579_@ 　\n微薇信加：:٣ÅåΣσ！-"), max_size=30)


@settings(max_examples=400, deadline=None)
@given(pattern=st.sampled_from(PATTERNS), text=text_st)
def test_same_first_match_as_python(pattern: str, text: str) -> None:
    python = re.compile(pattern, re.IGNORECASE).search(text)
    ours = compile_regex(pattern).search(text)
    assert (python is None) == (ours is None)
    if python is not None and ours is not None and not pattern.endswith("$"):
        assert ours.span() == python.span()
