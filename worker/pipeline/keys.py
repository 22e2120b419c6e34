"""Every Redis key modworker's pipeline uses, named in one place.

All keys start with the configured prefix (``RedisConfig.key_prefix``, default ``mw``).
Variable parts (account names, target ids, comment ids, rule ids, ...) are escaped with
:func:`escape` so that a ``:`` inside an account name can never make two keys collide and a
``{``/``}`` can never break a hash tag. Escaping leaves ordinary ids and names (digits, ASCII
letters, ``-``, Chinese) unchanged; only ``%``, ``:``, ``{``, ``}``, whitespace and control
characters become ``%XX``.

Key families (``<p>`` is the prefix):

- ``<p>:seen:<target>`` zset: comment id -> last time listed; trimmed by count and age, TTL.
- ``<p>:cursor:<target>`` string: Weibo ``since_id`` / WeChat last full-pass time.
- ``<p>:gone`` hash: target key -> ``{"reason", "at"}`` (JSON); such targets are not polled.
- ``<p>:done:{<action>}`` string: ``{"outcome", "at"}`` (JSON); TTL = retention (30 days).
- ``<p>:lease:{<action>}`` string: owner token of the call in progress; PX TTL.
- ``<p>:disabled`` hash: ``<account>:<action>`` -> ``{"reason", "at"}``; until reload.
- ``<p>:batch:{<group>}:buf`` zset: buffered item id -> time added.
- ``<p>:batch:{<group>}:inflight`` hash: item id -> batch id, for each id of an in-flight batch.
- ``<p>:batch:{<group>}:done`` zset: item id -> time done; never sent again.
- ``<p>:batch:{<group>}:leases`` zset: batch id -> lease deadline.
- ``<p>:batch:{<group>}:origins`` hash: item id -> origin (which rule and comment asked).
- ``<p>:batch:{<group>}:b:<batch>`` hash: ``owner``, ``created_at``, ``deadline``, ``attempts``.
- ``<p>:batch:{<group>}:b:<batch>:ids`` zset: the batch's item ids -> time each was added.
- ``<p>:attempted:<account>`` set: batched ids sent whose outcome is not recorded yet;
  reconciled with the platform before they are sent again.
- ``<p>:refused:<account>`` hash: Weibo comment id -> destroy_batch answers that left it in place.
- ``<p>:offenses:<platform>:<account>:<author>`` zset: offense -> time; trimmed by age, TTL.
- ``<p>:rulestats:index`` set: rule ids that have counters.
- ``<p>:rulestats:since`` string: when counting started.
- ``<p>:rulestats:r:<rule>`` hash: ``hits:enforce``, ``hits:shadow``, ``last_hit``,
  ``out:<action>:<outcome>``.
- ``<p>:targets:<account>`` hash: target -> ``{"source", "at", "removed", ...}`` (JSON): the
  targets added, removed and discovered at runtime (:mod:`worker.targets.store`).
- ``<p>:tstat:<target>`` hash: one target's poll bookkeeping (:mod:`worker.targets.book`).
- ``<p>:budget:<account>`` hash: the account's poll budget and spend (:mod:`worker.targets.book`).
- ``<p>:lock:scheduler`` string: owner token of the one scheduler; PX TTL.
- ``<p>:audit`` stream: audit records, ``MAXLEN ~ 100000``.
- ``<p>:fresh:t:<target>`` hash: a target's last successful poll, last new comment, failures.
- ``<p>:fresh:index`` set: target keys with a freshness record.
- ``<p>:fresh:credentials`` hash: account -> last verdict on its credentials (JSON).
- ``<p>:daemons`` hash: ``<host>:<pid>`` -> the daemon's last beat (JSON, worker.health).

``<target>`` is a target key (:func:`target_key`: ``platform:account:target``), ``<action>``
an :class:`ActionKey` (``platform:account:target:comment:action``) and ``<group>`` a batch
group (``platform:account:kind``). Braces are Redis Cluster hash tags: every key that one
multi-key script of the ledger or of a batch group touches shares a slot. (modworker targets
one Redis server, with replicas if wanted; the tags keep the hot scripts cluster-ready.)

Built next to their one user (not defined here): ``<p>:polling:<target>`` (a poll in flight,
``actors.common.polling_marker``), ``<p>:calling:{<action>}`` (a reconciled call that may have
reached the platform, ``actors.act.calling_key``), ``<p>:notify:*`` (notification rate limits and
once-markers, :mod:`worker.notify.notifier` and ``actors.common.tell_quota_paused``) and
``<p>:wave:*`` (comment waves, :mod:`worker.waves.redis_state`).

Built by ``worker.platforms`` (which never imports the pipeline): ``<p>:token:*`` (shared
access tokens and their refresh lock), ``<p>:rate:*`` (rate limits) and ``<p>:quota:*``
(quota pauses); and ``<p>:dramatiq`` is the broker's namespace (``pipeline.broker``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

_ESCAPED = frozenset("%:{}")
_ESCAPED_OR_SPACE = re.compile("[%:{} ]")


def escape(part: str) -> str:
    """``part`` with ``%``, ``:``, ``{``, ``}``, whitespace and control characters as ``%XX``."""
    # Fast path, in C (an author key a comment on the wave path; a generator over the five
    # characters cost twice this): every whitespace character but the ASCII space is
    # unprintable to str.isprintable.
    if part.isprintable() and _ESCAPED_OR_SPACE.search(part) is None:
        return part
    out: list[str] = []
    for c in part:
        if c in _ESCAPED or c.isspace() or not c.isprintable():
            out.extend(f"%{b:02X}" for b in c.encode("utf-8"))
        else:
            out.append(c)
    return "".join(out)


def _optional(part: str | None) -> str:
    """``-`` for None; a literal ``-`` is escaped so the two stay apart."""
    if part is None:
        return "-"
    if part == "-":
        return "%2D"
    return escape(part)


def target_key(*, platform: str, account: str | None, target: str) -> str:
    """The identity of one polled target: ``platform:account:target``, each part escaped.

    This is the ``target_key`` :class:`~worker.pipeline.seen.SeenComments` takes; for a WeChat
    target, ``target`` is ``"<msg_data_id>:<index>"`` (its ``:`` is escaped here).
    """
    return f"{escape(platform)}:{_optional(account)}:{escape(target)}"


@dataclass(frozen=True, slots=True, kw_only=True)
class ActionKey:
    """The identity of one action on one comment: what idempotency is keyed on."""

    platform: str
    account: str | None
    target: str | None
    comment: str
    action: str

    def encode(self) -> str:
        return ":".join(
            (
                escape(self.platform),
                _optional(self.account),
                _optional(self.target),
                escape(self.comment),
                escape(self.action),
            )
        )

    def __str__(self) -> str:
        return self.encode()


@dataclass(frozen=True, slots=True, kw_only=True)
class BatchGroupKeys:
    """The keys of one batch group (platform, account, kind); all share one hash tag."""

    base: str  # "{p}:batch:{platform:account:kind}"

    @property
    def buffer(self) -> str:
        return f"{self.base}:buf"

    @property
    def inflight(self) -> str:
        return f"{self.base}:inflight"

    @property
    def done(self) -> str:
        return f"{self.base}:done"

    @property
    def leases(self) -> str:
        return f"{self.base}:leases"

    @property
    def origins(self) -> str:
        return f"{self.base}:origins"

    def batch(self, batch_id: str) -> str:
        return f"{self.base}:b:{escape(batch_id)}"

    def batch_ids(self, batch_id: str) -> str:
        return f"{self.base}:b:{escape(batch_id)}:ids"


@dataclass(frozen=True, slots=True, kw_only=True)
class Keys:
    """Key names under one prefix. ``Keys(prefix=config.redis.key_prefix)``."""

    prefix: str = "mw"

    def __post_init__(self) -> None:
        if not self.prefix or self.prefix != escape(self.prefix):
            raise ValueError(
                f"key prefix must be non-empty and free of ':', '{{', '}}', '%' and spaces, "
                f"got {self.prefix!r}"
            )

    # -- polling ---------------------------------------------------------------------------
    def seen(self, target: str) -> str:
        return f"{self.prefix}:seen:{target}"

    def cursor(self, target: str) -> str:
        return f"{self.prefix}:cursor:{target}"

    def gone(self) -> str:
        return f"{self.prefix}:gone"

    # -- single actions --------------------------------------------------------------------
    def done(self, action: ActionKey) -> str:
        return f"{self.prefix}:done:{{{action.encode()}}}"

    def lease(self, action: ActionKey) -> str:
        return f"{self.prefix}:lease:{{{action.encode()}}}"

    def disabled(self) -> str:
        return f"{self.prefix}:disabled"

    @staticmethod
    def disabled_field(account: str, action: str) -> str:
        return f"{escape(account)}:{escape(action)}"

    # -- batched actions -------------------------------------------------------------------
    def batch_group(self, *, platform: str, account: str, kind: str) -> BatchGroupKeys:
        tag = f"{escape(platform)}:{escape(account)}:{escape(kind)}"
        return BatchGroupKeys(base=f"{self.prefix}:batch:{{{tag}}}")

    def attempted(self, account: str) -> str:
        return f"{self.prefix}:attempted:{escape(account)}"

    def refused(self, account: str) -> str:
        return f"{self.prefix}:refused:{escape(account)}"

    # -- rules -----------------------------------------------------------------------------
    def offenses(self, *, platform: str, account: str | None, author: str) -> str:
        return f"{self.prefix}:offenses:{escape(platform)}:{_optional(account)}:{escape(author)}"

    def rulestats_index(self) -> str:
        return f"{self.prefix}:rulestats:index"

    def rulestats_since(self) -> str:
        return f"{self.prefix}:rulestats:since"

    def rulestats(self, rule_id: str) -> str:
        return f"{self.prefix}:rulestats:r:{escape(rule_id)}"

    # -- targets that manage themselves -----------------------------------------------------
    def targets(self, account: str) -> str:
        return f"{self.prefix}:targets:{escape(account)}"

    def target_status(self, target: str) -> str:
        return f"{self.prefix}:tstat:{target}"

    def budget(self, account: str) -> str:
        return f"{self.prefix}:budget:{escape(account)}"

    # -- process coordination and records --------------------------------------------------
    def scheduler_lock(self) -> str:
        return f"{self.prefix}:lock:scheduler"

    def audit(self) -> str:
        return f"{self.prefix}:audit"

    # -- freshness (worker.pipeline.freshness) ---------------------------------------------
    def freshness(self, target: str) -> str:
        return f"{self.prefix}:fresh:t:{target}"

    def freshness_index(self) -> str:
        return f"{self.prefix}:fresh:index"

    def credentials(self) -> str:
        return f"{self.prefix}:fresh:credentials"

    def daemons(self) -> str:
        return f"{self.prefix}:daemons"
