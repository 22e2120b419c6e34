"""The targets added, removed and discovered at runtime, per account, in Redis.

``modworker targets add|remove`` and discovery write here; the scheduler reads it every few
seconds and merges it with config.yaml's ``targets:`` (:func:`watched`). One hash per account
(``<p>:targets:<account>``, field: the target key, value: JSON):

- ``source``: ``added`` (``targets add``) or ``discovered`` (datacube); a config target has no
  entry unless removed;
- ``at``: when it was added or first discovered; ``published``: the day a discovered article
  was mass-sent (Unix seconds, that day's start);
- ``removed``: when ``targets remove`` stopped it (the entry stays, so a config target stays
  stopped across restarts and the history is kept; ``add`` clears it).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, Literal

import redis as redis_lib

from worker.config import ACCOUNT_LISTING, AccountConfig, Config
from worker.pipeline.keys import Keys, target_key

Source = Literal["config", "added", "discovered"]



@dataclass(frozen=True, slots=True, kw_only=True)
class StoredTarget:
    key: str  # the target key the clients take ("<msg_data_id>:<index>" or a status id)
    source: Literal["added", "discovered"]
    at: float
    published: float | None = None
    removed: float | None = None

    def to_json(self) -> str:
        data: dict[str, Any] = {"source": self.source, "at": self.at}
        if self.published is not None:
            data["published"] = self.published
        if self.removed is not None:
            data["removed"] = self.removed
        return json.dumps(data)

    @classmethod
    def from_json(cls, key: str, raw: str | bytes) -> StoredTarget:
        data = json.loads(raw)
        return cls(
            key=key, source=data["source"], at=float(data["at"]),
            published=data.get("published"), removed=data.get("removed"),
        )


@dataclass(frozen=True, slots=True, kw_only=True)
class WatchedTarget:
    """One target the scheduler may poll (or a removed one, for ``targets list``)."""

    account: str
    platform: str
    key: str
    source: Source
    tkey: str  # the Redis-wide target key
    added_at: float | None = None
    removed: bool = False


def _text(value: str | bytes) -> str:
    return value.decode() if isinstance(value, bytes) else value


class TargetStore:
    def __init__(self, *, redis: redis_lib.Redis, keys: Keys) -> None:
        self._redis = redis
        self._keys = keys

    def entries(self, account: str) -> dict[str, StoredTarget]:
        raw = self._redis.hgetall(self._keys.targets(account))
        return {
            _text(k): StoredTarget.from_json(_text(k), v) for k, v in raw.items()
        }

    def add(self, account: str, key: str, *, now: float) -> bool:
        """Watch ``key`` (again); False when it was watched already (added, not removed)."""
        current = self._get(account, key)
        if current is not None and current.removed is None:
            return False
        source: Literal["added", "discovered"] = (
            current.source if current is not None else "added"
        )
        entry = StoredTarget(
            key=key, source=source, at=current.at if current else now,
            published=current.published if current else None,
        )
        self._redis.hset(self._keys.targets(account), key, entry.to_json())
        return True

    def remove(self, account: str, key: str, *, now: float) -> None:
        """Stop polling ``key`` (whatever its source); its history stays."""
        current = self._get(account, key)
        entry = StoredTarget(
            key=key, source=current.source if current else "added",
            at=current.at if current else now,
            published=current.published if current else None, removed=now,
        )
        self._redis.hset(self._keys.targets(account), key, entry.to_json())

    def set_discovered(
        self, account: str, found: dict[str, float], *, now: float
    ) -> tuple[list[str], list[str]]:
        """Discovery's result: ``found`` maps each article in the window to the day it was
        sent. New ones are added, discovered ones no longer found (aged out) dropped;
        removed and added entries are left alone. Returns (added, dropped) keys."""
        current = self.entries(account)
        added = [k for k in found if k not in current]
        dropped = [
            k for k, e in current.items()
            if e.source == "discovered" and e.removed is None and k not in found
        ]
        pipe = self._redis.pipeline(transaction=True)
        for key in added:
            entry = StoredTarget(key=key, source="discovered", at=now, published=found[key])
            pipe.hset(self._keys.targets(account), key, entry.to_json())
        if dropped:
            pipe.hdel(self._keys.targets(account), *dropped)
        pipe.execute()
        return added, dropped

    def _get(self, account: str, key: str) -> StoredTarget | None:
        raw = self._redis.hget(self._keys.targets(account), key)
        return StoredTarget.from_json(key, raw) if raw is not None else None


def watched(
    config: Config, store: TargetStore, *, include_removed: bool = False
) -> list[WatchedTarget]:
    """Every target of every account: config's, then added and discovered ones, each once
    (a config target keeps source ``config``). Removed ones only with ``include_removed``."""
    out: list[WatchedTarget] = []
    for account in config.accounts:
        out.extend(account_targets(account, store, include_removed=include_removed))
    return out


def account_targets(
    account: AccountConfig, store: TargetStore, *, include_removed: bool = False
) -> list[WatchedTarget]:
    entries = store.entries(account.name)
    out: list[WatchedTarget] = []
    seen: set[str] = set()

    def emit(key: str, source: Source, entry: StoredTarget | None) -> None:
        if key in seen:
            return
        seen.add(key)
        removed = entry is not None and entry.removed is not None
        if removed and not include_removed:
            return
        out.append(WatchedTarget(
            account=account.name, platform=account.platform, key=key, source=source,
            tkey=target_key(platform=account.platform, account=account.name, target=key),
            added_at=entry.at if entry is not None else None, removed=removed,
        ))

    if account.listing == "account":
        emit(ACCOUNT_LISTING, "config", entries.get(ACCOUNT_LISTING))
    for target in account.targets:
        emit(target.key, "config", entries.get(target.key))
    for key, entry in sorted(entries.items(), key=lambda kv: (kv[1].at, kv[0])):
        if key == ACCOUNT_LISTING:
            continue
        emit(key, entry.source, entry)
    return out
