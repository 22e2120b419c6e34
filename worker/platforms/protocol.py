"""The one shape of a platform client, as the pipeline sees it.

The pipeline calls only these methods; everything platform-specific (how a listing pages,
how an uncertain batch is reconciled, which endpoint an action is) stays in the client.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass, field
from typing import Protocol, runtime_checkable

from worker.comment import Comment
from worker.config import PollingConfig
from worker.platform_specs import Action, PlatformSpec
from worker.platforms.results import ActionResult


class PollSink(Protocol):
    """Where a poll puts what it lists, and where it keeps its place between polls."""

    def send(self, comments: list[Comment]) -> int:
        """Send the new ones of ``comments`` on for moderation; how many were new."""
        ...

    def keep_alive(self) -> None:
        """Called every page: the poll is still running."""
        ...

    def cursor(self) -> str | None:
        """The target's cursor, as the last poll left it (None before the first)."""
        ...

    def set_cursor(self, value: float) -> None:
        """Set the cursor unconditionally."""
        ...

    def advance_cursor(self, value: int) -> None:
        """Move an integer cursor forward only (a late poll never moves it back)."""
        ...


@dataclass(slots=True)
class BatchOutcome:
    """What the calls of one batch found out, filled in as answers arrive (a failure midway
    keeps what was done before it): ids ``done``, ids ``failed`` with their ``reasons``,
    and ids the platform ``kept`` after an answer without error (worth sending again)."""

    done: list[str] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)
    reasons: dict[str, str] = field(default_factory=dict)
    kept: list[str] = field(default_factory=list)

    def fail(self, ids: list[str], reason: str) -> None:
        self.failed.extend(ids)
        self.reasons.update(dict.fromkeys(ids, reason))


class PlatformClient(Protocol):
    """A platform client: every action of its spec, one poll, one batched call."""

    spec: PlatformSpec

    def perform(
        self, action: Action, target: str, comment_id: str, text: str | None = None
    ) -> ActionResult:
        """Carry out one single action of the spec (not its ``batch_action``, which is sent
        in batches, except Weibo's delete when the batch path is bypassed); PermanentError for
        an action the platform does not have."""
        ...

    def effect_holds(self, action: Action, target: str, comment_id: str) -> bool:
        """For a ``reconciled`` action: whether its effect holds now (read from the platform)."""
        ...

    def poll(self, target: str, sink: PollSink, polling: PollingConfig) -> int:
        """List the target's comments new since the sink's cursor into the sink; how many
        were new."""
        ...

    def send_batch(
        self, ids: list[str], *, uncertain: Collection[str] = (),
        into: BatchOutcome | None = None,
    ) -> BatchOutcome:
        """Carry out the spec's ``batch_action`` on up to 20 ids. ``uncertain``: ids an
        earlier send may have reached the platform with (reconciled first where a repeat is
        not harmless). Fills ``into`` (a new outcome when None) as answers arrive."""
        ...

    def verify_credentials(self, target: str | None) -> str | None:
        """One read-only call that needs working credentials (a token fetched first where the
        platform has one), about ``target`` when given; the endpoint asked, or None when
        there is nothing to ask without a target. Raises like any call (AuthError, ...)."""
        ...

    def drop_cached_token(self) -> bool:
        """Forget a cached access token, so the next call fetches one with the credentials
        configured now; False when none was cached (or the platform caches none)."""
        ...

    def close(self) -> None: ...


@dataclass(frozen=True, slots=True, kw_only=True)
class QuotaReading:
    """The calls a platform allows polling in its quota window: ``limit`` in all, ``used``
    so far (as far as known), and when the window resets."""

    limit: int
    used: int
    reset_at: float


@runtime_checkable
class PollQuota(Protocol):
    """A client that can tell the quota its listing spends (the poll budget's source)."""

    def poll_quota(self, now: float) -> QuotaReading: ...


@runtime_checkable
class TargetDiscovery(Protocol):
    """A client that can find an account's targets by itself (WeChat: datacube)."""

    def discover_targets(self, *, now: float, window: float) -> dict[str, float]:
        """Target key -> when it was published, for everything published in ``window``
        seconds before ``now``."""
        ...
