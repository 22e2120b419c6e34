"""Rule files: every problem reported at once, located by file, line and rule."""

from __future__ import annotations

from pathlib import Path

import pytest

from worker.errors import ConfigError, Problem
from worker.rules import load_rules

from .helpers import comment, ruleset, write


def problems_of(paths: list[Path], **kwargs: object) -> list[Problem]:
    with pytest.raises(ConfigError) as info:
        load_rules(paths, **kwargs)  # type: ignore[arg-type]
    return info.value.problems


def find(problems: list[Problem], fragment: str) -> Problem:
    for problem in problems:
        if fragment in problem.message:
            return problem
    raise AssertionError(f"no problem mentions {fragment!r}: {[str(p) for p in problems]}")


def test_example_rules_load_and_their_tests_pass(repo_root: Path) -> None:
    rules = load_rules([repo_root / "rules"])
    ids = {rule.id for rule in rules.rules}
    assert {"contact-spam", "gambling-ads", "abuse", "praise-elect", "ad-wave",
            "comment-flood"} <= ids
    assert sum(len(rule.samples) for rule in rules.rules) > 20


def test_every_problem_of_every_file_is_reported_with_its_place(tmp_path: Path) -> None:
    first = write(tmp_path, "a.yaml", """
        version: 1
        lists:
          lures: [加v, 薇信]
        rules:
          - id: one
            priorty: 3
            when:
              content:
                includes: [$lurez]
            then: [delete]
          - id: two
            when:
              content:
                regex: ['(.)\\1{5,}']
            then: [delete]
          - id: three
            platforms: [weibo]
            when:
              content: {includes: [x]}
            then:
              - reply: 谢谢
          - id: four
            when:
              content: {includes: [y]}
            then:
              - reply: "  "
          - id: five
            when:
              content: {includes: [$lures]}
            then: [delete]
            tests:
              match: ["加 v 好友", "完全无关"]
    """)
    second = write(tmp_path, "b.yaml", """
        version: 1
        rules:
          - id: one
            when:
              content: {includes: [z]}
            then: [delet]
    """)
    problems = problems_of([tmp_path])

    unknown_key = find(problems, "unknown key 'priorty'")
    assert "did you mean 'priority'" in unknown_key.message
    assert (unknown_key.file, unknown_key.line, unknown_key.rule) == (str(first), 6, "one")

    unknown_list = find(problems, "unknown list $lurez")
    assert "did you mean 'lures'" in unknown_list.message
    assert unknown_list.line == 9 and unknown_list.rule == "one"

    backref = find(problems, "(.)\\1{5,}")
    assert backref.rule == "two" and backref.line == 14
    assert "backreference" in backref.message.lower()

    platform = find(problems, "not possible on weibo")
    assert platform.rule == "three" and platform.line == 21

    empty = find(problems, "reply needs a non-empty text")
    assert empty.rule == "four" and empty.line == 26

    duplicate = find(problems, "duplicate rule id 'one'")
    assert duplicate.file == str(second) and duplicate.line == 3
    assert f"{first}:5" in duplicate.message


def test_unknown_action_has_a_did_you_mean(tmp_path: Path) -> None:
    write(tmp_path, "r.yaml", """
        version: 1
        rules:
          - id: r
            when: {content: {includes: [x]}}
            then: [delet]
    """)
    problem = find(problems_of([tmp_path]), "unknown action 'delet'")
    assert "did you mean 'delete'" in problem.message and problem.line == 5


def test_a_failing_test_sample_names_the_text_and_what_it_got(tmp_path: Path) -> None:
    write(tmp_path, "r.yaml", """
        version: 1
        rules:
          - id: lure
            when: {content: {includes: [薇信]}}
            then: [delete]
            tests:
              match: ["薇 信 abc", "nothing here"]
              no_match: ["我的薇-信"]
    """)
    problems = problems_of([tmp_path])
    missed = find(problems, "'nothing here' did not match")
    assert missed.line == 7 and missed.rule == "lure"
    wrong = find(problems, "'我的薇-信' matched")
    assert "'薇-信'" in wrong.message and wrong.line == 8
    assert len(problems) == 2


def test_an_empty_file_is_refused_not_read_as_no_rules(tmp_path: Path) -> None:
    write(tmp_path, "good.yaml", """
        version: 1
        rules:
          - id: r
            when: {content: {includes: [x]}}
            then: [delete]
    """)
    (tmp_path / "empty.yaml").write_text("", encoding="utf-8")
    problem = find(problems_of([tmp_path]), "the file is empty")
    assert problem.file == str(tmp_path / "empty.yaml")


def test_missing_version_and_bad_yaml_are_located(tmp_path: Path) -> None:
    write(tmp_path, "a.yaml", """
        rules:
          - id: r
            when: {content: {includes: [x]}}
    """)
    write(tmp_path, "b.yaml", "version: 1\nrules: [\n")
    problems = problems_of([tmp_path])
    assert find(problems, "version: 1 is required").file == str(tmp_path / "a.yaml")
    syntax = find(problems, "invalid YAML")
    assert syntax.file == str(tmp_path / "b.yaml") and syntax.line is not None


