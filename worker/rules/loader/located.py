"""Where a load's problems, notes and warnings are gathered, each located (file, line, rule,
field), and the spelling helpers they share: the value as the moderator wrote it, and the
"did you mean" suggestion that knows the words moderators type."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

from worker.config import did_you_mean as _close_match
from worker.errors import Problem
from worker.yamlsrc import SourceList, SourceMap

# How PyYAML (YAML 1.1) spells booleans and null, and a plain scalar on a line of YAML.
_YAML_TRUE = frozenset({"yes", "Yes", "YES", "true", "True", "TRUE", "on", "On", "ON"})
_YAML_FALSE = frozenset({"no", "No", "NO", "false", "False", "FALSE", "off", "Off", "OFF"})
_YAML_NULL = frozenset({"null", "Null", "NULL", "~"})
_SCALAR = re.compile(r"(?:^|[\s\[,{:-])([^\s\[\],{}:#'\"]+)(?=$|[\s\],}#])")
#: Words moderators type for a key or value that has another name here.
MODERATOR_WORDS = {
    "weixin": "wechat", "wx": "wechat", "微信": "wechat", "sina": "weibo", "微博": "weibo",
    "contains": "includes", "contains_word": "includes_word", "regexp": "regex",
    "matches": "regex", "startswith": "starts_with", "endswith": "ends_with",
}


def did_you_mean(word: str, choices: set[str] | list[str]) -> str:
    """`` (did you mean 'x'?)``, knowing the words moderators type (weixin -> wechat)."""
    meant = MODERATOR_WORDS.get(word.strip().casefold())
    if meant is not None and meant in choices:
        return f" (did you mean {meant!r}?)"
    return _close_match(word, choices)


@dataclass
class Report:
    """Everything a load found: problems (the load fails), warnings (errors under
    ``check --strict``) and notes (never fail)."""

    problems: list[Problem] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    warnings: list[Problem] = field(default_factory=list)
    source_lines: dict[Path, list[str]] = field(default_factory=dict)  # for as_written

    def problem(
        self, message: str, file: Path, node: object = None, key: object = None,
        rule: str | None = None, fld: str | None = None, line: int | None = None,
    ) -> None:
        """A problem at ``line``, or at ``key`` of ``node`` (or the node itself)."""
        if line is None:
            if isinstance(node, SourceMap):
                line = node.line_of(key) if key is not None else node.line
            elif isinstance(node, SourceList):
                line = node.line_of(key) if isinstance(key, int) else node.line
        self.problems.append(Problem(message, file=str(file), line=line, rule=rule, field=fld))

    def unknown_keys(
        self, node: SourceMap, allowed: set[str], file: Path, rule: str | None, where: str
    ) -> None:
        for key in node:
            if key not in allowed:
                self.problem(
                    f"unknown key {key!r}{did_you_mean(str(key), allowed)}",
                    file, node, key, rule, f"{where}.{key}" if where else str(key),
                )

    def sub_mapping(
        self, node: object, allowed: set[str], file: Path, rid: str, where: str, line: int | None
    ) -> SourceMap | None:
        """``node`` as a non-empty mapping of ``allowed`` keys (an unknown key is reported)."""
        if not isinstance(node, SourceMap) or not node:
            self.problem(
                f"{where} must be a non-empty mapping ({', '.join(sorted(allowed))})",
                file, line=line, rule=rid, fld=where,
            )
            return None
        self.unknown_keys(node, allowed, file, rid, where)
        return node

    def as_written(self, value: object, file: Path, line: int | None) -> str:
        """A value quoted as the moderator wrote it: YAML reads ``no`` as false, ``~`` as null.

        Booleans and nulls lose their spelling when YAML reads them, so it is looked up on
        their line; a value whose spelling cannot be told apart there is shown as read.
        """
        if not (isinstance(value, bool) or value is None) or line is None:
            return repr(value)
        if file not in self.source_lines:
            try:
                self.source_lines[file] = file.read_text(encoding="utf-8").splitlines()
            except (OSError, UnicodeDecodeError) as exc:
                self.problem(f"cannot read the file again to quote a value: {exc}", file)
                self.source_lines[file] = []
        lines = self.source_lines[file]
        text = lines[line - 1] if 0 < line <= len(lines) else ""
        words = _YAML_TRUE if value is True else _YAML_FALSE if value is False else _YAML_NULL
        found = {m.group(1) for m in _SCALAR.finditer(text) if m.group(1) in words}
        if len(found) == 1:
            return repr(found.pop())
        return "(an empty value)" if value is None and not found else repr(value)
