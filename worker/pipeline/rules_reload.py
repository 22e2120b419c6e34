"""Hot reload of the rules: the last good rule set keeps running until a better one loads.

Rule files are re-read when any file under the configured rule paths changes (checked at most
every ``check_interval`` seconds, on use) or when :meth:`request_reload` is called (SIGHUP).
A load that fails for any reason (a problem in a file, an empty or truncated file, even an
exception the loader did not foresee) logs one ``rules_reload_failed`` event with the located
problems and keeps the previous rules: the worker never runs with an empty rule set because a
save went wrong. Every rule set that loads is saved (:class:`RulesSnapshot`, under
``state_dir``), so a worker that starts while a file is broken starts from the last good rules
instead of dying and being restarted into the same failure.
"""

from __future__ import annotations

import hashlib
import threading
import time
from collections.abc import Callable, Collection, Mapping, Sequence
from pathlib import Path

import structlog

from worker.errors import ConfigError, Problem
from worker.pipeline.rules_snapshot import RulesSnapshot
from worker.platform_specs import Platform
from worker.rules import RuleSet, load_rules
from worker.rules.normalize import NormalizeOptions

log = structlog.get_logger("worker.rules")

Fingerprint = tuple[tuple[str, int, int], ...]
MAX_LOGGED_PROBLEMS = 50  # one event stays readable; the count says how many there were


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


def files_id(files: Fingerprint) -> str:
    """A short name of the rule files' state (paths, times, sizes): any edit changes it."""
    return hashlib.sha256(repr(files).encode()).hexdigest()[:16]


class RulesHolder:
    """Thread-safe holder of the current RuleSet with change detection."""

    def __init__(
        self,
        *,
        paths: Sequence[Path],
        accounts: Mapping[str, Platform] | None = None,
        normalize: NormalizeOptions | None = None,
        check_interval: float = 2.0,
        snapshot: Path | None = None,
        channels: Collection[str] | None = None,
        on_reload_failed: Callable[[list[str], str], object] | None = None,
        after_load: Callable[[], object] | None = None,
    ) -> None:
        """``snapshot``: where the last good rule set is kept (None: nowhere). Raises
        ConfigError when the rules do not load and no snapshot does either.
        ``on_reload_failed(problems, files)``: called after a reload failed; ``files`` names
        the state of the files that failed (:func:`files_id`), the same in every process of
        the host, so the processes that all fail on one edit can tell it once.
        ``after_load()``: called once a rule set loaded and replaced the previous one (e.g.
        give the memory they freed back to the system)."""
        self.paths = tuple(paths)
        self.accounts = dict(accounts) if accounts is not None else None
        self.normalize = normalize  # config.yaml's defaults: fixed for the process's life
        self.check_interval = check_interval
        self.channels = frozenset(channels) if channels is not None else None
        self.on_reload_failed = on_reload_failed  # e.g. tell the moderators (notify.events)
        self.after_load = after_load
        self.snapshot = RulesSnapshot(snapshot) if snapshot is not None else None
        self._lock = threading.Lock()
        self._fingerprint = fingerprint(self.paths)
        self.generation = 1
        try:
            self._rules = self._load()
        except Exception as exc:  # noqa: BLE001 - any failure: start from the last good rules
            self._rules = self._start_from_snapshot(exc)
        self._next_check = time.monotonic() + check_interval
        self._reload_requested = False
        if self.after_load is not None:
            self.after_load()
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
        sources: dict[Path, str] = {}
        rules = load_rules(self.paths, accounts=self.accounts, normalize=self.normalize,
                           sources=sources, channels=self.channels)
        if self.snapshot is not None:
            try:
                self.snapshot.save(self.paths, sources)
            except OSError as exc:
                log.warning("rules_snapshot_failed", file=str(self.snapshot.path),
                            detail=exc.strerror or str(exc))
        return rules

    def _start_from_snapshot(self, error: Exception) -> RuleSet:
        problems = _problems_of(error)
        if self.snapshot is None:
            raise ConfigError(problems) from error
        try:
            saved = self.snapshot.load(accounts=self.accounts, normalize=self.normalize)
        except ConfigError as exc:
            raise ConfigError([*problems, *exc.problems]) from error
        if saved is None:
            raise ConfigError(problems) from error
        _log_failure(problems, kept="last_good_snapshot", snapshot=str(self.snapshot.path),
                     saved_at=saved.saved_at, kept_rules=len(saved.rules))
        return saved.rules

    def _reload(self) -> None:
        try:
            rules = self._load()
        except Exception as exc:  # noqa: BLE001 - any failure keeps the rules that run
            problems = _problems_of(exc)
            _log_failure(problems, kept="running", kept_generation=self.generation,
                         kept_rules=len(self._rules))
            if self.on_reload_failed is not None:
                self.on_reload_failed([str(p) for p in problems], files_id(self._fingerprint))
            return
        self._rules = rules
        self.generation += 1
        if self.after_load is not None:
            self.after_load()  # the previous set is freed by now, unless a page still uses it
        log.info("rules_reloaded", rules=len(rules), files=len(rules.files),
                 generation=self.generation)


def _problems_of(error: Exception) -> list[Problem]:
    if isinstance(error, ConfigError):
        return error.problems
    # Not foreseen by the loader (MemoryError, RecursionError, ...): its type and a short text.
    text = str(error)
    text = text[:200] + "..." if len(text) > 200 else text
    return [Problem(f"loading failed: {type(error).__name__}: {text}")]


def _log_failure(problems: list[Problem], **context: object) -> None:
    log.error(
        "rules_reload_failed",
        problems=[str(p) for p in problems[:MAX_LOGGED_PROBLEMS]],
        problem_count=len(problems),
        **context,
    )
