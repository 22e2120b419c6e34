"""The audit stream: every decision and every action outcome, kept for a time, bounded.

One Redis stream, trimmed by age on every append (``XADD ... MINID ~ <now - retention>``):
records older than ``retention`` (default 7 days, ``audit.retention``) go, whole nodes at a
time, so a few records past the bound may stay a little longer. A count bound would keep a
busy deployment's audit for less than a day (100,000 records) and a quiet one's for months.
Each record field is one stream field whose value is JSON (``ensure_ascii=False``: Chinese
stays readable in ``redis-cli`` too), so lists and numbers come back as they went in. Plain
values (strings, whole and finite numbers, booleans, None, lists and string-keyed dicts of
them: every record the daemon writes) are encoded by orjson, 10x cheaper; anything else by the
standard library with ``default=str``, as before, so every value reads back the same.

Record fields (others are kept as given):

- ``kind``: ``decision``, ``action``, ``poll``, ``wave`` or ``notify`` (required); ``ts``
  (Unix seconds, default now);
- ``platform``, ``account``, ``target``, ``comment_id``;
- decision: ``rules`` (matched rule ids, in evaluation order), ``actions`` (planned:
  ``[{"type": "delete"}, ...]``);
- action: ``action``, ``rule`` (who asked), ``outcome`` (``ok``, ``already_done``, ``dry_run``,
  ``failed``, ``deferred``), ``errcode``, ``attempt``, ``detail``;
- poll (a failed poll, or one that found new comments or ended a run of failures):
  ``outcome`` (``ok``, ``failed``, ``deferred``), ``new_comments``, ``reason``, ``errcode``,
  ``detail``, ``duration_ms``.

:meth:`AuditLog.read` filters by append time (the stream id, milliseconds) and by fields,
newest first; each returned dict also carries ``stream_id``.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from typing import Any

import orjson
import redis

from worker.pipeline._redis import Clock, text, wall_clock
from worker.pipeline.keys import Keys

#: ``wave``: an earlier member of a copy-paste wave acted on (worker/waves/acting.py);
#: ``notify``: a digest sent to a notify channel, or a try that failed.
KINDS: frozenset[str] = frozenset({"decision", "action", "poll", "wave", "notify"})
OUTCOMES: frozenset[str] = frozenset({"ok", "already_done", "dry_run", "failed", "deferred"})

_SCAN_CHUNK = 500
DEFAULT_RETENTION = 7 * 86400.0


class AuditLog:
    def __init__(
        self,
        *,
        redis: redis.Redis,
        keys: Keys | None = None,
        retention: float = DEFAULT_RETENTION,
        approximate: bool = True,
        clock: Clock = wall_clock,
    ) -> None:
        if retention <= 0:
            raise ValueError("retention must be positive")
        self._redis = redis
        self._keys = keys or Keys()
        self._key = self._keys.audit()
        self.retention = retention
        self.approximate = approximate
        self._clock = clock

    def using(self, client: redis.Redis | Any) -> AuditLog:
        """The same audit log writing through ``client`` (e.g. a pipeline of the caller's)."""
        return AuditLog(redis=client, keys=self._keys, retention=self.retention,
                        approximate=self.approximate, clock=self._clock)

    def append(self, record: Mapping[str, Any]) -> str:
        """Add one record; returns its stream id. Raises ValueError on a bad kind/outcome."""
        return self.append_encoded(self.encode(record))

    def append_encoded(self, fields: Mapping[bytes, bytes]) -> str:
        """Add a record :meth:`encode` made (on a pipeline: queue it)."""
        oldest_kept = max(0, int((self._clock() - self.retention) * 1000))
        entry: dict[Any, Any] = dict(fields)
        stream_id = self._redis.xadd(
            self._key, entry, minid=oldest_kept, approximate=self.approximate
        )
        return text(stream_id)

    def encode(self, record: Mapping[str, Any]) -> dict[bytes, bytes]:
        """The stream fields of ``record``, ``ts`` added if absent: whatever keeps it from
        being stored (a bad kind or outcome, a lone surrogate) is raised here."""
        kind = record.get("kind")
        if kind not in KINDS:
            raise ValueError(f"audit record kind must be one of {sorted(KINDS)}, got {kind!r}")
        outcome = record.get("outcome")
        if outcome is not None and outcome not in OUTCOMES:
            raise ValueError(
                f"audit record outcome must be one of {sorted(OUTCOMES)}, got {outcome!r}"
            )
        encoded = {_field_name(name): _json(value) for name, value in record.items()}
        if "ts" not in record:
            encoded[b"ts"] = _json(self._clock())
        return encoded

    def read(
        self,
        *,
        since: float | None = None,
        until: float | None = None,
        kind: str | None = None,
        platform: str | None = None,
        account: str | None = None,
        target: str | None = None,
        comment_id: str | None = None,
        rule: str | None = None,
        action: str | None = None,
        outcome: str | None = None,
        limit: int = 100,
    ) -> list[dict[str, Any]]:
        """Records appended in ``[since, until]`` matching every given filter, newest first.

        ``rule`` matches a decision that matched it or an action it asked for; ``action``
        matches an action record of that type or a decision that planned it.
        """
        if limit < 1:
            return []
        wanted = {
            "kind": kind,
            "platform": platform,
            "account": account,
            "target": target,
            "comment_id": comment_id,
            "outcome": outcome,
        }
        equal = {name: value for name, value in wanted.items() if value is not None}
        high = "+" if until is None else str(int(until * 1000))
        low = "-" if since is None else str(int(since * 1000))
        out: list[dict[str, Any]] = []
        while True:
            reply: Any = self._redis.xrevrange(self._key, max=high, min=low, count=_SCAN_CHUNK)
            entries: list[Any] = list(reply or [])
            for stream_id, raw in entries:
                record = _decode(raw)
                record["stream_id"] = text(stream_id)
                if _matches(record, equal, rule, action):
                    out.append(record)
                    if len(out) >= limit:
                        return out
            if len(entries) < _SCAN_CHUNK:
                return out
            high = "(" + text(entries[-1][0])

    def length(self) -> int:
        return int(self._redis.xlen(self._key))


_FIELD_NAMES: dict[str, bytes] = {}


def _field_name(name: Any) -> bytes:
    """A field name as UTF-8; the few names records use are encoded once."""
    encoded = _FIELD_NAMES.get(name)
    if encoded is None:
        encoded = str(name).encode()
        if isinstance(name, str) and len(_FIELD_NAMES) < 256:
            _FIELD_NAMES[name] = encoded
    return encoded


def _json(value: Any) -> bytes:
    """``value`` as UTF-8 JSON: orjson for plain values, the standard library otherwise (it
    writes NaN, an enum's str(), an integer beyond 64 bits, a non-string key as before)."""
    if value is None:
        return b"null"
    if not _plain(value):
        return _standard_json(value)
    try:
        return orjson.dumps(value)
    except TypeError:  # a lone surrogate, an integer beyond 64 bits
        return _standard_json(value)


def _standard_json(value: Any) -> bytes:
    """The standard library's JSON, UTF-8: a lone surrogate raises UnicodeEncodeError here,
    as it did when Redis's client encoded the text."""
    return json.dumps(value, ensure_ascii=False, default=str).encode()


_SCALARS = (str, int, bool)


def _plain(value: Any) -> bool:
    """Whether orjson encodes ``value`` exactly as ``json.dumps(..., default=str)`` does."""
    kind = type(value)
    if kind in _SCALARS or value is None:
        return True
    if kind is float:
        return math.isfinite(value)
    if kind is list or kind is tuple:
        return all(_plain(item) for item in value)
    if kind is dict:
        return all(type(k) is str and _plain(v) for k, v in value.items())
    return False


def _decode(raw: Mapping[bytes | str, bytes | str]) -> dict[str, Any]:
    record: dict[str, Any] = {}
    for name, value in raw.items():
        s = text(value)
        try:
            record[text(name)] = json.loads(s)
        except json.JSONDecodeError:
            record[text(name)] = s  # written by hand (redis-cli): keep the raw text
    return record


def _matches(
    record: Mapping[str, Any], equal: Mapping[str, str], rule: str | None, action: str | None
) -> bool:
    if any(record.get(name) != value for name, value in equal.items()):
        return False
    if rule is not None:
        rules = record.get("rules")
        if record.get("rule") != rule and not (isinstance(rules, list) and rule in rules):
            return False
    if action is not None and record.get("action") != action:
        planned = record.get("actions")
        if not isinstance(planned, list):
            return False
        types = [a.get("type") if isinstance(a, dict) else a for a in planned]
        if action not in types:
            return False
    return True
