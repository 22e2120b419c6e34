"""Shadow rules never change enforcement (rules-spec.md v1.2): their `stop` ends only shadow
rules, and they still run (marked ``after_stop``) below an enforced `stop`."""

from __future__ import annotations

import shutil
from pathlib import Path

from worker.comment import Comment
from worker.demo.data import DemoData
from worker.rules import Decision, InMemoryOffenseCounter, RuleSet, is_offense, load_rules
from worker.rules.model import EvalContext

from .helpers import comment, ruleset, write

REPO = Path(__file__).resolve().parents[2]
NOW = 1_750_000_000


def test_a_shadow_stop_above_an_enforced_rule_leaves_it_acting(tmp_path: Path) -> None:
    rules = ruleset(tmp_path, """
        version: 1
        rules:
          - id: trial
            priority: 100
            mode: shadow
            when: {content: {includes: [加v]}}
            then: [delete]
            stop: true
          - id: trial-below
            priority: 50
            mode: shadow
            when: {content: {includes: [加v]}}
            then: [blacklist]
          - id: spam
            when: {content: {includes: [加v]}}
            then: [delete, blacklist]
    """)
    decision = rules.evaluate(comment("加v领资料", author="oA"))
    assert decision.matched == ["trial", "spam"]  # the shadow stop ended trial-below only
    assert [a.to_dict() for a in decision.actions] == [
        {"type": "delete", "rule": "spam"},
        {"type": "blacklist", "rule": "spam"},
    ]
    assert is_offense(decision)


def test_a_shadow_rule_below_an_enforced_stop_is_counted_after_stop(tmp_path: Path) -> None:
    rules = ruleset(tmp_path, """
        version: 1
        rules:
          - id: spam
            priority: 100
            when: {content: {includes: [加v]}}
            then: [delete]
            stop: true
          - id: also-enforced
            when: {content: {includes: [加v]}}
            then: [blacklist]
          - id: trial
            mode: shadow
            when: {content: {includes: [加v]}}
            then: [blacklist]
    """)
    decision = rules.evaluate(comment("加v", author="oA"))
    assert decision.matched == ["spam", "trial"]
    assert decision.after_stop == ["trial"]
    assert [m.after_stop for m in decision.matches] == [False, True]
    assert decision.to_dict() == {
        "id": "1", "matched": ["spam", "trial"], "after_stop": ["trial"],
        "actions": [
            {"type": "delete", "rule": "spam"},
            {"type": "blacklist", "rule": "trial", "mode": "shadow", "after_stop": True},
        ],
    }


def test_check_notes_a_shadow_rule_with_stop(tmp_path: Path) -> None:
    rules = ruleset(tmp_path, """
        version: 1
        rules:
          - id: trial
            mode: shadow
            when: {content: {includes: [x]}}
            then: [delete]
            stop: true
    """)
    assert rules.notes == (
        f"{tmp_path / 'rules.yaml'}:7: rule 'trial': a shadow rule's stop ends only the shadow "
        "rules after it; enforced rules are evaluated as if it did not exist",
    )


# -- on a corpus ---------------------------------------------------------------------------

def _corpus() -> list[Comment]:
    data = DemoData(now=NOW)
    generated = data.seed() + data.wave(150, repeat_offenders=True)
    out = []
    for n, c in enumerate(generated):
        out.append(Comment(
            platform=c.platform, id=str(n), content=c.content,
            account="main-oa" if c.platform == "wechat" else "main-weibo",
            author=None if c.author is None else str(c.author),
            created_at=float(c.created_at if c.created_at is not None else NOW),
        ))
    return out


def _run(rules: RuleSet, comments: list[Comment]) -> list[Decision]:
    offenses = InMemoryOffenseCounter()
    decisions = []
    for c in comments:
        decision = rules.evaluate(c, offenses=offenses, now=NOW)
        if c.author and is_offense(decision):
            offenses.record(platform=c.platform, account=c.account, author=c.author,
                            at=c.created_at or NOW)
        decisions.append(decision)
    return decisions


def _enforced(decision: Decision) -> tuple[list[str], list[dict[str, object]]]:
    return (
        [m.rule for m in decision.matches if m.mode == "enforce"],
        [a.to_dict() for a in decision.actions if a.mode == "enforce"],
    )


SHADOW_RULES = """
    version: 1
    rules:
      - id: zz-trial-everything
        priority: 1000
        mode: shadow
        when: {content: {min_length: 1}}
        then: [delete, blacklist, {reply: 试试}]
      - id: zz-trial-stop
        priority: 999
        mode: shadow
        when: {content: {includes: [好]}}
        then: [elect]
        stop: true
      - id: zz-trial-after
        priority: -5
        mode: shadow
        when: {content: {includes: [的, 加, 微, 好]}}
        then: [elect]
"""


def _example_rules_without_shadow(directory: Path) -> Path:
    """The example rules with their shadow rule dropped (so the baseline has none)."""
    target = directory / "rules"
    shutil.copytree(REPO / "rules", target)
    praise = target / "praise.yaml"
    text = praise.read_text(encoding="utf-8")
    assert "mode: shadow" in text
    kept = text.split("  - id: short-praise-trial")[0]
    praise.write_text(kept, encoding="utf-8")
    return target


def test_shadow_rules_leave_every_enforced_decision_of_a_corpus_unchanged(tmp_path: Path) -> None:
    base = _example_rules_without_shadow(tmp_path)
    without = load_rules([base])
    assert all(r.mode == "enforce" for r in without.rules)
    shadow_dir = tmp_path / "shadow"
    write(shadow_dir, "trials.yaml", SHADOW_RULES)
    with_shadow = load_rules([base, shadow_dir])
    corpus = _corpus()
    plain = _run(without, corpus)
    shadowed = _run(with_shadow, corpus)
    assert sum(1 for d in plain if d.actions) > 100  # the corpus exercises the rules
    assert [_enforced(d) for d in shadowed] == [_enforced(d) for d in plain]
    # The always-matching shadow rule ran on every comment, and the one below the enforced
    # stops was counted after them.
    assert all(d.matched[0] == "zz-trial-everything" for d in shadowed)
    assert any("zz-trial-after" in d.after_stop for d in shadowed)
    # Where the shadow stop fired, the shadow rule below it did not run; enforced ones did.
    stopped = [d for d in shadowed if "zz-trial-stop" in d.matched]
    assert stopped and all("zz-trial-after" not in d.matched for d in stopped)
    assert any(_enforced(d)[0] for d in stopped)


def test_without_shadow_rules_decisions_follow_the_spec_on_a_corpus(tmp_path: Path) -> None:
    """Every rule in order, until a matching rule with stop: the engine's candidate index and
    passes give exactly that on the example rules."""
    rules = load_rules([_example_rules_without_shadow(tmp_path)])
    corpus = _corpus()
    offenses = InMemoryOffenseCounter()
    for c in corpus:
        decision = rules.evaluate(c, offenses=offenses, now=NOW)
        ctx = EvalContext(comment=c, scans=rules.scan(c.content), now=NOW, offenses=offenses)
        expected: list[str] = []
        for rule in rules.rules:
            if rule.applies_to(c) and (rule.when is None or rule.when.holds(ctx)):
                expected.append(rule.id)
                if rule.stop:
                    break
        assert decision.matched == expected, c
        if c.author and is_offense(decision):
            offenses.record(platform=c.platform, account=c.account, author=c.author,
                            at=c.created_at or NOW)
