"""config.yaml's targets, reloaded while the daemon runs (SIGHUP, or the file changing).

Only ``accounts[].targets`` take effect without a restart: the scheduler polls the new set
within a tick. Any other change (an account added, a secret, polling, listing, discover...)
is logged as needing a restart and left as it was. A file that does not load logs its
problems and keeps the running targets, like the rules.
"""

from __future__ import annotations

import os
from dataclasses import fields, replace
from pathlib import Path

import structlog

from worker.config import AccountConfig, Config, load_config
from worker.errors import ConfigError

log = structlog.get_logger("worker.scheduler")

#: How often the config file's mtime and size are looked at.
CHECK_INTERVAL = 2.0


def _fingerprint(path: Path) -> tuple[int, int] | None:
    try:
        stat = os.stat(path)
    except OSError:
        return None
    return (stat.st_mtime_ns, stat.st_size)


def changed_keys(old: Config, new: Config) -> list[str]:
    """What differs between two configs besides the accounts' targets, as dotted names."""
    out: list[str] = []
    for f in fields(Config):
        if f.name in ("accounts", "warnings", "path"):
            continue
        if getattr(old, f.name) != getattr(new, f.name):
            out.append(f.name)
    old_accounts = {a.name: a for a in old.accounts}
    new_accounts = {a.name: a for a in new.accounts}
    for name in sorted(set(old_accounts) ^ set(new_accounts)):
        out.append(f"accounts[{name}]")
    for name in sorted(set(old_accounts) & set(new_accounts)):
        before, after = old_accounts[name], new_accounts[name]
        for f in fields(AccountConfig):
            if f.name != "targets" and getattr(before, f.name) != getattr(after, f.name):
                out.append(f"accounts[{name}].{f.name}")
    return out


def with_new_targets(old: Config, new: Config) -> Config:
    """``old`` with each of its accounts' targets as ``new`` has them."""
    targets = {a.name: a.targets for a in new.accounts}
    return replace(old, accounts=tuple(
        replace(a, targets=targets.get(a.name, a.targets)) for a in old.accounts
    ))


class ConfigWatch:
    def __init__(self, config: Config) -> None:
        self.config = config
        self._path = config.path
        self._fingerprint = _fingerprint(self._path) if self._path else None
        self._next_check = 0.0
        self._requested = False

    def request_reload(self) -> None:
        """SIGHUP: reload at the next :meth:`check` whether or not the file changed."""
        self._requested = True

    def check(self, now: float) -> Config | None:
        """A config with reloaded targets when the file changed (or a reload was
        requested) and its targets differ; None otherwise."""
        if self._path is None or (not self._requested and now < self._next_check):
            return None
        self._next_check = now + CHECK_INTERVAL
        current = _fingerprint(self._path)
        if not self._requested and current == self._fingerprint:
            return None
        self._requested = False
        self._fingerprint = current
        try:
            new = load_config(self._path)
        except ConfigError as exc:
            for problem in exc.problems:
                log.error("config_reload_problem", problem=str(problem), file=problem.file,
                          line=problem.line, field=problem.field)
            log.error("config_reload_failed", problems=len(exc.problems),
                      detail="the running targets stay as they were")
            return None
        restart = changed_keys(self.config, new)
        if restart:
            log.warning("config_change_needs_restart", keys=restart,
                        detail="only accounts' targets reload while running; restart "
                               "`modworker run` for the rest")
        reloaded = with_new_targets(self.config, new)
        if reloaded == self.config:
            return None
        counts = {a.name: len(a.targets) for a in reloaded.accounts}
        log.info("config_targets_reloaded", targets=counts)
        self.config = reloaded
        return reloaded
