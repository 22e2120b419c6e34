"""Rule files that would exhaust or hang a worker are refused as located problems, fast."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from worker.errors import ConfigError, Problem
from worker.rules import load_rules

from .helpers import write

RULE = """
rules:
  - id: r
    when: {content: {regex: [$terms]}}
    then: [delete]
"""


def problems_of(paths: list[Path]) -> list[Problem]:
    with pytest.raises(ConfigError) as info:
        load_rules(paths)
    return info.value.problems


def only(problems: list[Problem]) -> Problem:
    assert len(problems) == 1, [str(p) for p in problems]
    return problems[0]


def list_rules(directory: Path, target: str) -> Path:
    return write(directory, "rules/r.yaml", f"version: 1\nlists:\n  terms: {{file: {target}}}\n"
                 + RULE)


def test_an_alias_bomb_is_refused_at_its_first_alias(tmp_path: Path) -> None:
    levels = ['a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]']
    for this, prev in zip("bcdefghi", "abcdefgh", strict=True):
        levels.append(f"{this}: &{this} [{','.join(['*' + prev] * 9)}]")
    path = write(tmp_path, "bomb.yaml", "version: 1\nlists:\n" + "".join(
        f"  {line}\n" for line in levels))
    assert len(path.read_bytes()) < 700
    problem = only(problems_of([path]))
    assert problem.file == str(path) and problem.line == 4
    assert "aliases (*name) are not allowed" in problem.message


def test_deep_nesting_is_refused_with_its_line(tmp_path: Path) -> None:
    path = write(tmp_path, "deep.yaml", "version: 1\nlists:\n  x: " + "[" * 5000 + "\n")
    problem = only(problems_of([path]))
    assert problem.file == str(path) and problem.line == 3
    assert "nested more than 64 levels deep" in problem.message


def test_an_oversized_rule_file_is_refused_unread(tmp_path: Path) -> None:
    path = write(tmp_path, "big.yaml", "version: 1\n" + "# padding\n" * 120_000)
    problem = only(problems_of([path]))
    assert problem.file == str(path) and "at most 1,048,576 are read" in problem.message


def test_list_files_must_be_regular_files_inside_the_rule_directory(tmp_path: Path) -> None:
    (tmp_path / "rules").mkdir()
    os.mkfifo(tmp_path / "rules" / "fifo")  # opening it for reading would block forever
    for target, expected in [
        ("/dev/zero", "outside the rule directory"),
        ("../config.yaml", "outside the rule directory"),
        ("fifo", "not a regular file"),
        ("missing.txt", "cannot read list file"),
    ]:
        path = list_rules(tmp_path, target)
        problem = problems_of([tmp_path / "rules"])[0]  # then: regex has no terms
        assert problem.file == str(path) and problem.line == 3, str(problem)
        assert expected in problem.message, str(problem)


def test_a_device_inside_the_rule_directory_is_not_read(tmp_path: Path) -> None:
    (tmp_path / "rules").mkdir()
    (tmp_path / "rules" / "zero").symlink_to("/dev/zero")
    list_rules(tmp_path, "zero")
    assert "outside the rule directory" in problems_of([tmp_path / "rules"])[0].message
    # A rule file given directly may not be a device either.
    assert "not a regular file" in only(problems_of([Path("/dev/zero")])).message


def test_long_list_lines_are_never_echoed_into_problems(tmp_path: Path) -> None:
    # A file holding a secret (here, inside the rule directory) used as a regex list: every
    # bad line is a problem at its own line; a long one without its text, a short one (a term
    # or a small pattern, which the moderator needs to see) quoted.
    write(tmp_path, "rules/conf.txt", "url: redis://:s3cr3t-pass@db:6379/0 (\nok\n[oops\n")
    list_rules(tmp_path, "conf.txt")
    problems = problems_of([tmp_path / "rules"])
    assert [(p.file, p.line) for p in problems] == [
        (str(tmp_path / "rules" / "conf.txt"), 1), (str(tmp_path / "rules" / "conf.txt"), 3)]
    assert "s3cr3t" not in str(problems[0]) and "invalid regex" in problems[0].message
    assert problems[1].message.startswith("'[oops': ")


def test_an_oversized_list_file_is_refused(tmp_path: Path) -> None:
    write(tmp_path, "rules/huge.txt", ("词" * 99 + "\n") * 30_000)  # 9 MB
    path = list_rules(tmp_path, "huge.txt")
    problem = problems_of([tmp_path / "rules"])[0]
    assert problem.file == str(path) and "at most 8,388,608 are read" in problem.message


def test_regexes_past_the_program_budget_are_located_problems(tmp_path: Path) -> None:
    # Each \w{300} compiles to ~400,000 RE2 instructions: the sixth goes over the budget, and
    # the rest are not compiled at all (before: 18 s and 750 MB, then a failed set build).
    patterns = "".join(f"      - '\\w{{300}}x{i}'\n" for i in range(40))
    path = write(tmp_path, "big.yaml", "version: 1\nrules:\n  - id: r\n    when:\n"
                 "      content:\n        regex:\n" + patterns.replace("      -", "          -")
                 + "    then: [delete]\n")
    problems = problems_of([path])
    assert 30 <= len(problems) <= 36
    first = problems[0]
    assert first.file == str(path) and first.rule == "r" and first.line is not None
    assert "at most 2,000,000 RE2 instructions" in first.message


def test_list_terms_are_released_before_the_automata_are_built(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The terms of list files (each with its file and line, for problems) are dropped before
    the matchers are built: that build is the peak of a load's memory."""
    import gc

    from worker.rules import matcher
    from worker.rules.loader.lists import TermList

    write(tmp_path, "rules/lists/words.txt", "\n".join(f"词{i}" for i in range(200)) + "\n")
    write(tmp_path, "rules/r.yaml", "version: 1\nlists:\n  words: {file: lists/words.txt}\n"
          "rules:\n  - id: r\n    when: {content: {includes: [$words]}}\n    then: [delete]\n")
    alive: list[int] = []
    build = matcher.MatcherBuilder.build

    def counting_build(self: matcher.MatcherBuilder) -> matcher.Matcher:
        gc.collect()
        alive.append(sum(isinstance(o, TermList) for o in gc.get_objects()))
        return build(self)

    monkeypatch.setattr(matcher.MatcherBuilder, "build", counting_build)
    rules = load_rules([tmp_path / "rules"])
    assert alive == [0]
    assert len(rules) == 1
