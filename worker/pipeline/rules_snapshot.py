"""The last rule set that loaded, kept on disk so that a (re)starting worker can start from it.

A worker that starts while a rule file is broken would otherwise have no rules at all and die,
again and again. After every successful load the text of every file it read (rule files and
list files) is written to one JSON file under ``state_dir``; when a first load fails, those
texts are written back out into a temporary tree with the same layout and loaded from there,
through the same loader and the same checks.
"""

from __future__ import annotations

import json
import os
import tempfile
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from worker.errors import ConfigError, Problem
from worker.platform_specs import Platform
from worker.rules import RuleSet, load_rules
from worker.rules.loader import source_root
from worker.rules.normalize import NormalizeOptions
from worker.textfile import read_regular_text

__all__ = ["RulesSnapshot", "SavedRules"]

FORMAT = 1
MAX_SNAPSHOT_BYTES = 256 << 20


@dataclass(frozen=True, slots=True)
class SavedRules:
    rules: RuleSet
    saved_at: float


class RulesSnapshot:
    """One JSON file: {format, saved_at, roots, files: {absolute path: text}}."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def save(self, paths: Sequence[Path], sources: Mapping[Path, str]) -> None:
        """Record what loaded (atomically: a crash mid-write keeps the previous snapshot)."""
        record = {
            "format": FORMAT,
            "saved_at": time.time(),
            "roots": [str(source_root(p)) for p in paths],
            "files": {str(path): text for path, text in sources.items()},
        }
        self.path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        fd, temporary = tempfile.mkstemp(prefix=".rules-", dir=self.path.parent)
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as out:
                json.dump(record, out, ensure_ascii=False)
            os.replace(temporary, self.path)
        except BaseException:
            Path(temporary).unlink(missing_ok=True)
            raise

    def load(
        self, *, accounts: Mapping[str, Platform] | None, normalize: NormalizeOptions | None = None,
    ) -> SavedRules | None:
        """The saved rule set, compiled again; None when there is none. ConfigError when the
        snapshot is unreadable or its rules no longer load (e.g. an account was removed)."""
        if not self.path.exists():
            return None
        text = read_regular_text(self.path, max_bytes=MAX_SNAPSHOT_BYTES, what="rules snapshot")
        try:
            record = json.loads(text)
            roots = [Path(r) for r in record["roots"]]
            files = {Path(p): str(t) for p, t in record["files"].items()}
            saved_at = float(record["saved_at"])
        except (ValueError, KeyError, TypeError, AttributeError) as exc:
            raise ConfigError(Problem(f"unreadable rules snapshot: {exc}",
                                      file=str(self.path))) from exc
        with tempfile.TemporaryDirectory(prefix="rules-", dir=self.path.parent) as tree:
            base = Path(tree)

            def inside(path: Path) -> Path:
                return base / path.relative_to(path.anchor)

            for path, content in files.items():
                target = inside(path)
                target.parent.mkdir(parents=True, exist_ok=True)
                target.write_text(content, encoding="utf-8")
            rules = load_rules([inside(r) for r in roots], accounts=accounts,
                               normalize=normalize)
        return SavedRules(rules, saved_at)
