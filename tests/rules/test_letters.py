"""`min_letters` / `max_letters`: letters, digits and Han only (rules-spec.md v1.2)."""

from __future__ import annotations

from pathlib import Path

import pytest

from worker.errors import ConfigError
from worker.rules import load_rules
from worker.rules.model import letter_count

from .helpers import comment, ruleset, write


def test_letters_count_letters_digits_and_han_only() -> None:
    assert letter_count("太棒了太棒了太棒了！！！！！！") == 9
    assert letter_count("good 👍👍 job 100%") == 10
    assert letter_count("   ...  ") == 0


def test_min_letters_ignores_punctuation_that_min_length_counts(tmp_path: Path) -> None:
    rules = ruleset(tmp_path, """
        version: 1
        rules:
          - id: by-letters
            when: {content: {includes: [太棒了], min_letters: 12}}
            then: [elect]
          - id: by-length
            when: {content: {includes: [太棒了], min_length: 12}}
            then: [{reply: "谢谢：{match}"}]
          - id: short
            when: {content: {max_letters: 3, min_letters: 1}}
            then: [unelect]
    """)
    padded = rules.evaluate(comment("太棒了太棒了太棒了！！！！！！"))
    assert padded.matched == ["by-length"]
    long = rules.evaluate(comment("太棒了，这篇把来龙去脉讲得清清楚楚"))
    assert long.matched == ["by-letters", "by-length"]
    # {match} is what the content condition matched, never the text a length measured.
    reply = next(a for a in long.actions if a.type == "reply")
    assert reply.text == "谢谢：太棒了"
    assert rules.evaluate(comment("好！！！！！！！！")).matched == ["short"]
    assert rules.evaluate(comment("好！！！！！！！！")).spans() == {}


def test_letter_bounds_are_checked(tmp_path: Path) -> None:
    write(tmp_path, "rules.yaml", """
        version: 1
        rules:
          - id: r
            when: {content: {min_letters: 5, max_letters: 2}}
            then: [delete]
          - id: s
            when: {content: {max_letters: -1}}
            then: [delete]
          - id: t
            when: {content: {max_letters: 3}}
            then: [{reply: "{match}"}]
    """)
    with pytest.raises(ConfigError) as info:
        load_rules([tmp_path])
    file = tmp_path / "rules.yaml"
    assert [str(p) for p in info.value.problems] == [
        f"{file}:4: rule 'r': when.content: min_letters 5 is greater than max_letters 2",
        f"{file}:7: rule 's': when.content.max_letters: max_letters takes a whole number >= 0, "
        "got -1",
        f"{file}:11: rule 't': then[0]: {{match}} is always empty here: the rule has no content "
        "condition (includes, regex, ...) outside `not` to take it from",
    ]
