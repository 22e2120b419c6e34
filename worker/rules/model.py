"""The compiled form of rule files: rules, conditions, actions, decisions.

Conditions are small objects with one ``holds(ctx)`` method; the loader builds them from YAML,
the engine evaluates them. Content conditions only look up the ids a scan reported, so the
text is scanned once per comment for all rules together, never once per rule.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal, Protocol, runtime_checkable

from worker.comment import Comment
from worker.platform_specs import ACTION_PLATFORMS as SPEC_ACTION_PLATFORMS
from worker.platform_specs import Action as SpecAction
from worker.platform_specs import Platform

if TYPE_CHECKING:
    from worker.rules.matcher import ScanResult
    from worker.rules.normalize import NormalizeOptions
    from worker.waves.state import Member, Observation

Mode = Literal["enforce", "shadow"]
#: The action names rules use: the platforms' typed enum, and ``notify`` (a message to the
#: moderators' channel, not a platform call, so every platform has it).
ActionType = SpecAction | Literal["notify"]

#: Which platform can carry out which action (rules-spec.md, "Actions"): from the specs.
ACTION_PLATFORMS: Mapping[str, frozenset[str]] = {
    **SPEC_ACTION_PLATFORMS,
    "notify": frozenset().union(*SPEC_ACTION_PLATFORMS.values()),
}

#: Actions a planned deletion makes pointless (rules-spec.md, "Evaluation").
SUPPRESSED_BY_DELETE: frozenset[str] = frozenset({"reply", "elect", "unelect"})

#: Actions that count as an offense of the author for ``author.offenses``.
OFFENSE_ACTIONS: frozenset[str] = frozenset({"delete", "blacklist"})


@runtime_checkable
class OffenseCounts(Protocol):
    """How many offenses an author had within a window (Redis in the daemon, memory in replay)."""

    def count(
        self, *, platform: str, account: str | None, author: str, within: float, now: float
    ) -> int: ...

    def record(self, *, platform: str, account: str | None, author: str, at: float) -> None: ...


@dataclass(slots=True)
class EvalContext:
    """Everything a condition may look at for one comment."""

    comment: Comment
    scans: list[ScanResult]  # one per normalisation group, indexed by group
    now: float
    offenses: OffenseCounts | None
    waves: Observation | None = None  # what `repeated` / `burst` count (worker/rules/waves.py)


class Condition(Protocol):
    def holds(self, ctx: EvalContext) -> bool: ...


Signal = tuple[int, str, int]  # (group, "lit" | "re", id)


@dataclass(frozen=True, slots=True)
class AllOf:
    children: tuple[Condition, ...]

    def holds(self, ctx: EvalContext) -> bool:
        return all(child.holds(ctx) for child in self.children)


@dataclass(frozen=True, slots=True)
class AnyOf:
    children: tuple[Condition, ...]

    def holds(self, ctx: EvalContext) -> bool:
        return any(child.holds(ctx) for child in self.children)


@dataclass(frozen=True, slots=True)
class Not:
    child: Condition

    def holds(self, ctx: EvalContext) -> bool:
        return not self.child.holds(ctx)


@dataclass(frozen=True, slots=True)
class LiteralHit:
    """``includes`` / ``includes_word`` / ``starts_with`` / ``ends_with`` / ``full_exact`` /
    ``sounds_like``; the ids of a map with ``allow`` only ever report hits no allow term covers."""

    group: int
    ids: frozenset[int]

    def holds(self, ctx: EvalContext) -> bool:
        return not self.ids.isdisjoint(ctx.scans[self.group].literals)


@dataclass(frozen=True, slots=True)
class RegexHit:
    group: int
    ids: frozenset[int]

    def holds(self, ctx: EvalContext) -> bool:
        return not self.ids.isdisjoint(ctx.scans[self.group].regexes)


@dataclass(frozen=True, slots=True)
class Length:
    """``min_length`` / ``max_length``: characters of the normalised text, separators kept."""

    group: int
    minimum: int | None
    maximum: int | None

    def holds(self, ctx: EvalContext) -> bool:
        length = len(ctx.scans[self.group].text.kept)
        if self.minimum is not None and length < self.minimum:
            return False
        return self.maximum is None or length <= self.maximum


@dataclass(frozen=True, slots=True)
class Letters:
    """``min_letters`` / ``max_letters``: letters, digits and Han of the normalised text.

    Punctuation, symbols, emoji and spaces do not count, so ``太棒了！！！！！！`` is 3, not 9.
    """

    group: int
    minimum: int | None
    maximum: int | None

    def holds(self, ctx: EvalContext) -> bool:
        count = letter_count(ctx.scans[self.group].text.kept)
        if self.minimum is not None and count < self.minimum:
            return False
        return self.maximum is None or count <= self.maximum


def letter_count(text: str) -> int:
    """Letters (Han included: they are letters to Unicode) and digits of ``text``."""
    return sum(1 for c in text if c.isalnum())


@dataclass(frozen=True, slots=True)
class AuthorIn:
    """``author.in`` (negate=False) / ``author.not_in`` (negate=True).

    A comment without an author id never satisfies ``in`` and always satisfies ``not_in``.
    """

    ids: frozenset[str]
    negate: bool

    def holds(self, ctx: EvalContext) -> bool:
        author = ctx.comment.author
        inside = author is not None and author.casefold() in self.ids
        return inside != self.negate


@dataclass(frozen=True, slots=True)
class AuthorOffenses:
    """``author.offenses``: N offenses within the window that ends when the comment was written."""

    at_least: int
    within: float

    def holds(self, ctx: EvalContext) -> bool:
        author = ctx.comment.author
        if author is None or ctx.offenses is None:
            return False
        # The window ends when the comment was written, so replaying old recordings counts
        # what the author had done by then, as the daemon did at the time.
        created = ctx.comment.created_at
        count = ctx.offenses.count(
            platform=ctx.comment.platform, account=ctx.comment.account, author=author,
            within=self.within, now=created if created is not None else ctx.now,
        )
        return count >= self.at_least


@dataclass(frozen=True, slots=True)
class CommentFlag:
    name: Literal["elected", "replied"]
    value: bool

    def holds(self, ctx: EvalContext) -> bool:
        return bool(getattr(ctx.comment, self.name)) == self.value


@dataclass(frozen=True, slots=True)
class CommentAge:
    """``comment.age``; a comment whose creation time is unknown satisfies neither bound."""

    older_than: float | None
    newer_than: float | None

    def holds(self, ctx: EvalContext) -> bool:
        created = ctx.comment.created_at
        if created is None:
            return False
        age = ctx.now - created
        if self.older_than is not None and age <= self.older_than:
            return False
        return self.newer_than is None or age < self.newer_than


def required_signals(cond: Condition | None) -> frozenset[Signal] | None:
    """Signals of which at least one must fire for ``cond`` to hold; None if there is no such set.

    The engine skips a rule whose required signals all stayed silent, so a comment that hits
    no term and no pattern costs only the rules that do not depend on content at all.
    """
    if cond is None:
        return None
    if isinstance(cond, LiteralHit):
        return frozenset((cond.group, "lit", i) for i in cond.ids)
    if isinstance(cond, RegexHit):
        return frozenset((cond.group, "re", i) for i in cond.ids)
    if isinstance(cond, AllOf):
        options = [s for s in (required_signals(c) for c in cond.children) if s is not None]
        return min(options, key=len) if options else None
    if isinstance(cond, AnyOf):
        union: set[Signal] = set()
        for child in cond.children:
            signals = required_signals(child)
            if signals is None:
                return None
            union |= signals
        return frozenset(union)
    return None


def offense_windows(cond: Condition | None) -> frozenset[float]:
    """The windows (``within``) of every ``author.offenses`` in ``cond``, negated ones too."""
    found: set[float] = set()

    def walk(node: Condition | None) -> None:
        if isinstance(node, AuthorOffenses):
            found.add(node.within)
        elif isinstance(node, AllOf | AnyOf):
            for child in node.children:
                walk(child)
        elif isinstance(node, Not):
            walk(node.child)

    walk(cond)
    return frozenset(found)


def content_hits(cond: Condition | None) -> tuple[LiteralHit | RegexHit, ...]:
    """The term and regex conditions of ``cond`` in source order (for ``{match}`` and audit
    spans): each holds its ids, so a rule need not keep one signal tuple per term."""
    found: list[LiteralHit | RegexHit] = []

    def walk(node: Condition | None) -> None:
        if isinstance(node, LiteralHit | RegexHit):
            found.append(node)
        elif isinstance(node, AllOf | AnyOf):
            for child in node.children:
                walk(child)
        # `not` is deliberately skipped: what must be absent is no match to show.

    walk(cond)
    return tuple(found)


def has_content(cond: Condition | None) -> bool:
    """Whether ``cond`` has some content signal (a term or regex condition with ids)."""
    return any(hit.ids for hit in content_hits(cond))


def branches_content(cond: Condition | None) -> bool:
    """Whether an ``any`` in ``cond`` has content signals: then a fired signal may belong to a
    branch that does not hold, and spans must come from :func:`held_signals`."""
    if isinstance(cond, AnyOf):
        return has_content(cond)
    if isinstance(cond, AllOf):
        return any(branches_content(child) for child in cond.children)
    return False


def settled(cond: Condition) -> bool:
    """Whether ``cond`` holds, branch for branch, the same for a comment whenever it is asked:
    no ``author.offenses`` (a count the caller moves once a comment is decided) and no wave
    condition. Then :func:`held_signals` may wait until a span is asked for."""
    if isinstance(cond, AllOf | AnyOf):
        return all(settled(child) for child in cond.children)
    if isinstance(cond, Not):
        return settled(cond.child)
    return isinstance(
        cond, LiteralHit | RegexHit | Length | Letters | AuthorIn | CommentFlag | CommentAge
    )


def held_signals(cond: Condition, ctx: EvalContext) -> frozenset[Signal]:
    """The content signals that fired in the branches of ``cond`` that hold (``cond`` holds)."""
    found: set[Signal] = set()

    def walk(node: Condition) -> None:
        if isinstance(node, LiteralHit):
            hits = node.ids & ctx.scans[node.group].literals
            found.update((node.group, "lit", i) for i in hits)
        elif isinstance(node, RegexHit):
            hits = node.ids & ctx.scans[node.group].regexes
            found.update((node.group, "re", i) for i in hits)
        elif isinstance(node, AllOf):
            for child in node.children:
                walk(child)
        elif isinstance(node, AnyOf):
            for child in node.children:
                if child.holds(ctx):
                    walk(child)

    walk(cond)
    return frozenset(found)


@dataclass(frozen=True, slots=True)
class Action:
    type: ActionType
    template: Any = None  # a ReplyTemplate for `reply`
    channel: str | None = None  # the channel of `notify`

    def label(self) -> str:
        return self.type if self.channel is None else f"{self.type}:{self.channel}"


@dataclass(frozen=True, slots=True)
class HistoryEntry:
    """One earlier comment of a test sample's ``history:`` (same platform and account)."""

    content: str
    author: str
    before: float = 0.0  # seconds before the sample was written; or
    created_at: float | None = None


