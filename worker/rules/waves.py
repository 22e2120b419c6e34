"""The rule conditions that count other comments: ``content.repeated`` and ``author.burst``.

They read :attr:`EvalContext.waves`, the :class:`~worker.waves.state.Observation` the engine
records once per comment before any rule runs (so every comment counts, whatever its rules
decide). What the rules need from the wave state (the longest windows, the lowest similarity)
is gathered from the conditions by :func:`wave_query`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

from worker.rules.model import AllOf, AnyOf, Condition, EvalContext, Not
from worker.rules.normalize import NormalizeOptions, Normalizer
from worker.waves.state import Member, WaveQuery, member_key

#: "Fully normalised" for near-duplicates: every step on, whatever a rule's own normalize says,
#: so one recorded text serves every rule and stays the same across rule reloads.
WAVE_NORMALIZE = NormalizeOptions(traditional_to_simplified=True, collapse_repeats=1)


@dataclass(frozen=True, slots=True)
class Repeated:
    """``content.repeated``: N near-duplicates (this one included) from N authors or comments."""

    at_least: int
    within: float
    similarity: float = 0.7
    authors: Literal["distinct", "any"] = "distinct"

    def members(self, ctx: EvalContext) -> list[Member]:
        if ctx.waves is None:
            return []
        return ctx.waves.repeated(within=self.within, similarity=self.similarity)

    def holds(self, ctx: EvalContext) -> bool:
        members = self.members(ctx)
        if len(members) + 1 < self.at_least:
            return False
        if self.authors == "any":
            return True
        # A comment without an author id (WeChat's non-WeChat identities) is nobody else.
        comment = ctx.comment
        authors = {comment.author or f"#{member_key(comment.target, comment.id)}"}
        authors.update(m.author or f"#{m.key}" for m in members)
        return len(authors) >= self.at_least


@dataclass(frozen=True, slots=True)
class AuthorBurst:
    """``author.burst``: the author's comments in this account within the window, this one too."""

    at_least: int
    within: float

    def holds(self, ctx: EvalContext) -> bool:
        if ctx.waves is None or ctx.comment.author is None:
            return False
        return ctx.waves.burst(within=self.within) >= self.at_least


def _walk(cond: Condition | None) -> list[Condition]:
    if cond is None:
        return []
    if isinstance(cond, AllOf | AnyOf):
        return [node for child in cond.children for node in _walk(child)]
    if isinstance(cond, Not):
        return _walk(cond.child)
    return [cond]


def wave_query(conditions: list[Condition | None]) -> WaveQuery | None:
    """The state the conditions read, or None when none of them counts other comments."""
    leaves = [leaf for cond in conditions for leaf in _walk(cond)]
    repeated = [c for c in leaves if isinstance(c, Repeated)]
    bursts = [c for c in leaves if isinstance(c, AuthorBurst)]
    if not repeated and not bursts:
        return None
    return WaveQuery(
        repeated_within=max((c.within for c in repeated), default=None),
        similarity=min((c.similarity for c in repeated), default=1.0),
        burst_within=max((c.within for c in bursts), default=None),
        most=max((c.at_least for c in repeated), default=1),
        burst_windows=tuple(sorted({c.within for c in bursts})),
    )


def wave_members(cond: Condition, ctx: EvalContext) -> tuple[Member, ...]:
    """The earlier members of the waves the held ``repeated`` conditions of ``cond`` found."""
    found: dict[str, Member] = {}

    def walk(node: Condition) -> None:
        if isinstance(node, Repeated):
            if node.holds(ctx):
                for member in node.members(ctx):
                    found.setdefault(member.key, member)
        elif isinstance(node, AllOf):
            for child in node.children:
                walk(child)
        elif isinstance(node, AnyOf):
            for child in node.children:
                if child.holds(ctx):
                    walk(child)
        # `not repeated` is no wave to act on.

    walk(cond)
    return tuple(sorted(found.values(), key=lambda m: -m.created_at))


_normalizer: Normalizer | None = None


def _wave_normalizer() -> Normalizer:
    global _normalizer
    if _normalizer is None:
        _normalizer = Normalizer(WAVE_NORMALIZE)
    return _normalizer


def wave_text(content: str) -> str:
    """The fully normalised text near-duplicates are measured on (separators skipped)."""
    return _wave_normalizer().normalize(content).skeleton


def wave_texts(contents: Sequence[str]) -> list[str]:
    """:func:`wave_text` of each of a page's comments, normalised together."""
    return _wave_normalizer().skeletons(contents)
