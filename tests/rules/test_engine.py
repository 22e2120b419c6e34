"""Evaluation semantics of rules-spec.md: order, stop, delete wins, at most once, shadow."""

from __future__ import annotations

from pathlib import Path

from worker.rules import InMemoryOffenseCounter, is_offense

from .helpers import comment, ruleset


def test_priority_order_and_stop(tmp_path: Path) -> None:
    rules = ruleset(tmp_path, """
        version: 1
        rules:
          - id: low
            when: {content: {includes: [广告]}}
            then: [delete]
          - id: high
            priority: 10
            when: {content: {includes: [广告]}}
            then: [blacklist]
            stop: true
          - id: middle
            priority: 5
            when: {content: {includes: [广告]}}
            then: [delete]
    """)
    decision = rules.evaluate(comment("广告", author="oA"))
    assert decision.matched == ["high"]
    assert [a.type for a in decision.actions] == ["blacklist"]


def test_ties_keep_file_order_and_every_match_contributes(tmp_path: Path) -> None:
    rules = ruleset(tmp_path, """
        version: 1
        rules:
          - id: first
            when: {content: {includes: [好]}}
            then: [elect]
          - id: second
            when: {content: {includes: [好]}}
            then: [{reply: 谢谢}]
    """)
    decision = rules.evaluate(comment("好文章"))
    assert decision.matched == ["first", "second"]
    assert [(a.type, a.rule) for a in decision.actions] == [("elect", "first"), ("reply", "second")]


def test_a_deleted_comment_gets_no_reply_or_elect(tmp_path: Path) -> None:
    rules = ruleset(tmp_path, """
        version: 1
        rules:
          - id: praise
            priority: 10
            when: {content: {includes: [写得好]}}
            then: [elect, {reply: 谢谢}]
          - id: spam
            when: {content: {includes: [加v]}}
            then: [delete]
    """)
    decision = rules.evaluate(comment("写得好 加v领资料"))
    assert [a.type for a in decision.actions] == ["delete"]
    skipped = {(s.type, s.rule) for s in decision.skipped}
    assert skipped == {("elect", "praise"), ("reply", "praise")}


def test_an_action_appears_once_and_enforce_beats_shadow(tmp_path: Path) -> None:
    rules = ruleset(tmp_path, """
        version: 1
        rules:
          - id: trial
            priority: 10
            mode: shadow
            when: {content: {includes: [博彩]}}
            then: [delete]
          - id: real
            when: {content: {includes: [博彩]}}
            then: [delete]
          - id: trial-only
            mode: shadow
            when: {content: {includes: [博彩]}}
            then: [blacklist]
    """)
    decision = rules.evaluate(comment("博彩", author="oX"))
    assert decision.matched == ["trial", "real", "trial-only"]
    assert [a.to_dict() for a in decision.actions] == [
        {"type": "delete", "rule": "real"},
        {"type": "blacklist", "rule": "trial-only", "mode": "shadow"},
    ]


def test_a_shadow_delete_does_not_stop_an_enforced_reply(tmp_path: Path) -> None:
    rules = ruleset(tmp_path, """
        version: 1
        rules:
          - id: trial
            mode: shadow
            when: {content: {includes: [好]}}
            then: [delete]
          - id: thanks
            when: {content: {includes: [好]}}
            then: [{reply: 谢谢}]
    """)
    decision = rules.evaluate(comment("好"))
    planned = [(a.type, a.mode) for a in decision.actions]
    assert planned == [("reply", "enforce"), ("delete", "shadow")]  # enforced actions first


def test_blacklist_needs_an_openid(tmp_path: Path) -> None:
    rules = ruleset(tmp_path, """
        version: 1
        rules:
          - id: r
            when: {content: {includes: [博彩]}}
            then: [delete, blacklist]
    """)
    decision = rules.evaluate(comment("博彩", author=None))
    assert [a.type for a in decision.actions] == ["delete"]
    assert decision.skipped[0].type == "blacklist"


def test_actions_only_on_platforms_that_support_them(tmp_path: Path) -> None:
    rules = ruleset(tmp_path, """
        version: 1
        rules:
          - id: r
            when: {content: {includes: [博彩]}}
            then: [delete, blacklist]
          - id: wechat-only
            platforms: [wechat]
            when: {content: {includes: [博彩]}}
            then: [elect]
    """)
    decision = rules.evaluate(comment("博彩", platform="weibo", author="123"))
    assert decision.matched == ["r"]
    assert [a.type for a in decision.actions] == ["delete"]
    assert [s.to_dict() for s in decision.skipped] == [
        {"type": "blacklist", "rule": "r", "reason": "blacklist is not possible on weibo"},
    ]


