"""The secrets that must never reach a log line, and the redaction of text against them.

Secrets are found with one Aho-Corasick automaton (leftmost-longest, so a secret that contains
another is replaced whole), rebuilt when the set changes: each redaction is one linear scan,
whatever the number of secrets, and nothing is cached per secret (a regex alternation rebuilt
per token kept every generation in ``re``'s cache: +171 MB after 500 token rotations).

The set stays bounded: a secret registered with a ``ttl`` (an access token, which the platform
replaces every two hours) is forgotten when it has expired, and at most
:data:`MAX_EXPIRING` expiring secrets are kept (the oldest go first). Secrets without a ``ttl``
(app secrets, configured tokens, the Redis password) are kept for the life of the process.
"""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import ahocorasick_rs

__all__ = ["MAX_EXPIRING", "MIN_SECRET_LENGTH", "SecretRegistry", "redact", "register_secret"]

MIN_SECRET_LENGTH = 4  # shorter values would redact ordinary words
MAX_EXPIRING = 256  # access tokens live 2 h: a few per account at any time
MASK = "***"

_TOKEN_QUERY = re.compile(
    r"((?:access_token|secret|appsecret|app_secret|component_access_token)=)[^&\s\"']+",
    re.IGNORECASE,
)


@dataclass
class SecretRegistry:
    """Registered secret values; :meth:`redact` masks each of them in a text."""

    clock: Callable[[], float] = time.monotonic
    max_expiring: int = MAX_EXPIRING
    _permanent: set[str] = field(default_factory=set)
    _expiring: dict[str, float] = field(default_factory=dict)  # value -> forget at; oldest first
    _next_expiry: float = float("inf")
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _automaton: Any = None
    _values: list[str] = field(default_factory=list)

    def register(self, value: str | None, *, ttl: float | None = None) -> None:
        """Mask ``value`` from now on; with ``ttl`` (seconds), only for that long."""
        if not value or len(value) < MIN_SECRET_LENGTH:
            return
        with self._lock:
            if value in self._permanent:
                return
            if ttl is None:
                self._expiring.pop(value, None)
                self._permanent.add(value)
            else:
                known = value in self._expiring
                forget_at = max(self.clock() + ttl, self._expiring.pop(value, float("-inf")))
                self._expiring[value] = forget_at  # re-inserted: the newest
                self._next_expiry = min(self._next_expiry, forget_at)
                while len(self._expiring) > self.max_expiring:
                    del self._expiring[next(iter(self._expiring))]
                if known:
                    return
            self._rebuild()

    def secrets(self) -> int:
        """How many values are masked now."""
        self._forget_expired()
        return len(self._values)

    def redact(self, text: str) -> str:
        """``text`` with every registered secret and token-bearing query value replaced."""
        text = _TOKEN_QUERY.sub(r"\1" + MASK, text)
        self._forget_expired()
        automaton = self._automaton
        if automaton is None:
            return text
        matches = automaton.find_matches_as_indexes(text)
        if not matches:
            return text
        parts: list[str] = []
        last = 0
        for _index, start, end in matches:
            parts.append(text[last:start])
            parts.append(MASK)
            last = end
        parts.append(text[last:])
        return "".join(parts)

    def _forget_expired(self) -> None:
        if self.clock() < self._next_expiry:
            return
        with self._lock:
            now = self.clock()
            expired = [v for v, at in self._expiring.items() if at <= now]
            for value in expired:
                del self._expiring[value]
            self._next_expiry = min(self._expiring.values(), default=float("inf"))
            if expired:
                self._rebuild()

    def _rebuild(self) -> None:
        """New automaton over the current values (called with the lock held)."""
        values = sorted(self._permanent | set(self._expiring))
        self._automaton = (
            ahocorasick_rs.AhoCorasick(values, matchkind=ahocorasick_rs.MatchKind.LeftmostLongest)
            if values else None
        )
        self._values = values


_registry = SecretRegistry()


def register_secret(value: str | None, *, ttl: float | None = None) -> None:
    """Never let ``value`` appear in a log line or exception text (for ``ttl`` seconds)."""
    _registry.register(value, ttl=ttl)


def redact(text: str) -> str:
    """``text`` with every registered secret and token-bearing query value replaced by ***."""
    return _registry.redact(text)
