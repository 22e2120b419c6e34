"""A page of comments scanned together (Matcher.scan_many, RuleSet.evaluate_many) gives, comment
for comment, what scanning or evaluating each alone gives."""

from __future__ import annotations

from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from worker.rules import InMemoryOffenseCounter, is_offense, load_rules
from worker.rules.matcher import Matcher, MatcherBuilder, ScanResult
from worker.rules.normalize import NormalizeOptions, Normalizer

from .helpers import comment

# Han, Latin, numerals, separators, NUL (the page joiner), an emoji, a combining mark, a
# full-width letter: what could make a page scan differ from one comment's.
_ALPHABET = st.sampled_from(
    [*"微维信新口交路通三一五ab vx.-", "\0", "😀", "\u0301", "ｖ", "\n"]
)
_TEXTS = st.lists(st.text(_ALPHABET, max_size=12), min_size=0, max_size=6)


def _matcher(options: NormalizeOptions) -> Matcher:
    builder = MatcherBuilder(Normalizer(options))
    allow = frozenset({builder.add_allow("路口交通")})
    builder.add_literal("includes", "口交", allow=allow)
    builder.add_literal("includes", "a1")
    builder.add_literal("starts_with", "vx")
    builder.add_literal("ends_with", "信")
    builder.add_literal("full_exact", "ab")
    builder.add_literal("includes_word", "vx")
    builder.add_literal("includes_word", "ab")
    builder.add_literal("sounds_like", "微信", allow=frozenset({builder.add_allow("维新")}))
    builder.add_regex(r"v\s*x\s*\d{2,}")
    builder.add_regex(r"b.信")
    return builder.build()


def _anchored(options: NormalizeOptions) -> Matcher:
    builder = MatcherBuilder(Normalizer(options))
    builder.add_literal("includes", "口交")
    builder.add_regex(r"^vx")  # matches a comment that starts with it, never the page joined
    builder.add_regex(r"信$")
    return builder.build()


def _seen(result: ScanResult) -> tuple[object, ...]:
    return (
        sorted((i, result.literal_span(i)) for i in result.literals),
        sorted((i, result.regex_span(i)) for i in result.regexes),
        result.text.kept,
        result.text.skeleton,
    )


_OPTIONS = [
    NormalizeOptions(),
    NormalizeOptions(numerals=True, collapse_repeats=1),
    NormalizeOptions(skip_separators=False),  # a skeleton may hold NUL: no page scan
]


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(texts=_TEXTS, which=st.integers(0, len(_OPTIONS) - 1), anchored=st.booleans())
def test_a_page_scan_equals_each_comment_scanned_alone(
    texts: list[str], which: int, anchored: bool
) -> None:
    options = _OPTIONS[which]
    matcher = _anchored(options) if anchored else _matcher(options)
    page = matcher.scan_many(texts)
    assert [_seen(r) for r in page] == [_seen(matcher.scan(t)) for t in texts]


def test_an_anchored_regex_is_found_in_a_later_comment_of_the_page() -> None:
    matcher = _anchored(NormalizeOptions())
    page = matcher.scan_many(["你好", "vx123", "信你"])
    assert [sorted(r.regexes) for r in page] == [[], [0], []]


def test_sounds_like_hits_land_in_their_own_comment_of_the_page() -> None:
    matcher = _matcher(NormalizeOptions())
    page = matcher.scan_many(["维新", "你好", "薇 信", "维新的威信"])
    spans = [[r.text.original[slice(*r.literal_span(i))] for i in r.literals] for r in page]
    # 维新 is allowed; 威信 after it (a sounds_like hit) is not, nor is the ends_with 信
    assert spans[0] == [] and spans[1] == []
    assert sorted(spans[2]) == ["信", "薇 信"]
    assert sorted(spans[3]) == ["信", "威信"]


def test_evaluate_many_equals_evaluate_with_offenses_between(repo_root: Path) -> None:
    rules = load_rules([repo_root / "rules"])
    texts = ["加我微信 abc123456", "维信", "你好", "加v信 wx123456", "一三八一二三四五六七八",
             "路口交通", "好文章，谢谢分享", "加我vx", "扣扣 12345678"] * 4
    comments = [comment(t, id=str(i), author="o1", created_at=1_700_000_000.0 + i)
                for i, t in enumerate(texts)]

    def decide(many: bool) -> list[dict[str, object]]:
        offenses = InMemoryOffenseCounter()
        now = 1_700_000_100.0
        if many:
            decisions = rules.evaluate_many(comments, offenses=offenses, now=now)
        else:
            decisions = (rules.evaluate(c, offenses=offenses, now=now) for c in comments)
        out = []
        for c, decision in zip(comments, decisions, strict=True):
            if is_offense(decision):
                assert c.author is not None and c.created_at is not None
                offenses.record(platform=c.platform, account=c.account, author=c.author,
                                at=c.created_at)
            out.append(decision.to_dict(spans=True))
        return out

    one, many = decide(False), decide(True)
    assert many == one
    assert sum(bool(d["matched"]) for d in one) >= 8


def test_a_long_page_with_regex_hits_here_and_there_equals_each_comment_alone() -> None:
    """The page's regex search is halved down to the texts that may match: hits in the
    first, a middle and the last text of 40 are all found, and nothing else."""
    matcher = _matcher(NormalizeOptions())
    texts = ["你好" * (i % 3 + 1) for i in range(40)]
    for at in (0, 17, 39):
        texts[at] = f"加 vx {at:02d}"
    page = matcher.scan_many(texts)
    assert [_seen(r) for r in page] == [_seen(matcher.scan(t)) for t in texts]
    assert [i for i, r in enumerate(page) if r.regexes] == [0, 17, 39]