def test_accounts_restrict_a_rule(tmp_path: Path) -> None:
    rules = ruleset(tmp_path, """
        version: 1
        rules:
          - id: r
            accounts: [a]
            when: {content: {includes: [x]}}
            then: [delete]
    """)
    assert rules.evaluate(comment("x", account="a")).matched == ["r"]
    assert rules.evaluate(comment("x", account="b")).matched == []


def test_any_not_and_nested_and(tmp_path: Path) -> None:
    rules = ruleset(tmp_path, """
        version: 1
        rules:
          - id: r
            when:
              any:
                - content: {includes: [加v]}
                - content: {includes: [薇信], min_length: 6}
              not:
                author: {in: [oVIP]}
            then: [delete]
    """)
    assert rules.evaluate(comment("加v")).matched == ["r"]
    assert rules.evaluate(comment("加v", author="ovip")).matched == []  # case-insensitive
    assert rules.evaluate(comment("薇信")).matched == []  # too short
    assert rules.evaluate(comment("我的薇信号码是")).matched == ["r"]


def test_rules_that_do_not_need_content_run_on_clean_comments(tmp_path: Path) -> None:
    rules = ruleset(tmp_path, """
        version: 1
        rules:
          - id: elected-clean
            when:
              comment: {elected: true}
            then: [unelect]
          - id: not-spam
            when:
              not:
                content: {includes: [博彩]}
            then: [elect]
    """)
    matched = rules.evaluate(comment("普通留言", elected=True)).matched
    assert matched == ["elected-clean", "not-spam"]
    assert rules.evaluate(comment("博彩", elected=False)).matched == []


def test_comment_age_and_replied(tmp_path: Path) -> None:
    rules = ruleset(tmp_path, """
        version: 1
        rules:
          - id: old
            when:
              comment:
                age: {older_than: 1h}
                replied: false
            then: [{reply: 迟到的回复}]
    """)
    now = 1_700_000_000.0
    assert rules.evaluate(comment("x", created_at=now - 7200), now=now).matched == ["old"]
    assert rules.evaluate(comment("x", created_at=now - 60), now=now).matched == []
    assert rules.evaluate(comment("x", created_at=now - 7200, replied=True), now=now).matched == []
    assert rules.evaluate(comment("x", created_at=None), now=now).matched == []


def test_offenses_count_enforced_removals_within_the_window(tmp_path: Path) -> None:
    rules = ruleset(tmp_path, """
        version: 1
        rules:
          - id: spam
            when: {content: {includes: [博彩]}}
            then: [delete]
          - id: repeat
            when:
              author:
                offenses: {at_least: 2, within: 1d}
            then: [blacklist]
    """)
    counter = InMemoryOffenseCounter()
    now = 1_700_000_000.0
    for offset in (3 * 86400, 3600, 60):  # one too old, two inside the day
        decision = rules.evaluate(comment("博彩", author="oBad"), offenses=counter, now=now)
        assert is_offense(decision)
        counter.record(platform="wechat", account=None, author="oBad", at=now - offset)
    decision = rules.evaluate(comment("你好", author="oBad"), offenses=counter, now=now)
    assert decision.matched == ["repeat"]
    assert rules.evaluate(comment("你好", author="oGood"), offenses=counter, now=now).matched == []


class AskedCounts(InMemoryOffenseCounter):
    """An in-memory counter that also notes every count it is asked for."""

    def __init__(self) -> None:
        super().__init__()
        self.asked: list[tuple[str, str | None, str, float, float]] = []

    def count(
        self, *, platform: str, account: str | None, author: str, within: float, now: float
    ) -> int:
        self.asked.append((platform, account, author, within, now))
        return super().count(platform=platform, account=account, author=author, within=within,
                             now=now)


