"""content.repeated, author.burst, {notify: CHANNEL} and rule tests' history: (spec v1.1)."""

from __future__ import annotations

from pathlib import Path

import pytest

from worker.demo.setup import WAVE_RULE as DEMO_WAVE_RULE
from worker.demo.setup import WAVE_RULES as DEMO_WAVE_RULES
from worker.errors import ConfigError
from worker.rules import load_rules
from worker.waves.state import Member, MemoryWaveState
from worker.waves.wave_rules import wave_rules

from .helpers import comment, ruleset

T0 = 1_700_000_000.0
AD = "加微信领取免费资料，限时优惠快来看看吧"
WAVE_RULES = wave_rules(at_least=3, notify="moderators")


def test_a_wave_holds_at_the_nth_copy_from_distinct_authors_and_names_earlier_members(
    tmp_path: Path,
) -> None:
    rules = ruleset(tmp_path, WAVE_RULES, channels={"moderators"})
    state = MemoryWaveState()
    copies = [AD, "加微信 领取免费资料!!限时优惠快来看看吧😀",
              "加 微 信领取免費資料，限时优惠快来看看"]
    decisions = [
        rules.evaluate(comment(text, id=str(i), author=f"u{i}", created_at=T0 + i * 60),
                       waves=state, now=T0 + 600)
        for i, text in enumerate(copies)
    ]
    assert [d.matched for d in decisions] == [[], [], ["copy-paste-wave"]]
    last = decisions[-1]
    assert [a.to_dict() for a in last.actions] == [
        {"type": "delete", "rule": "copy-paste-wave"},
        {"type": "notify", "channel": "moderators", "rule": "copy-paste-wave"},
    ]
    assert [m.id for m in last.waves["copy-paste-wave"]] == ["1", "0"]
    assert last.to_dict()["waves"] == {"copy-paste-wave": ["1", "0"]}


def test_one_author_repeating_is_no_wave_unless_authors_any(tmp_path: Path) -> None:
    for authors, expected in (("distinct", []), ("any", ["copy-paste-wave"])):
        text = wave_rules(at_least=3, notify="moderators", authors=authors)
        rules = ruleset(tmp_path, text, channels={"moderators"})
        state = MemoryWaveState()
        for i in range(3):
            decision = rules.evaluate(comment(AD, id=str(i), author="same", created_at=T0 + i),
                                      waves=state, now=T0)
        assert decision.matched == expected


def test_dissimilar_texts_and_old_copies_do_not_count(tmp_path: Path) -> None:
    rules = ruleset(tmp_path, WAVE_RULES, channels={"moderators"})
    state = MemoryWaveState()
    rules.evaluate(comment(AD, id="0", author="a", created_at=T0), waves=state, now=T0)
    rules.evaluate(comment("今天天气真好我们一起去公园散步吧", id="1", author="b",
                           created_at=T0 + 3700), waves=state, now=T0)
    rules.evaluate(comment(AD, id="2", author="c", created_at=T0 + 3700), waves=state, now=T0)
    last = rules.evaluate(comment(AD, id="3", author="d", created_at=T0 + 3800), waves=state,
                          now=T0)
    assert last.matched == []  # copy 0 is more than an hour older; copy 1 is not alike


def test_copies_decided_out_of_order_count_only_within_one_window(tmp_path: Path) -> None:
    # The daemon decides copies out of order (articles polled apart, two workers): the copy
    # at 50 min sees one at 0 and one at 100 min, but no hour holds all three.
    rules = ruleset(tmp_path, WAVE_RULES, channels={"moderators"})
    state = MemoryWaveState()

    def decide(cid: str, minutes: int) -> list[str]:
        return rules.evaluate(comment(AD, id=cid, author=f"u{cid}", created_at=T0 + minutes * 60),
                              waves=state, now=T0).matched

    assert [decide("late", 100), decide("early", 0), decide("middle", 50)] == [[], [], []]
    last = rules.evaluate(comment(AD, id="next", author="unext", created_at=T0 + 95 * 60),
                          waves=state, now=T0)
    assert last.matched == ["copy-paste-wave"]
    # it holds in the hour from 50 to 110 min; the copy at 0 is 95 minutes away
    assert [m.id for m in last.waves["copy-paste-wave"]] == ["late", "middle"]


def test_distinct_authors_are_counted_within_the_window_they_hold_in(tmp_path: Path) -> None:
    rules = ruleset(tmp_path, WAVE_RULES, channels={"moderators"})
    state = MemoryWaveState()
    for cid, author, minutes in (("2", "c", 100), ("0", "a", 0), ("1", "b", 10)):
        rules.evaluate(comment(AD, id=cid, author=author, created_at=T0 + minutes * 60),
                       waves=state, now=T0)
    # at 50 min, a and b (0-10) and c (100) are each within the hour, never all in one
    middle = rules.evaluate(comment(AD, id="3", author="a", created_at=T0 + 50 * 60),
                            waves=state, now=T0)
    assert middle.matched == []