@dataclass(frozen=True, slots=True)
class RuleSample:
    """One entry of a rule's ``tests``: a comment that must (or must not) match."""

    content: str
    expect_match: bool
    line: int | None
    platform: Platform | None = None  # None: the rule's first platform, else wechat
    account: str | None = None  # None: the rule's first account, else none
    author: str | None = None
    created_at: float | None = None  # Unix seconds; or:
    age: float | None = None  # seconds before the test runs
    elected: bool = False
    replied: bool = False
    offenses: int | None = None  # the author's prior offenses within the rule's window
    history: tuple[HistoryEntry, ...] = ()  # earlier comments, for `repeated` and `burst`


@dataclass(frozen=True, kw_only=True)
class Rule:
    id: str
    file: str
    line: int
    order: int  # position across all files, for ties in priority
    description: str = ""
    priority: int = 0
    mode: Mode = "enforce"
    enabled: bool = True
    platforms: frozenset[Platform] | None = None
    accounts: frozenset[str] | None = None
    when: Condition | None = None
    then: tuple[Action, ...] = ()
    stop: bool = False
    normalize: NormalizeOptions | None = None
    group: int = 0
    samples: tuple[RuleSample, ...] = ()
    content_hits: tuple[LiteralHit | RegexHit, ...] = ()  # see content_hits()
    branching: bool = False  # see branches_content

    def applies_to(self, comment: Comment) -> bool:
        if not self.enabled:
            return False
        if self.platforms is not None and comment.platform not in self.platforms:
            return False
        return self.accounts is None or comment.account in self.accounts


