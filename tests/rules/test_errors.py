"""Errors point at the entry (rules-spec.md v1.2, issue 16 item 8): the list entry's own line
and file, each pattern once and as written, YAML booleans as written, moderators' words."""

from __future__ import annotations

from pathlib import Path

import pytest

from worker.errors import ConfigError
from worker.rules import load_rules

from .helpers import write

BACKREF = (
    "cannot be used: backreferences (\\1, (?P=name)) need a backtracking engine, and rule "
    "regexes run in linear time; spell the repeated text out, e.g. (.)\\1{5,} -> a "
    "collapse_repeats normalisation or an explicit class repeated"
)


def errors(directory: Path, text: str) -> list[str]:
    write(directory, "rules.yaml", text)
    with pytest.raises(ConfigError) as info:
        load_rules([directory])
    return [str(p) for p in info.value.problems]


def test_a_bad_pattern_in_a_list_is_reported_once_at_its_entry(tmp_path: Path) -> None:
    write(tmp_path, "lists/patterns.txt", """
        # one pattern a line
        ok\\d+
        (a)\\1
    """)
    got = errors(tmp_path, """
        version: 1
        lists:
          bad_patterns:
            - 'fine'
            - '(x)\\1'
          from_file: {file: lists/patterns.txt}
        rules:
          - id: one
            when: {content: {regex: [$bad_patterns, $from_file]}}
            then: [delete]
          - id: two
            when: {content: {regex: [$bad_patterns, '(y)\\1']}}
            then: [delete]
    """)
    assert got == [
        f"{tmp_path / 'rules.yaml'}:5: lists.bad_patterns: '(x)\\1': {BACKREF}",
        f"{tmp_path / 'lists/patterns.txt'}:3: lists.from_file (lists/patterns.txt): "
        f"'(a)\\1': {BACKREF}",
        f"{tmp_path / 'rules.yaml'}:12: rule 'two': when.content.regex: '(y)\\1': {BACKREF}",
    ]


def test_yaml_booleans_and_nulls_are_quoted_as_written(tmp_path: Path) -> None:
    got = errors(tmp_path, """
        version: 1
        lists:
          words: [hello, no, On]
          more:
            - ~
        rules:
          - id: off
            when: {content: {includes: [x]}}
            then: [delete]
    """)
    file = tmp_path / "rules.yaml"
    quote = "is not text; quote it (YAML reads yes/no/on/off and empty values as something else)"
    assert got == [
        f"{file}:3: lists.words: term 'no' {quote}",
        f"{file}:3: lists.words: term 'On' {quote}",
        f"{file}:5: lists.more: term '~' {quote}",
        f"{file}:7: rules[0].id: id 'off' is not text to YAML; quote it",
    ]


def test_did_you_mean_knows_the_words_moderators_type(tmp_path: Path) -> None:
    got = errors(tmp_path, """
        version: 1
        rules:
          - id: r
            platforms: [weixin]
            when:
              any:
                - content: {contains: [a]}
                - content: {contains_word: [b]}
                - content: {regexp: ['c']}
            then: [delete]
          - id: s
            platforms: [wx]
            when: {content: {includes: [a]}}
            then: [delete]
    """)
    file = tmp_path / "rules.yaml"
    assert got == [
        f"{file}:4: rule 'r': platforms: unknown platform 'weixin' (did you mean 'wechat'?)",
        f"{file}:7: rule 'r': when.any[0].content.contains: unknown key 'contains' "
        "(did you mean 'includes'?)",
        f"{file}:8: rule 'r': when.any[1].content.contains_word: unknown key 'contains_word' "
        "(did you mean 'includes_word'?)",
        f"{file}:9: rule 'r': when.any[2].content.regexp: unknown key 'regexp' "
        "(did you mean 'regex'?)",
        f"{file}:12: rule 's': platforms: unknown platform 'wx' (did you mean 'wechat'?)",
    ]
