"""`normalize:` defaults for every rule file: config.yaml, or defaults.yaml in the rule
directory; a file's and a rule's `normalize:` still override (rules-spec.md v1.2)."""

from __future__ import annotations

from pathlib import Path

import pytest

from worker.config import load_config_text
from worker.errors import ConfigError
from worker.rules import load_rules
from worker.rules.normalize import NormalizeOptions

from .helpers import comment, write

TRADITIONAL = """
    version: 1
    rules:
      - id: {id}
        when: {{content: {{includes: [发票]}}}}
        then: [delete]
"""


def _three_files(directory: Path) -> None:
    write(directory, "a.yaml", TRADITIONAL.format(id="plain"))
    write(directory, "b.yaml", """
        version: 1
        normalize: {traditional_to_simplified: false}
        rules:
          - id: file-off
            when: {content: {includes: [发票]}}
            then: [delete]
    """)
    write(directory, "c.yaml", """
        version: 1
        rules:
          - id: rule-off
            normalize: {traditional_to_simplified: false}
            when: {content: {includes: [发票]}}
            then: [delete]
    """)


def test_config_normalize_is_every_files_default(tmp_path: Path) -> None:
    _three_files(tmp_path / "rules")
    config = load_config_text(
        "rules: [rules/]\nnormalize:\n  traditional_to_simplified: true\n", base_dir=tmp_path,
    )
    assert config.normalize == NormalizeOptions(traditional_to_simplified=True)
    rules = load_rules(config.rules, normalize=config.normalize)
    assert rules.evaluate(comment("代開發票")).matched == ["plain"]
    assert load_rules(config.rules).evaluate(comment("代開發票")).matched == []


def test_defaults_yaml_in_the_rule_directory(tmp_path: Path) -> None:
    _three_files(tmp_path)
    write(tmp_path, "defaults.yaml", """
        version: 1
        normalize:
          traditional_to_simplified: true
    """)
    rules = load_rules([tmp_path])
    assert rules.evaluate(comment("代開發票")).matched == ["plain"]
    assert len(rules.files) == 3  # defaults.yaml holds no rules


def test_defaults_problems_are_located(tmp_path: Path) -> None:
    write(tmp_path, "rules.yaml", TRADITIONAL.format(id="r"))
    write(tmp_path, "defaults.yaml", """
        version: 1
        normalize: {tradtional_to_simplified: true, casefold: "no"}
        rules: []
    """)
    write(tmp_path, "more/defaults.yaml", "version: 1\nnormalize: {nfkc: true}\n")
    with pytest.raises(ConfigError) as info:
        load_rules([tmp_path])
    assert [str(p) for p in info.value.problems] == [
        f"{tmp_path / 'defaults.yaml'}:3: rules: defaults.yaml holds only version and "
        "normalize (the defaults of every rule file); move rules to a rule file",
        f"{tmp_path / 'defaults.yaml'}:2: normalize.tradtional_to_simplified: unknown key "
        "'tradtional_to_simplified' (did you mean 'traditional_to_simplified'?)",
        f"{tmp_path / 'defaults.yaml'}:2: normalize.casefold: casefold takes true or false, "
        "got 'no'",
        f"{tmp_path / 'more/defaults.yaml'}:1: a second defaults.yaml; the rules already take "
        f"their defaults from {tmp_path / 'defaults.yaml'}",
    ]


def test_config_normalize_problems_name_config_yaml() -> None:
    with pytest.raises(ConfigError) as info:
        load_config_text("rules: [/]\nnormalize:\n  colapse_repeats: 0\n  nfkc: 1\n",
                         filename="config.yaml")
    assert [str(p) for p in info.value.problems] == [
        "config.yaml:3: normalize.colapse_repeats: unknown key 'colapse_repeats' (did you mean "
        "'collapse_repeats'?)",
        "config.yaml:4: normalize.nfkc: nfkc takes true or false, got 1",
    ]