def test_lists_from_files_are_relative_to_the_yaml_file(tmp_path: Path) -> None:
    write(tmp_path, "lists/spam.txt", "# comment\n\n博彩\n  网赌  \n")
    rules = ruleset(tmp_path, """
        version: 1
        lists:
          spam: {file: lists/spam.txt}
        rules:
          - id: r
            when: {content: {includes: [$spam]}}
            then: [delete]
    """)
    assert rules.evaluate(comment("这里有网 赌")).matched == ["r"]
    assert rules.evaluate(comment("# comment")).matched == []


def test_lists_are_shared_across_files_and_may_nest(tmp_path: Path) -> None:
    write(tmp_path, "lists.yaml", """
        version: 1
        lists:
          base: [薇信]
          all: [$base, 威信]
    """)
    write(tmp_path, "rules.yaml", """
        version: 1
        rules:
          - id: r
            when: {content: {includes: [$all]}}
            then: [delete]
    """)
    rules = load_rules([tmp_path])
    assert rules.evaluate(comment("薇信")).matched == ["r"]
    assert rules.evaluate(comment("威信")).matched == ["r"]


def test_accounts_are_checked_against_the_config(tmp_path: Path) -> None:
    write(tmp_path, "r.yaml", """
        version: 1
        rules:
          - id: r
            accounts: [main-0a]
            when: {content: {includes: [x]}}
            then: [delete]
    """)
    problem = find(
        problems_of([tmp_path], accounts={"main-oa": "wechat"}), "unknown account 'main-0a'"
    )
    assert "did you mean 'main-oa'" in problem.message


def test_rules_without_platforms_get_a_note_about_partial_actions(tmp_path: Path) -> None:
    rules = ruleset(tmp_path, """
        version: 1
        rules:
          - id: r
            when: {content: {includes: [x]}}
            then: [delete, blacklist]
    """)
    assert any("blacklist applies only on wechat" in note for note in rules.notes)


def test_per_file_and_per_rule_normalisation(tmp_path: Path) -> None:
    rules = ruleset(tmp_path, """
        version: 1
        normalize:
          skip_separators: false
        rules:
          - id: strict
            when: {content: {includes: [薇信]}}
            then: [delete]
          - id: loose
            normalize: {skip_separators: true}
            when: {content: {includes: [威信]}}
            then: [delete]
    """)
    assert rules.evaluate(comment("薇 信")).matched == []
    assert rules.evaluate(comment("薇信")).matched == ["strict"]
    assert rules.evaluate(comment("威 信")).matched == ["loose"]


def test_unquoted_yaml_booleans_in_term_lists_are_refused(tmp_path: Path) -> None:
    write(tmp_path, "r.yaml", """
        version: 1
        rules:
          - id: r
            when: {content: {includes: [yes, ok]}}
            then: [delete]
    """)
    assert "quote it" in find(problems_of([tmp_path]), "is not text").message


def test_when_is_required(tmp_path: Path) -> None:
    write(tmp_path, "r.yaml", """
        version: 1
        rules:
          - id: r
            then: [delete]
    """)
    assert find(problems_of([tmp_path]), "needs a non-empty when").rule == "r"


@pytest.mark.parametrize("char", ["a", "1", "微", " ", "！", "😀"])
def test_a_pathological_comment_against_every_example_rule_completes(
    repo_root: Path, char: str
) -> None:
    """100,000 characters of one repeated character: no rule can make this slow (RE2)."""
    rules = load_rules([repo_root / "rules"])
    decision = rules.evaluate(comment(char * 100_000, author="oX"))
    assert decision.to_dict(spans=True) == {"id": "1", "matched": [], "actions": []}
    spammy = rules.evaluate(comment(char * 50_000 + "加v" + char * 50_000, author="oX"))
    assert spammy.matched == ["contact-spam"]


def test_reply_templates_known_to_fail_are_refused_at_load(tmp_path: Path) -> None:
    long_id = "r" * 295
    path = write(tmp_path, "a.yaml", f"""
        version: 1
        rules:
          - id: no-content
            when: {{author: {{in: [oBad]}}}}
            then:
              - reply: "你说的「{{match}}」"
          - id: {long_id}
            when: {{content: {{includes: [x]}}}}
            then:
              - reply: "规则 {{rule}} 命中了"
          - id: fine
            when: {{content: {{includes: [y]}}}}
            then:
              - reply: "{{match}} {{rule}}"
    """)
    problems = problems_of([path])
    empty = find(problems, "{match} is always empty")
    assert (empty.rule, empty.line) == ("no-content", 6)
    too_long = find(problems, "before {author}, {match} and {content}")
    assert too_long.rule == long_id and "302 characters" in too_long.message
    assert len(problems) == 2