def test_burst_counts_the_authors_comments_and_every_comment_is_recorded(tmp_path: Path) -> None:
    rules = ruleset(tmp_path, WAVE_RULES + """
  - id: gated
    when: {content: {includes: [never-said]}, author: {burst: {at_least: 2, within: 1m}}}
    then: [delete]
""", channels={"moderators"})
    state = MemoryWaveState()
    got = [rules.evaluate(comment(f"第{i}条不同的评论内容{i}", id=str(i), author="a",
                                  created_at=T0 + i * 100), waves=state, now=T0).matched
           for i in range(5)]
    assert got == [[], [], [], ["flood"], ["flood"]]


def test_without_wave_state_the_conditions_do_not_hold(tmp_path: Path) -> None:
    rules = ruleset(tmp_path, WAVE_RULES, channels={"moderators"})
    assert rules.wave_query is not None
    assert rules.evaluate(comment(AD, author="a")).matched == []


def test_rule_tests_with_history(tmp_path: Path) -> None:
    rules = ruleset(tmp_path, """
        version: 1
        rules:
          - id: copy-paste-wave
            when: {content: {repeated: {at_least: 5, within: 1h}}}
            then: [delete]
            tests:
              match:
                - content: 加微信领取免费资料限时优惠快来看看吧
                  history:
                    - {content: 加微信领取免费资料限时优惠快来看看吧😀, count: 3, before: 10m}
                    - 加 微 信领取免费资料限时优惠快来看看
              no_match:
                - content: 加微信领取免费资料限时优惠快来看看吧
                  history:
                    - {content: 加微信领取免费资料限时优惠快来看看吧, count: 4, before: 2h}
                - content: 加微信领取免费资料限时优惠快来看看吧
                  history:
                    - {content: 加微信领取免费资料限时优惠快来看看吧, count: 4, author: same}
          - id: flood
            when: {author: {burst: {at_least: 3, within: 10m}}}
            then: [delete]
            tests:
              match:
                - {content: 一, author: a, history: [{content: 二, author: a, before: 1m},
                                                    {content: 三, author: a, before: 9m}]}
              no_match:
                - {content: 一, author: a, history: [{content: 二, author: a, before: 1m},
                                                    {content: 三, author: b}]}
    """)
    assert len(rules.rules) == 2  # every sample above held, or loading would have failed


def test_history_written_after_the_sample_does_not_hide_earlier_history(
    tmp_path: Path,
) -> None:
    """``history:`` entries may be later than the sample (``created_at``): fed oldest first,
    the sample comes after them, and must still see the entries of its own window that a
    later entry's window does not hold."""
    at = int(T0)
    ruleset(tmp_path, f"""
        version: 1
        rules:
          - id: copy-paste-wave
            when: {{content: {{repeated: {{at_least: 5, within: 1h}}}}}}
            then: [delete]
            tests:
              match:  # four copies 50 min before: five in one hour with the sample
                - content: {AD}
                  created_at: {at}
                  history:
                    - {{content: {AD}, count: 4, created_at: {at - 50 * 60}}}
                    - {{content: {AD}, created_at: {at + 30 * 60}}}
          - id: flood
            when: {{author: {{burst: {{at_least: 3, within: 10m}}}}}}
            then: [delete]
            tests:
              match:  # 9 min before and the sample: 3 in one window of 10 min
                - content: 一
                  author: a
                  created_at: {at}
                  history:
                    - {{content: 二, author: a, count: 2, created_at: {at - 9 * 60}}}
                    - {{content: 三, author: a, created_at: {at + 5 * 60}}}
    """)


def test_memory_wave_state_sees_each_querys_window_in_any_order(tmp_path: Path) -> None:
    rules = ruleset(tmp_path, wave_rules(at_least=4, burst_at_least=4), channels=set())
    minutes = [0, 100, 30, 130, 55, 10, 70]  # copies from distinct authors, out of order
    state = MemoryWaveState()
    got = {m: rules.evaluate(comment(AD, id=str(m), author=f"u{m}", created_at=T0 + m * 60),
                             waves=state, now=T0) for m in minutes}
    for m, decision in got.items():  # against the copies observed before it, brute force
        seen = [*minutes[:minutes.index(m)], m]
        holds = any(sum(start <= o <= start + 60 for o in seen) >= 4
                    for start in seen if m - 60 <= start <= m)
        assert bool(decision.matched) == holds, m
        waves = decision.waves.get("copy-paste-wave", ())
        assert {int(w.id) for w in waves} <= {o for o in seen if abs(o - m) <= 60}, m
    assert [m for m, d in got.items() if d.matched] == [10, 70]
    # The flood rule too: one author, out of order, 4 comments in 10 minutes
    flood = MemoryWaveState()
    flooded = [rules.evaluate(comment(f"第{m}条", id=f"f{m}", author="x",
                                      created_at=T0 + m * 60), waves=flood, now=T0).matched
               for m in (9, 30, 0, 5, 2)]
    assert flooded == [[], [], [], [], ["flood"]]


