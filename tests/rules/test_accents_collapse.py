"""Normalisation details of rules-spec.md v1.2: `fold_accents`, and the warning when
`collapse_repeats` changes a term."""

from __future__ import annotations

from pathlib import Path

from worker.errors import Problem
from worker.rules.normalize import NormalizeOptions, Normalizer

from .helpers import comment, ruleset, write


def test_fold_accents_lets_toned_pinyin_meet_plain_latin(tmp_path: Path) -> None:
    rules = ruleset(tmp_path, """
        version: 1
        rules:
          - id: contact
            when: {content: {includes: [weixin]}}
            then: [delete]
          - id: accents-kept
            normalize: {fold_accents: false}
            when: {content: {includes: [weixin]}}
            then: [delete]
    """)
    decision = rules.evaluate(comment("加我 Wēi Xìn：abc"))
    assert decision.matched == ["contact"]
    assert decision.span("contact") is not None
    assert decision.span("contact").text == "Wēi Xìn"  # type: ignore[union-attr]


def test_fold_accents_keeps_spans_exact_with_combining_marks() -> None:
    for options in (NormalizeOptions(), NormalizeOptions(nfkc=False)):
        text = Normalizer(options).normalize("we\u0304i xi\u0300n café")
        assert text.skeleton == "weixincafe"
        assert text.spans_exact
        assert text.skeleton_span(0, 6) == (0, 9)
    assert Normalizer().normalize("й ά 微信").kept == "й ά 微信"  # other scripts keep theirs


def test_check_warns_when_collapse_repeats_changes_a_term(tmp_path: Path) -> None:
    rules = ruleset(tmp_path, """
        version: 1
        lists:
          rude: [ass, fool]
        rules:
          - id: rude
            normalize: {collapse_repeats: 1}
            when: {content: {includes_word: [$rude]}}
            then: [delete]
            tests:
              match: [assss]
          - id: rude-too
            normalize: {collapse_repeats: 1}
            when: {content: {includes_word: [$rude, 加vv]}}
            then: [delete]
            tests: {match: [ass]}
    """)
    file = str(tmp_path / "rules.yaml")
    message = ("collapse_repeats: 1 turns the term '{}' into '{}', which matches more than it "
               "says; write the term as it collapses, or turn collapse_repeats off for this rule")
    assert rules.warnings == (
        Problem(message.format("ass", "as"), file=file, line=3, rule="rude",
                field="when.content.includes_word"),
        Problem(message.format("fool", "fol"), file=file, line=3, rule="rude",
                field="when.content.includes_word"),
        Problem(message.format("加vv", "加v"), file=file, line=13, rule="rude-too",
                field="when.content.includes_word"),
    )
    # What the warning is about: the collapsed term hits an unrelated phrase.
    assert rules.evaluate(comment("as soon as possible")).matched == ["rude", "rude-too"]


def test_the_collapse_warning_for_a_list_file_term_points_at_its_line(tmp_path: Path) -> None:
    write(tmp_path, "lists/rude.txt", "# rude words\nfool\n\nok\nass\n")
    rules = ruleset(tmp_path, """
        version: 1
        lists:
          rude: {file: lists/rude.txt}
        rules:
          - id: rude
            normalize: {collapse_repeats: 1}
            when: {content: {includes_word: [zz, $rude]}}
            then: [delete]
            tests: {match: [ass]}
    """)
    where = [(p.file, p.line, p.message.split(" turns")[1][:16]) for p in rules.warnings]
    listed = str(tmp_path / "lists" / "rude.txt")
    assert where == [
        (str(tmp_path / "rules.yaml"), 7, " the term 'zz' i"),
        (listed, 2, " the term 'fool'"),
        (listed, 5, " the term 'ass' "),
    ]