@dataclass(frozen=True, slots=True)
class Span:
    start: int
    end: int
    text: str


@dataclass(frozen=True, slots=True)
class RuleMatch:
    rule: str
    mode: Mode
    after_stop: bool = False  # a shadow rule that matched after an enforced rule's stop


@dataclass(frozen=True, slots=True)
class PlannedAction:
    type: ActionType
    rule: str
    mode: Mode
    text: str | None = None  # rendered reply
    after_stop: bool = False  # asked by a shadow rule that matched after an enforced stop
    channel: str | None = None  # `notify`'s channel

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"type": self.type}
        if self.text is not None:
            out["text"] = self.text
        if self.channel is not None:
            out["channel"] = self.channel
        out["rule"] = self.rule
        if self.mode == "shadow":
            out["mode"] = "shadow"
        if self.after_stop:
            out["after_stop"] = True
        return out


@dataclass(frozen=True, slots=True)
class SkippedAction:
    type: ActionType
    rule: str
    reason: str

    def to_dict(self) -> dict[str, Any]:
        return {"type": self.type, "rule": self.rule, "reason": self.reason}


@dataclass(slots=True, init=False)
class Decision:
    """What the rules decided for one comment.

    Spans (what each rule matched, in the original text) are computed on first request: they
    need an offset map of the normalisation, which costs far more than the decision itself.
    """

    comment: Comment
    matches: list[RuleMatch] = field(default_factory=list)
    actions: list[PlannedAction] = field(default_factory=list)
    skipped: list[SkippedAction] = field(default_factory=list)
    span_finder: Callable[[str], Span | None] | None = None
    _spans: dict[str, Span | None] = field(default_factory=dict)
    #: rule -> the earlier members of the wave its ``repeated`` condition found (newest first)
    waves: dict[str, tuple[Member, ...]] = field(default_factory=dict)

    def __init__(
        self,
        comment: Comment,
        matches: list[RuleMatch] | None = None,
        actions: list[PlannedAction] | None = None,
        skipped: list[SkippedAction] | None = None,
        span_finder: Callable[[str], Span | None] | None = None,
        _spans: dict[str, Span | None] | None = None,
        waves: dict[str, tuple[Member, ...]] | None = None,
    ) -> None:
        """The generated ``__init__``, written out: literals instead of a factory call per
        field (a decision is made for every comment, most of them with nothing in it)."""
        self.comment = comment
        self.matches = [] if matches is None else matches
        self.actions = [] if actions is None else actions
        self.skipped = [] if skipped is None else skipped
        self.span_finder = span_finder
        self._spans = {} if _spans is None else _spans
        self.waves = {} if waves is None else waves

    @property
    def matched(self) -> list[str]:
        return [m.rule for m in self.matches]

    @property
    def after_stop(self) -> list[str]:
        """Shadow rules that matched after an enforced rule's ``stop`` (counted, never acting)."""
        return [m.rule for m in self.matches if m.after_stop]

    def span(self, rule_id: str) -> Span | None:
        """The original text ``rule_id`` matched (None: no content condition fired)."""
        if rule_id not in self._spans:
            self._spans[rule_id] = self.span_finder(rule_id) if self.span_finder else None
        return self._spans[rule_id]

    def spans(self) -> dict[str, Span]:
        found = {m.rule: self.span(m.rule) for m in self.matches}
        return {rule: span for rule, span in found.items() if span is not None}

    def to_dict(self, *, spans: bool = False) -> dict[str, Any]:
        out: dict[str, Any] = {
            "id": self.comment.id,
            "matched": self.matched,
            "actions": [a.to_dict() for a in self.actions],
        }
        after_stop = self.after_stop
        if after_stop:
            out["after_stop"] = after_stop
        if spans and self.matches:
            found = self.spans()
            if found:
                out["spans"] = {rule: [s.start, s.end, s.text] for rule, s in found.items()}
        if self.skipped:
            out["skipped"] = [s.to_dict() for s in self.skipped]
        if self.waves:
            out["waves"] = {rule: [m.id for m in members] for rule, members in self.waves.items()}
        return out
