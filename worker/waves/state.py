"""What one comment sees of its waves: the near-duplicates and the author's comments around it.

:class:`WaveState` is recorded and queried in one step per comment, so every comment counts
for every later one whatever its rules decide. Two implementations: Redis in the daemon
(:mod:`worker.waves.redis_state`, shared by every worker and host) and memory in replay and
``check`` (:class:`MemoryWaveState`). Both order comments by ``created_at``; the windows are
around the comment (``[t - within, t + within]``), so two workers deciding a wave's copies out
of order both count each other.
"""

from __future__ import annotations

import heapq
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from typing import Protocol

from worker.comment import Comment
from worker.waves.minhash import LshIndex, bands_many

#: Most near-duplicates and author comments one query returns (the newest): bounds the cost
#: per comment in a large wave; ``at_least`` above it is refused at load.
MAX_NEIGHBOURS = 500


@dataclass(frozen=True, slots=True)
class Member:
    """Another comment of the same account, as recorded when it was observed."""

    id: str
    target: str | None
    author: str | None
    created_at: float
    content: str
    similarity: float = 1.0

    @property
    def key(self) -> str:
        return member_key(self.target, self.id)

    def comment(self, platform: str, account: str | None) -> Comment:
        return Comment(
            platform=platform,  # type: ignore[arg-type]  # recorded from a Comment's platform
            id=self.id, content=self.content, account=account, target=self.target,
            author=self.author, created_at=self.created_at,
        )


@dataclass(frozen=True, slots=True)
class WaveQuery:
    """What the rules need to know: the longest windows and the lowest similarity they ask."""

    repeated_within: float | None = None
    similarity: float = 1.0
    burst_within: float | None = None
    most: int = MAX_NEIGHBOURS  # the largest `at_least` of the repeated rules
    burst_windows: tuple[float, ...] = ()  # every burst rule's window (the widest is read)


@dataclass(frozen=True, slots=True)
class Observation:
    """The other comments a comment's ``repeated``/``burst`` conditions count."""

    created_at: float
    near: tuple[Member, ...] = ()  # near-duplicates (>= the query's similarity), newest first
    author_times: tuple[float, ...] = ()  # the author's other comments' creation times
    members: dict[str, tuple[Member, ...]] = field(default_factory=dict)  # rule -> its wave

    def repeated(self, *, within: float, similarity: float) -> list[Member]:
        low, high = self.created_at - within, self.created_at + within
        return [m for m in self.near if m.similarity >= similarity and low <= m.created_at <= high]

    def burst(self, *, within: float) -> int:
        """The most of the author's comments, this one included, that one window of
        ``within`` holding this one holds: they are written within ``within`` of each other
        (``author_times`` runs up to the longest window before and after this one, as
        comments are decided out of order)."""
        at = self.created_at
        times = sorted(t for t in self.author_times if at - within <= t <= at + within)
        best, end = 0, 0
        for start, t in enumerate(times):  # windows [t, t + within] from a comment before
            if t > at:
                break
            end = max(end, start)
            while end < len(times) and times[end] <= t + within:
                end += 1
            best = max(best, end - start)
        return 1 + max(best, sum(1 for t in times if t >= at))  # or from this one


class WaveState(Protocol):
    def observe(self, comment: Comment, text: str, query: WaveQuery, *, now: float) -> Observation:
        """Record ``comment`` (its fully normalised ``text``) and return what it sees."""
        ...

    def observe_many(
        self, comments: Sequence[tuple[Comment, str]], query: WaveQuery, *, now: float
    ) -> list[Observation]:
        """:meth:`observe` each (comment, text) in order (Redis: in one round trip)."""
        ...

    def claim(
        self, *, platform: str, account: str | None, rule: str, ids: Sequence[str],
        wave: str, within: float,
    ) -> tuple[str, list[str]]:
        """Mark ``ids`` as acted on for ``rule``; the wave id and the ids newly marked (each id
        is newly marked once, whoever asks). A wave holding one of ``ids`` lends its id."""
        ...

    def contents(
        self, *, platform: str, account: str | None, members: Sequence[Member], within: float
    ) -> dict[str, str]:
        """The texts of recorded comments by key (``Member.content`` may be left empty by
        observe); ``within`` is the query's ``repeated_within``."""
        ...


def new_claims(
    state: WaveState, comment: Comment, rule: str, members: Sequence[Member], within: float
) -> tuple[str, list[Member]]:
    """Claim a wave for ``rule`` when its ``repeated`` first holds at ``comment``: the wave id
    and the earlier members this comment's decision must also act on (none claimed before)."""
    own = member_key(comment.target, comment.id)
    keys = [own, *(m.key for m in members)]
    wave, new = state.claim(platform=comment.platform, account=comment.account, rule=rule,
                            ids=keys, wave=f"{rule}:{own}", within=within)
    fresh = [m for m in members if m.key in set(new)]
    texts = state.contents(platform=comment.platform, account=comment.account,
                           members=[m for m in fresh if not m.content], within=within)
    return wave, [replace(m, content=texts.get(m.key, m.content)) for m in fresh]