def test_replay_forgets_only_what_no_later_comment_can_count(tmp_path: Path) -> None:
    state = MemoryWaveState()
    rules = ruleset(tmp_path, WAVE_RULES, channels={"moderators"})
    for hour in range(5):  # in order, as replay feeds them, telling the state so
        at = T0 + hour * 3600
        rules.evaluate(comment(AD, id=str(hour), author=f"u{hour}", created_at=at),
                       waves=state, now=T0)
        state.forget_before(at)
    members = [Member(str(h), None, f"u{h}", T0 + h * 3600, "") for h in range(5)]
    kept = state.contents(platform="wechat", account=None, members=members, within=3600)
    assert {"-/3", "-/4"} <= set(kept)  # within an hour of the last one: still countable
    assert not {"-/0", "-/1"} & set(kept)  # no comment still to come can count these


def test_history_on_a_rule_that_counts_no_other_comments_is_warned_about(
    tmp_path: Path,
) -> None:
    rules = ruleset(tmp_path, """
        version: 1
        rules:
          - id: spam
            when: {content: {includes: [广告]}}
            then: [delete]
            tests:
              match:
                - 广告
                - {content: 广告, history: [广告]}
    """)
    [warning] = [w for w in rules.warnings if w.field == "tests.match[1].history"]
    assert warning.line == 9 and warning.rule == "spam"
    assert "no content.repeated or author.burst" in warning.message


def test_a_failing_history_sample_is_reported(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"tests.match sample .* did not match"):
        ruleset(tmp_path, """
            version: 1
            rules:
              - id: wave
                when: {content: {repeated: {at_least: 3, within: 1h}}}
                then: [delete]
                tests:
                  match:
                    - content: 加微信领取免费资料
                      history: [加微信领取免费资料]
        """)


@pytest.mark.parametrize(("fragment", "message"), [
    ("content: {repeated: {at_least: 0, within: 1h}}", "at_least takes a whole number from 2"),
    # one copy, this one, is always there: a rule that would hold for every comment
    ("content: {repeated: {at_least: 1, within: 1h}}", "at_least takes a whole number from 2"),
    ("author: {burst: {at_least: 1, within: 1m}}", "at_least takes a whole number from 2"),
    ("content: {repeated: {at_least: 3}}", "within is required"),
    ("author: {burst: {at_least: 3}}", "within is required"),
    ("content: {repeated: {at_least: 3, within: 0s}}", "within takes a duration above 0"),
    ("author: {burst: {at_least: 3, within: 0}}", "within takes a duration above 0"),
    # dropped silently before: the rule then held for every comment
    ("author: {offenses: {at_least: 3, within: 0s}}", "within takes a duration above 0"),
    ("author: {offenses: {at_least: 3}}", "within is required"),
    ("content: {repeated: {at_least: 3, within: 1h, similarity: 1.5}}", "similarity takes"),
    ("content: {repeated: {at_least: 3, within: 1h, authors: all}}", "authors takes distinct"),
    ("content: {repeated: {at_least: 3, within: 1h, simlarity: 0.8}}", "unknown key"),
    ("author: {burst: {at_least: 3, within: soon}}", "within"),
])
def test_bad_wave_conditions_name_the_field(tmp_path: Path, fragment: str, message: str) -> None:
    with pytest.raises(ConfigError, match=message) as info:
        ruleset(tmp_path, f"""
            version: 1
            rules:
              - id: wave
                when: {{{fragment}}}
                then: [delete]
        """)
    assert "rules.yaml:4" in str(info.value)


def test_notify_needs_a_configured_channel(tmp_path: Path) -> None:
    text = """
        version: 1
        rules:
          - id: spam
            when: {content: {includes: [广告]}}
            then: [delete, {notify: moderatrs}]
    """
    with pytest.raises(ConfigError, match=r"rules.yaml:5.*unknown notify channel 'moderatrs'"
                       r".*did you mean 'moderators'"):
        ruleset(tmp_path, text, channels={"moderators"})
    with pytest.raises(ConfigError, match="notify takes a channel name"):
        ruleset(tmp_path, text.replace("{notify: moderatrs}", "notify"))
    with pytest.raises(ConfigError, match=r"unknown notify channel 'moderatrs'; config\.yaml's "
                       r"notify: declares no channel"):
        ruleset(tmp_path, text, channels=set())
    shadow = ruleset(tmp_path, text.replace("moderatrs", "m").replace(
        "then:", "mode: shadow\n            then:"), channels={"m"})
    decision = shadow.evaluate(comment("广告"))
    assert [a.to_dict() for a in decision.actions][-1] == {
        "type": "notify", "channel": "m", "rule": "spam", "mode": "shadow"}


