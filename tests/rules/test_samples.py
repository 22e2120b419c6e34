"""Rule `tests` samples can give every field a rule reads (rules-spec.md v1.2)."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from worker.errors import ConfigError, Problem
from worker.rules import load_rules

from .helpers import ruleset, write


def failures(directory: Path, text: str, **kwargs: object) -> list[str]:
    path = write(directory, "rules.yaml", text)
    with pytest.raises(ConfigError) as info:
        load_rules([path], **kwargs)  # type: ignore[arg-type]
    return [str(p) for p in info.value.problems]


def test_the_repeat_offender_example_is_tested_with_offense_counts(repo_root: Path) -> None:
    rules = load_rules([repo_root / "rules" / "repeat-offenders.yaml"])
    rule = rules.rule("repeat-offender")
    by_count = {(s.offenses, s.platform, s.expect_match) for s in rule.samples}
    assert (3, None, True) in by_count and (2, None, False) in by_count
    assert (3, "weibo", False) in by_count  # a WeChat-only rule: a Weibo sample cannot match


def test_an_offense_count_below_the_threshold_fails_a_match_sample(tmp_path: Path) -> None:
    got = failures(tmp_path, """
        version: 1
        rules:
          - id: repeat
            when: {author: {offenses: {at_least: 3, within: 7d}}}
            then: [delete]
            tests:
              match:
                - {content: hi, author: oA, offenses: 2}
              no_match:
                - {content: hi, offenses: 3}
    """)
    file = tmp_path / "rules.yaml"
    assert got == [
        f"{file}:8: rule 'repeat': tests.match: tests.match sample 'hi' did not match",
        f"{file}:10: rule 'repeat': tests.no_match: tests.no_match sample 'hi' matched",
    ]


def test_platform_account_author_time_and_flags_reach_the_rule(tmp_path: Path) -> None:
    hour_ago = int(time.time()) - 3600
    rules = ruleset(tmp_path, f"""
        version: 1
        rules:
          - id: weibo-only
            platforms: [weibo]
            when: {{content: {{includes: [广告]}}}}
            then: [delete]
            tests:
              match: [{{content: 广告}}, {{content: 广告, account: brand}}]
              no_match: [{{content: 广告, platform: wechat}}, {{content: 广告, account: main}}]
          - id: staff-old-unreplied
            accounts: [main]
            when:
              author: {{in: [oStaff]}}
              comment: {{age: {{older_than: 30m}}, replied: false, elected: true}}
            then: [unelect]
            tests:
              match:
                - {{content: x, author: oStaff, age: 2h, elected: true}}
                - {{content: x, author: oStaff, created_at: {hour_ago}, elected: true}}
              no_match:
                - {{content: x, author: oStaff, age: 5m, elected: true}}
                - {{content: x, author: oStaff, age: 2h, elected: true, replied: true}}
                - {{content: x, author: oOther, age: 2h, elected: true}}
                - {{content: x, author: oStaff, age: 2h}}
                - {{content: x, author: oStaff, age: 2h, elected: true, account: brand}}
    """, accounts={"main": "wechat", "brand": "weibo"})
    assert len(rules.rule("staff-old-unreplied").samples) == 7


def test_why_a_sample_did_not_match_names_the_rule_platforms(tmp_path: Path) -> None:
    got = failures(tmp_path, """
        version: 1
        rules:
          - id: weibo-only
            platforms: [weibo]
            when: {content: {includes: [广告]}}
            then: [delete]
            tests:
              match: [{content: 广告, platform: wechat}]
    """)
    assert got == [
        f"{tmp_path / 'rules.yaml'}:8: rule 'weibo-only': tests.match: tests.match sample "
        "'广告' did not match (the rule applies only on weibo)",
    ]


def test_bad_sample_fields_are_located(tmp_path: Path) -> None:
    got = failures(tmp_path, """
        version: 1
        rules:
          - id: r
            when: {content: {includes: [x]}}
            then: [delete]
            tests:
              match:
                - content: x
                  autor: oA
                  platform: weixin
                  account: mian
                  offenses: -1
                  elected: "yes"
                  created_at: yesterday
    """, accounts={"main": "wechat"})
    file = tmp_path / "rules.yaml"
    keys = ("account, age, author, content, created_at, elected, history, offenses, platform, "
            "replied")
    assert got == [
        f"{file}:9: rule 'r': tests.match[0].autor: unknown sample key 'autor' "
        f"(did you mean 'author'?); a sample takes {keys}",
        f"{file}:11: rule 'r': tests.match[0].account: unknown account 'mian' "
        "(did you mean 'main'?)",
        f"{file}:10: rule 'r': tests.match[0].platform: unknown platform 'weixin' "
        "(did you mean 'wechat'?); use wechat or weibo",
        f"{file}:13: rule 'r': tests.match[0].elected: elected takes true or false, got 'yes'",
        f"{file}:14: rule 'r': tests.match[0].created_at: created_at takes Unix seconds or a "
        "date and time (2024-06-11 08:30:00+08:00), got 'yesterday'",
        f"{file}:12: rule 'r': tests.match[0].offenses: offenses takes the author's prior "
        "offense count within the rule's window, a whole number >= 0, got -1",
    ]


def test_an_enforced_rule_without_tests_is_a_warning(tmp_path: Path) -> None:
    rules = ruleset(tmp_path, """
        version: 1
        rules:
          - id: untested
            when: {content: {includes: [x]}}
            then: [delete]
          - id: trial
            mode: shadow
            when: {content: {includes: [x]}}
            then: [delete]
          - id: paused
            enabled: false
            when: {content: {includes: [x]}}
            then: [delete]
    """)
    assert rules.warnings == (Problem(
        "an enforced rule without tests: give it tests: {match: [...], no_match: [...]} so "
        "that `check` proves what it removes",
        file=str(tmp_path / "rules.yaml"), line=3, rule="untested", field="tests",
    ),)
