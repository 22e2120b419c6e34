"""Rule files and directories read into YAML documents, each checked for its top-level shape
(``version: 1``, known keys), and a directory's ``defaults.yaml`` applied."""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from worker.errors import ConfigError
from worker.rules.loader.located import Report
from worker.rules.loader.options import normalize_options
from worker.rules.normalize import NormalizeOptions
from worker.textfile import read_regular_text
from worker.yamlsrc import RULE_FILE_LIMITS, SourceMap, load_yaml_text

RULE_SUFFIXES = (".yaml", ".yml")
DEFAULTS_FILE = "defaults.yaml"  # in a rule directory: normalize: for every file
DEFAULTS_KEYS = {"version", "normalize"}
FILE_KEYS = {"version", "lists", "rules", "normalize"}

Document = tuple[Path, SourceMap]  # a rule file and what YAML read from it


def source_root(path: Path) -> Path:
    """A configured rule path as an absolute one: a directory resolved, a file's directory
    resolved (the file itself may be a link). Rule files are keyed under it, list files by
    their resolved path, which lies inside it."""
    path = Path(path)
    return path.resolve() if path.is_dir() else path.parent.resolve() / path.name


@dataclass
class RuleFiles:
    """Reads rule files; remembers each one's rule directory and the text of every file read."""

    report: Report
    roots: dict[Path, Path] = field(default_factory=dict)  # rule file -> its rule directory
    keys: dict[Path, Path] = field(default_factory=dict)  # rule file -> its path under root
    sources: dict[Path, str] = field(default_factory=dict)  # every file read -> its text

    def read(self, paths: Sequence[Path]) -> list[Document]:
        """The documents of every rule file in ``paths`` (files and directories)."""
        documents: list[Document] = []
        for file in self._files(paths):
            data = self._document(file)
            if data is not None:
                documents.append((file, data))
        return documents

    def _files(self, paths: Sequence[Path]) -> list[Path]:
        files: list[Path] = []
        for path in paths:
            if path.is_dir():
                if not os.access(path, os.R_OK | os.X_OK):
                    self.report.problem("permission denied: cannot list this directory (run "
                                        "as the user who owns it, or grant read access)", path)
                    continue
                found = sorted(
                    p for p in path.rglob("*") if p.suffix in RULE_SUFFIXES and p.is_file()
                )
                if not found:
                    self.report.problem("directory holds no .yaml or .yml rule file", path)
                files.extend(found)
                root = source_root(path)
                self.roots.update({f: root for f in found})
                self.keys.update({f: root / f.relative_to(path) for f in found})
            elif path.exists():
                files.append(path)
                self.roots[path] = source_root(path).parent
                self.keys[path] = source_root(path)
            else:
                self.report.problem("no such file or directory", path)
        return files

    def _document(self, file: Path) -> SourceMap | None:
        try:
            text = read_regular_text(file, max_bytes=RULE_FILE_LIMITS.max_bytes,
                                     what="rule file")
            data = load_yaml_text(text, filename=str(file), limits=RULE_FILE_LIMITS)
        except ConfigError as exc:
            self.report.problems.extend(exc.problems)
            return None
        self.sources[self.keys[file]] = text
        if data is None:
            self.report.problem(
                "the file is empty; an empty rule file is refused so that a truncated save "
                "never replaces working rules with none", file,
            )
            return None
        if not isinstance(data, SourceMap):
            self.report.problem("a rule file must be a mapping with version, lists and rules",
                                file)
            return None
        self.report.unknown_keys(data, FILE_KEYS, file, None, "")
        if data.get("version") != 1:
            self.report.problem(
                "version: 1 is required at the top of every rule file"
                if "version" not in data else f"unsupported version {data.get('version')!r}; "
                "this modworker reads version 1",
                file, data, "version", fld="version",
            )
        return data

    def apply_defaults(
        self, documents: list[Document], base: NormalizeOptions
    ) -> tuple[NormalizeOptions, list[Document]]:
        """Apply a ``defaults.yaml`` (``normalize:`` for every file); the other documents."""
        others: list[Document] = []
        seen: Path | None = None
        for file, data in documents:
            if file.name != DEFAULTS_FILE:
                others.append((file, data))
                continue
            if seen is not None:
                self.report.problem(f"a second {DEFAULTS_FILE}; the rules already take their "
                                    f"defaults from {seen}", file, data)
                continue
            seen = file
            for key in data:
                if key not in DEFAULTS_KEYS and key in FILE_KEYS:
                    self.report.problem(
                        f"{DEFAULTS_FILE} holds only version and normalize (the defaults of "
                        f"every rule file); move {key} to a rule file", file, data, key, fld=key,
                    )
            base = normalize_options(self.report, data.get("normalize"), base, file, None,
                                     "normalize")
        return base, others
