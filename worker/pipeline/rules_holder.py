"""Hot reload of the rules: the last good rule set keeps running until a better one loads.

Rule files are re-read when any file under the configured rule paths changes (checked at most
every ``check_interval`` seconds, on use) or when :meth:`request_reload` is called (SIGHUP).
A reload that fails, including an empty or truncated file, logs every problem and keeps the
previous rules: the worker never runs with an empty rule set because a save went wrong.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Mapping, Sequence
from pathlib import Path

import structlog

from worker.errors import ConfigError
from worker.models import Platform
from worker.rules import RuleSet, load_rules
from worker.rules.normalize import NormalizeOptions

log = structlog.get_logger("worker.rules")

Fingerprint = tuple[tuple[str, int, int], ...]


def fingerprint(paths: Sequence[Path]) -> Fingerprint:
    """(path, mtime_ns, size) of every file under ``paths``: any change shows."""
    entries: list[tuple[str, int, int]] = []
    for root in paths:
        candidates = [p for p in root.rglob("*") if p.is_file()] if root.is_dir() else [root]
        for path in candidates:
            try:
                stat = path.stat()
            except FileNotFoundError:
                continue  # removed between listing and stat: the next check sees it
            entries.append((str(path), stat.st_mtime_ns, stat.st_size))
    return tuple(sorted(entries))


class RulesHolder:
    """Thread-safe holder of the current RuleSet with change detection."""

    def __init__(
        self,
        *,
        paths: Sequence[Path],
        accounts: Mapping[str, Platform] | None = None,
        normalize: NormalizeOptions | None = None,
        check_interval: float = 2.0,
    ) -> None:
        self.paths = tuple(paths)
        self.accounts = dict(accounts) if accounts is not None else None
        self.normalize = normalize  # config.yaml's defaults: fixed for the process's life
        self.check_interval = check_interval
        self._lock = threading.Lock()
        self._fingerprint = fingerprint(self.paths)
        self._rules = self._load()  # raises: no rules at all
        self._next_check = time.monotonic() + check_interval
        self._reload_requested = False
        self.generation = 1
        log.info("rules_loaded", rules=len(self._rules), files=len(self._rules.files),
                 generation=self.generation)

    @property
    def rules(self) -> RuleSet:
        """The current rules, reloading first when files changed or a reload was requested."""
        now = time.monotonic()
        if self._reload_requested or now >= self._next_check:
            with self._lock:
                if self._reload_requested or now >= self._next_check:
                    self._next_check = now + self.check_interval
                    current = fingerprint(self.paths)
                    if self._reload_requested or current != self._fingerprint:
                        self._reload_requested = False
                        self._fingerprint = current
                        self._reload()
        return self._rules

    def request_reload(self) -> None:
        """Reload on next use (safe to call from a signal handler)."""
        self._reload_requested = True

    def _load(self) -> RuleSet:
        return load_rules(self.paths, accounts=self.accounts, normalize=self.normalize)

    def _reload(self) -> None:
        try:
            rules = self._load()
        except ConfigError as exc:
            for problem in exc.problems:
                log.error("rules_reload_problem", problem=str(problem), file=problem.file,
                          line=problem.line, rule=problem.rule)
            log.error("rules_reload_failed", problems=len(exc.problems),
                      kept_generation=self.generation, kept_rules=len(self._rules))
            return
        self._rules = rules
        self.generation += 1
        log.info("rules_reloaded", rules=len(rules), files=len(rules.files),
                 generation=self.generation)