def member_key(target: str | None, comment_id: str) -> str:
    """A comment's name in its account's wave state: comment ids are per article on WeChat."""
    return f"{target or '-'}/{comment_id}"


def when_written(comment: Comment, now: float) -> float:
    return comment.created_at if comment.created_at is not None else now


@dataclass
class _Space:
    index: LshIndex = field(default_factory=LshIndex)
    members: dict[str, Member] = field(default_factory=dict)
    by_time: list[tuple[float, str]] = field(default_factory=list)  # heap
    authors: dict[str, dict[str, float]] = field(default_factory=dict)


class MemoryWaveState:
    """Waves in memory (replay, ``check``'s ``history:``), in any order of the comments.

    Every query sees what is within its own window, whatever was observed before it. Nothing
    is forgotten until the caller says no earlier comment will come (:meth:`forget_before`):
    replay, which feeds comments in ``created_at`` order, does after each page; ``check``,
    whose sample may come before some of its ``history:``, never needs to.
    """

    def __init__(self) -> None:
        self._spaces: dict[tuple[str, str | None], _Space] = {}
        self._claimed: dict[tuple[str, str | None, str], dict[str, str]] = {}
        self._floor = float("-inf")  # no comment written before it will be observed

    def forget_before(self, at: float) -> None:
        """No comment written before ``at`` will be observed from now on: what only such a
        comment's window could hold may go (at the next observation of its account)."""
        self._floor = max(self._floor, at)

    def observe_many(
        self, comments: Sequence[tuple[Comment, str]], query: WaveQuery, *, now: float
    ) -> list[Observation]:
        texts = [text for _, text in comments]
        keys = (bands_many(texts) if query.repeated_within is not None
                else [[] for _ in comments])  # a page's bands in one numpy pass
        return [self._observe(c, text, k, query, now)
                for (c, text), k in zip(comments, keys, strict=True)]

    def contents(
        self, *, platform: str, account: str | None, members: Sequence[Member], within: float
    ) -> dict[str, str]:
        space = self._spaces.get((platform, account))
        if space is None:
            return {}
        return {m.key: space.members[m.key].content for m in members
                if m.key in space.members}

    def claim(
        self, *, platform: str, account: str | None, rule: str, ids: Sequence[str],
        wave: str, within: float,
    ) -> tuple[str, list[str]]:
        claimed = self._claimed.setdefault((platform, account, rule), {})
        wave = next((claimed[i] for i in ids if i in claimed), wave)
        new = [i for i in dict.fromkeys(ids) if i not in claimed]
        for i in new:
            claimed[i] = wave
        return wave, new

    def observe(self, comment: Comment, text: str, query: WaveQuery, *, now: float) -> Observation:
        return self.observe_many([(comment, text)], query, now=now)[0]

    def _observe(self, comment: Comment, text: str, keys: list[str], query: WaveQuery,
                 now: float) -> Observation:
        at = when_written(comment, now)
        space = self._spaces.setdefault((comment.platform, comment.account), _Space())
        own = member_key(comment.target, comment.id)
        near: list[Member] = []
        if query.repeated_within is not None:
            self._trim(space, self._floor - query.repeated_within)
            for key, sim in space.index.similar(text, query.similarity, keys).items():
                if key == own:
                    continue
                member = space.members[key]
                if abs(member.created_at - at) <= query.repeated_within:
                    near.append(_with_similarity(member, sim))
            if own not in space.members:
                member = Member(comment.id, comment.target, comment.author, at, comment.content)
                space.members[own] = member
                space.index.add(own, text, keys)
                heapq.heappush(space.by_time, (at, own))
        times: list[float] = []
        if query.burst_within is not None and comment.author is not None:
            seen = space.authors.setdefault(comment.author, {})
            for key, t in list(seen.items()):
                if t < self._floor - query.burst_within:
                    del seen[key]
                elif key != own and abs(t - at) <= query.burst_within:
                    times.append(t)
            seen[own] = at
        near.sort(key=lambda m: -m.created_at)
        return Observation(at, tuple(near[:MAX_NEIGHBOURS]), tuple(times))

    @staticmethod
    def _trim(space: _Space, before: float) -> None:
        while space.by_time and space.by_time[0][0] < before:
            _, key = heapq.heappop(space.by_time)
            space.members.pop(key, None)
            space.index.remove(key)


def _with_similarity(member: Member, similarity: float) -> Member:
    return Member(member.id, member.target, member.author, member.created_at, member.content,
                  similarity)