def test_offense_questions_are_the_counts_an_evaluation_may_ask_for(tmp_path: Path) -> None:
    rules = ruleset(tmp_path, """
        version: 1
        rules:
          - id: repeat
            platforms: [wechat]
            when:
              any:
                - author: {offenses: {at_least: 2, within: 1d}}
                - content: {includes: [博彩]}
              not:
                author: {offenses: {at_least: 9, within: 7d}}
            then: [delete]
          - id: old
            enabled: false
            when: {author: {offenses: {at_least: 1, within: 30d}}}
            then: [delete]
          - id: praise
            when: {content: {includes: [好]}}
            then: [elect]
    """)
    day, now = 86400.0, 1_700_000_000.0
    page = [comment("博彩", id="1", author="oA", account="oa", created_at=now - 60),
            comment("你好", id="2", author="oB", account="oa"),
            comment("你好", id="3"),
            comment("你好", id="4", platform="weibo", author="u1")]
    questions = rules.offense_questions(page, now)
    assert sorted(questions) == sorted([
        ("wechat", "oa", "oA", day, now - 60), ("wechat", "oa", "oA", 7 * day, now - 60),
        ("wechat", "oa", "oB", day, now), ("wechat", "oa", "oB", 7 * day, now)])
    counter = AskedCounts()
    for _ in rules.evaluate_many(page, offenses=counter, now=now):
        pass
    assert counter.asked
    assert set(counter.asked) <= set(questions)


def test_reply_templates_render_the_original_match(tmp_path: Path) -> None:
    rules = ruleset(tmp_path, """
        version: 1
        rules:
          - id: thanks
            when: {content: {includes: [写得好]}}
            then:
              - reply: "{author} 说「{match}」，规则 {rule}，原文 {content} {{ok}}"
    """)
    text = "这篇 写 得 好！！" + "后面还有很长很长很长很长的内容"
    decision = rules.evaluate(comment(text, author="oA"))
    reply = decision.actions[0].text
    assert reply == f"oA 说「写 得 好」，规则 thanks，原文 {text[:20]} {{ok}}"
    span = decision.span("thanks")
    assert span is not None and span.text == "写 得 好"


def test_decision_json_shape(tmp_path: Path) -> None:
    rules = ruleset(tmp_path, """
        version: 1
        rules:
          - id: r
            when: {content: {includes: [博彩]}}
            then: [delete]
    """)
    decision = rules.evaluate(comment("看 博-彩", id="42"))
    assert decision.to_dict() == {
        "id": "42", "matched": ["r"], "actions": [{"type": "delete", "rule": "r"}],
    }
    out = decision.to_dict(spans=True)
    assert out == {
        "id": "42", "matched": ["r"], "actions": [{"type": "delete", "rule": "r"}],
        "spans": {"r": [2, 5, "博-彩"]},
    }
    assert rules.evaluate(comment("clean", id="7")).to_dict() == {
        "id": "7", "matched": [], "actions": [],
    }


def test_the_span_comes_from_an_any_branch_that_holds(tmp_path: Path) -> None:
    rules = ruleset(tmp_path, """
        version: 1
        rules:
          - id: r
            when:
              any:
                - content: {includes: [加v], min_length: 100}
                - content: {includes: [博彩]}
            then:
              - reply: "「{match}」"
    """)
    # 加v comes first but its branch fails (too short): 博彩 is what matched.
    decision = rules.evaluate(comment("加v 看博彩"))
    span = decision.span("r")
    assert span is not None and span.text == "博彩"
    assert decision.actions[0].text == "「博彩」"
    long = "加v " + "长" * 100 + " 博彩"
    span = rules.evaluate(comment(long)).span("r")
    assert span is not None and span.text == "加v"


def test_the_span_is_of_the_branches_that_held_when_decided(tmp_path: Path) -> None:
    """A branch on the author's offenses is judged when the comment is decided: recording
    this comment's own offense afterwards does not make it the branch the span comes from
    (branches with nothing that moves are judged only when a span is asked for)."""
    rules = ruleset(tmp_path, """
        version: 1
        rules:
          - id: r
            when:
              any:
                - content: {includes: [加v]}
                  author: {offenses: {at_least: 1, within: 1d}}
                - content: {includes: [博彩]}
            then: [delete]
    """)
    counter = InMemoryOffenseCounter()
    now = 1_700_000_000.0
    decision = rules.evaluate(
        comment("加v 看博彩", author="oBad", created_at=now), offenses=counter, now=now
    )
    assert is_offense(decision)
    counter.record(platform="wechat", account=None, author="oBad", at=now)
    span = decision.span("r")
    assert span is not None and span.text == "博彩"


def test_a_reply_drops_what_json_cannot_carry_plainly(tmp_path: Path) -> None:
    rules = ruleset(tmp_path, """
        version: 1
        rules:
          - id: r
            when: {content: {includes: [好文]}}
            then:
              - reply: "谢谢 {content}"
    """)
    text = "好文\x07\x1b[31m\ud800\n第二行\t!"
    reply = rules.evaluate(comment(text)).actions[0].text
    assert reply == "谢谢 好文[31m\n第二行\t!"
    reply.encode("utf-8")  # no lone surrogate left
