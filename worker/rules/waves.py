"""The rule conditions that count other comments: ``content.repeated`` and ``author.burst``.

They read :attr:`EvalContext.waves`, the :class:`~worker.waves.state.Observation` the engine
records once per comment before any rule runs (so every comment counts, whatever its rules
decide). What the rules need from the wave state (the longest windows, the lowest similarity)
is gathered from the conditions by :func:`wave_query`.
"""

from __future__ import annotations

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
        """The near-duplicates that make this comment's wave ([] when it holds none)."""
        return self._wave(ctx) or []

    def holds(self, ctx: EvalContext) -> bool:
        return self._wave(ctx) is not None

    def _wave(self, ctx: EvalContext) -> list[Member] | None:
        """The near-duplicates sharing with this comment a window of ``within`` that holds
        ``at_least`` copies (authors), this one included; None when no window does.

        The state returns copies up to ``within`` before *or after* this one (workers decide
        copies out of order), which may span twice the window; counting them all would make
        the daemon cut copies an hour and more apart that replay, deciding in order, never
        counts together. So the N copies must lie within ``within`` of each other."""
        if ctx.waves is None:
            return None
        near = ctx.waves.repeated(within=self.within, similarity=self.similarity)
        if len(near) + 1 < self.at_least:
            return None
        at = ctx.waves.created_at
        comment = ctx.comment
        own = comment.author or f"#{member_key(comment.target, comment.id)}"
        times = [m.created_at for m in near]
        if max(*times, at) - min(*times, at) <= self.within:  # one window holds them all
            return near if self._enough(near, own) else None
        found: dict[str, Member] = {}
        # A window [s, s + within] holding this comment starts at it or at a copy before it.
        for start in sorted({at, *(t for t in times if at - self.within <= t <= at)}):
            inside = [m for m in near if start <= m.created_at <= start + self.within]
            if self._enough(inside, own):
                found.update((m.key, m) for m in inside)
        return [m for m in near if m.key in found] if found else None

    def _enough(self, members: list[Member], own_author: str) -> bool:
        if len(members) + 1 < self.at_least:
            return False
        if self.authors == "any":
            return True
        # A comment without an author id (WeChat's non-WeChat identities) is nobody else.
        authors = {own_author, *(m.author or f"#{m.key}" for m in members)}
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


def wave_text(content: str) -> str:
    """The fully normalised text near-duplicates are measured on (separators skipped)."""
    global _normalizer
    if _normalizer is None:
        _normalizer = Normalizer(WAVE_NORMALIZE)
    return _normalizer.normalize(content).skeleton