def test_a_disabled_rule_may_name_a_channel_not_declared_yet(tmp_path: Path) -> None:
    text = """
        version: 1
        rules:
          - id: parked
            enabled: false
            when: {content: {includes: [广告]}}
            then: [delete, {notify: moderators}]
    """
    parked = ruleset(tmp_path, text, channels=set())  # loads: it can send nothing
    assert [w.field for w in parked.warnings] == ["then[1]"]
    assert "declare the channel before enabling it" in parked.warnings[0].message
    with pytest.raises(ConfigError, match="unknown notify channel 'moderators'"):
        ruleset(tmp_path, text.replace("enabled: false", "enabled: true"), channels=set())


def test_the_example_wave_rules_are_off_tested_and_record_nothing_while_off(
    repo_root: Path, tmp_path: Path
) -> None:
    example = repo_root / "rules" / "waves.yaml"
    rules = load_rules([example], channels=set())
    assert {r.id: r.enabled for r in rules.rules} == {"ad-wave": False, "comment-flood": False}
    for rule in rules.rules:  # each has tests with history: a match and a no_match
        assert {s.expect_match for s in rule.samples if s.history} == {True, False}
    assert rules.wave_query is None  # off: the daemon records no comment for them
    # Their tests run although they are off: a failing one fails the load.
    broken = example.read_text(encoding="utf-8").replace("count: 7, author: oFlooder",
                                                         "count: 5, author: oFlooder")
    with pytest.raises(ConfigError, match=r"comment-flood.*tests\.match sample '顶顶顶' did not"):
        ruleset(tmp_path, broken, channels={"moderators"})
    enabled = ruleset(tmp_path, example.read_text(encoding="utf-8").replace(
        "enabled: false", "enabled: true"), channels={"moderators"})
    assert enabled.wave_query is not None


def test_the_example_wave_rules_load_beside_the_demos_own(
    repo_root: Path, tmp_path: Path
) -> None:
    """``modworker demo`` loads rules/ and its own copy-paste-wave: no id is taken twice."""
    demo = tmp_path / "demo.yaml"
    demo.write_text(DEMO_WAVE_RULES, encoding="utf-8")
    rules = load_rules([repo_root / "rules", demo], channels={"moderators"})
    assert {"ad-wave", "comment-flood", DEMO_WAVE_RULE} <= {r.id for r in rules.rules}


def test_earlier_members_with_the_same_id_on_two_articles_are_both_in_the_wave(
    tmp_path: Path,
) -> None:
    # WeChat comment ids count per article: the daemon test lost one of two such copies.
    rules = ruleset(tmp_path, WAVE_RULES, channels={"moderators"})
    state = MemoryWaveState()
    for i, target in enumerate(("a:0", "b:0")):
        rules.evaluate(comment(AD, id="1", target=target, author=f"u{i}", created_at=T0 + i),
                       waves=state, now=T0)
    last = rules.evaluate(comment(AD, id="2", target="a:0", author="u9", created_at=T0 + 5),
                          waves=state, now=T0)
    assert sorted((m.target, m.id) for m in last.waves["copy-paste-wave"]) == [
        ("a:0", "1"), ("b:0", "1")]


def test_a_page_recorded_first_decides_as_comments_recorded_one_by_one(tmp_path: Path) -> None:
    # decide_page and replay record the page (observe_page: its texts normalised and banded
    # together), then evaluate with what was recorded: the same decisions, each comment once
    rules = ruleset(tmp_path, WAVE_RULES, channels={"moderators"})
    texts = [AD, "今天天气真好", "加微信 领取免费资料!!限时优惠快来看看吧😀", "", "好",
             "加 微 信领取免費資料，限时优惠快来看看", AD]
    page = [comment(t, id=str(i), author=f"u{i % 6}", created_at=T0 + i)
            for i, t in enumerate(texts)]
    alone = list(rules.evaluate_many(page, now=T0, waves=MemoryWaveState()))
    state = MemoryWaveState()
    observations = rules.observe_page(page, state, T0)
    together = list(rules.evaluate_many(page, now=T0, observations=observations))
    assert [d.to_dict() for d in together] == [d.to_dict() for d in alone]
    assert [d.matched for d in together][-2:] == [["copy-paste-wave"], ["copy-paste-wave"]]
    last, again = observations[-1], rules.observe_page(page[-1:], state, T0)[0]
    assert last is not None and again is not None  # recorded once: looking again adds nobody
    assert sorted(m.id for m in again.near) == sorted(m.id for m in last.near) == ["0", "2", "5"]
