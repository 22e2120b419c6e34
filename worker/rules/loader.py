"""Rule files -> a compiled :class:`~worker.rules.engine.RuleSet`, or every problem at once.

The loader never stops at the first mistake: it reads every file, resolves every list, compiles
every rule and runs every rule's ``tests``, and raises one :class:`ConfigError` whose problems
each name the file, the line, the rule and what is wrong. A rule set is only ever built from
files with no problem at all, so a reload with a broken file can keep the old rules running.
"""

from __future__ import annotations

import os
import re
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, cast

from worker.config import did_you_mean as _close_match
from worker.errors import ConfigError, PatternError, Problem
from worker.platform_specs import PLATFORM_NAMES as SPEC_PLATFORM_NAMES
from worker.platform_specs import Action as SpecAction
from worker.platform_specs import Platform
from worker.rules.engine import RuleSet
from worker.rules.matcher import LiteralKind, MatcherBuilder
from worker.rules.model import (
    ACTION_PLATFORMS,
    Action,
    ActionType,
    AllOf,
    AnyOf,
    AuthorIn,
    AuthorOffenses,
    CommentAge,
    CommentFlag,
    Condition,
    HistoryEntry,
    Length,
    Letters,
    LiteralHit,
    Not,
    RegexHit,
    Rule,
    RuleSample,
    branches_content,
    content_signals,
    required_signals,
)
from worker.rules.normalize import NormalizeOptions, Normalizer
from worker.rules.regex import RegexBudget
from worker.rules.steps import STEPS, read_steps
from worker.rules.templates import REPLY_MAX_CHARS, ReplyTemplate, TemplateError
from worker.rules.waves import AuthorBurst, Repeated
from worker.textfile import read_regular_text
from worker.units import parse_duration
from worker.waves.state import MAX_NEIGHBOURS
from worker.yamlsrc import RULE_FILE_LIMITS, SourceList, SourceMap, load_yaml_text

RULE_SUFFIXES = (".yaml", ".yml")
DEFAULTS_FILE = "defaults.yaml"  # in a rule directory: normalize: for every file
DEFAULTS_KEYS = {"version", "normalize"}
# How PyYAML (YAML 1.1) spells booleans and null, and a plain scalar on a line of YAML.
_YAML_TRUE = frozenset({"yes", "Yes", "YES", "true", "True", "TRUE", "on", "On", "ON"})
_YAML_FALSE = frozenset({"no", "No", "NO", "false", "False", "FALSE", "off", "Off", "OFF"})
_YAML_NULL = frozenset({"null", "Null", "NULL", "~"})
_SCALAR = re.compile(r"(?:^|[\s\[,{:-])([^\s\[\],{}:#'\"]+)(?=$|[\s\],}#])")
FILE_KEYS = {"version", "lists", "rules", "normalize"}
RULE_KEYS = {
    "id", "description", "priority", "mode", "enabled", "platforms", "accounts",
    "when", "then", "stop", "tests", "normalize",
}
CONDITION_KEYS = {"content", "author", "comment", "any", "not"}
CONTENT_KEYS = {
    "includes", "includes_word", "starts_with", "ends_with", "full_exact", "regex",
    "sounds_like", "allow", "min_length", "max_length", "min_letters", "max_letters",
    "repeated",
}
AUTHOR_KEYS = {"in", "not_in", "offenses", "burst"}
COMMENT_KEYS = {"elected", "replied", "age"}
NORMALIZE_KEYS = set(STEPS)
_BOUND_KEYS = {"min_length", "max_length", "min_letters", "max_letters"}
#: The content keys that find hits (which `allow` can cancel).
MATCHER_KEYS = CONTENT_KEYS - _BOUND_KEYS - {"allow", "repeated"}
TEST_KEYS = {"match", "no_match"}
SAMPLE_KEYS = {
    "content", "platform", "account", "author", "created_at", "age", "elected", "replied",
    "offenses", "history",
}
HISTORY_KEYS = {"content", "author", "before", "created_at", "count"}
REPEATED_KEYS = {"at_least", "within", "similarity", "authors"}
PLATFORM_NAMES: tuple[str, ...] = SPEC_PLATFORM_NAMES
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


class _Term(str):
    """A term that remembers where it was written, so a problem with it points at the entry
    (a list's own line, or the line of a ``file:`` list), not where the list is used."""

    file: Path
    line: int | None
    where: str  # "lists.name" for a list entry, the rule's field otherwise

    def __new__(cls, text: str, file: Path, line: int | None, where: str) -> _Term:
        term = super().__new__(cls, text)
        term.file, term.line, term.where = file, line, where
        return term
LIST_FILE_MAX_BYTES = 8 << 20  # a list file (file: path): 8 MiB, some 500,000 terms


def source_root(path: Path) -> Path:
    """A configured rule path as an absolute one: a directory resolved, a file's directory
    resolved (the file itself may be a link). Rule files are keyed under it, list files by
    their resolved path, which lies inside it."""
    path = Path(path)
    return path.resolve() if path.is_dir() else path.parent.resolve() / path.name


class _FileTerm(_Term):
    """A line of a list file. A problem with it names the file and line, and repeats the line
    only when it is short (a term or a small pattern): ``file:`` may point at anything readable
    inside the rule directory, a file holding a password included."""

    def shown(self) -> bool:
        return len(self) <= FILE_TERM_SHOWN


FILE_TERM_SHOWN = 20  # characters of a list file's line a problem may repeat


def _quoted(term: str, message: str) -> str:
    """``'term': message``, or for a long line of a list file the message without the line."""
    if not isinstance(term, _FileTerm) or term.shown():
        return f"'{term}': {message}"
    message = message.replace(repr(str(term)), "the term on this line")
    message = message.replace(str(term), "the term on this line")
    return message[:300] + "..." if len(message) > 300 else message


@dataclass
class _ListDef:
    name: str
    node: Any
    file: Path
    line: int
    terms: list[str] | None = None  # resolved
    resolving: bool = False


@dataclass
class _Group:
    options: NormalizeOptions
    builder: MatcherBuilder


@dataclass
class _Loader:
    accounts: Mapping[str, Platform] | None
    channels: Collection[str] | None = None  # notify channels in config; None: not checked
    problems: list[Problem] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    warnings: list[Problem] = field(default_factory=list)  # errors under `check --strict`
    lists: dict[str, _ListDef] = field(default_factory=dict)
    groups: dict[NormalizeOptions, int] = field(default_factory=dict)
    group_list: list[_Group] = field(default_factory=list)
    rule_places: dict[str, str] = field(default_factory=dict)
    roots: dict[Path, Path] = field(default_factory=dict)  # rule file -> its rule directory
    keys: dict[Path, Path] = field(default_factory=dict)  # rule file -> its path under root
    sources: dict[Path, str] = field(default_factory=dict)  # every file read -> its text
    regex_budget: RegexBudget = field(default_factory=RegexBudget)
    reported_terms: set[tuple[str, int | None, str, str]] = field(default_factory=set)
    source_lines: dict[Path, list[str]] = field(default_factory=dict)
    uncollapsed: dict[int, Normalizer] = field(default_factory=dict)  # per group, for warnings

    # -- reporting -----------------------------------------------------------------------
    def problem(
        self, message: str, file: Path, node: object = None, key: object = None,
        rule: str | None = None, fld: str | None = None, line: int | None = None,
    ) -> None:
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

    # -- files and lists -----------------------------------------------------------------
    def read_files(self, paths: Sequence[Path]) -> list[tuple[Path, SourceMap]]:
        files: list[Path] = []
        for path in paths:
            if path.is_dir():
                if not os.access(path, os.R_OK | os.X_OK):
                    self.problem("permission denied: cannot list this directory (run as the "
                                 "user who owns it, or grant read access)", path)
                    continue
                found = sorted(
                    p for p in path.rglob("*") if p.suffix in RULE_SUFFIXES and p.is_file()
                )
                if not found:
                    self.problem("directory holds no .yaml or .yml rule file", path)
                files.extend(found)
                root = source_root(path)
                self.roots.update({f: root for f in found})
                self.keys.update({f: root / f.relative_to(path) for f in found})
            elif path.exists():
                files.append(path)
                self.roots[path] = source_root(path).parent
                self.keys[path] = source_root(path)
            else:
                self.problem("no such file or directory", path)
        documents: list[tuple[Path, SourceMap]] = []
        for file in files:
            try:
                text = read_regular_text(file, max_bytes=RULE_FILE_LIMITS.max_bytes,
                                         what="rule file")
                data = load_yaml_text(text, filename=str(file), limits=RULE_FILE_LIMITS)
            except ConfigError as exc:
                self.problems.extend(exc.problems)
                continue
            self.sources[self.keys[file]] = text
            if data is None:
                self.problem(
                    "the file is empty; an empty rule file is refused so that a truncated save "
                    "never replaces working rules with none", file,
                )
                continue
            if not isinstance(data, SourceMap):
                self.problem("a rule file must be a mapping with version, lists and rules", file)
                continue
            self.unknown_keys(data, FILE_KEYS, file, None, "")
            if data.get("version") != 1:
                self.problem(
                    "version: 1 is required at the top of every rule file"
                    if "version" not in data else f"unsupported version {data.get('version')!r}; "
                    "this modworker reads version 1",
                    file, data, "version", fld="version",
                )
            documents.append((file, data))
        return documents

    def defaults_file(
        self, documents: list[tuple[Path, SourceMap]], base: NormalizeOptions
    ) -> tuple[NormalizeOptions, list[tuple[Path, SourceMap]]]:
        """Apply a ``defaults.yaml`` (``normalize:`` for every file); the other documents."""
        others: list[tuple[Path, SourceMap]] = []
        seen: Path | None = None
        for file, data in documents:
            if file.name != DEFAULTS_FILE:
                others.append((file, data))
                continue
            if seen is not None:
                self.problem(f"a second {DEFAULTS_FILE}; the rules already take their defaults "
                             f"from {seen}", file, data)
                continue
            seen = file
            for key in data:
                if key not in DEFAULTS_KEYS and key in FILE_KEYS:
                    self.problem(
                        f"{DEFAULTS_FILE} holds only version and normalize (the defaults of "
                        f"every rule file); move {key} to a rule file", file, data, key, fld=key,
                    )
            base = self.normalize_options(data.get("normalize"), base, file, None, "normalize")
        return base, others

    def collect_lists(self, documents: list[tuple[Path, SourceMap]]) -> None:
        for file, data in documents:
            lists = data.get("lists")
            if lists is None:
                continue
            if not isinstance(lists, SourceMap):
                self.problem("lists must be a mapping of name: terms", file, data, "lists")
                continue
            for name, node in lists.items():
                line = lists.line_of(name)
                if name in self.lists:
                    other = self.lists[name]
                    self.problem(
                        f"list {name!r} is already defined at {other.file}:{other.line}",
                        file, line=line, fld=f"lists.{name}",
                    )
                    continue
                self.lists[str(name)] = _ListDef(str(name), node, file, line)

    def resolve_list(self, name: str) -> list[str] | None:
        definition = self.lists[name]
        if definition.terms is not None:
            return definition.terms
        if definition.resolving:  # a $reference cycle
            self.problem(
                f"list {name!r} refers to itself through $references",
                definition.file, line=definition.line, fld=f"lists.{name}",
            )
            return None
        definition.resolving = True
        node = definition.node
        terms: list[str] | None
        if isinstance(node, SourceMap):
            terms = self._list_file(definition)
        else:
            terms = self.terms(
                node, definition.file, None, f"lists.{name}", definition.line, allow_refs=True
            )
        definition.resolving = False
        definition.terms = terms if terms is not None else []
        return definition.terms

    def _list_file(self, definition: _ListDef) -> list[str]:
        node = cast(SourceMap, definition.node)
        where = f"lists.{definition.name}"
        self.unknown_keys(node, {"file"}, definition.file, None, where)
        relative = node.get("file")
        if not isinstance(relative, str) or not relative:
            self.problem("a list from a file is written {file: path}", definition.file, node)
            return []
        path = (definition.file.parent / relative).resolve()
        root = self.roots.get(definition.file, definition.file.resolve().parent)
        if not path.is_relative_to(root):
            self.problem(
                f"list file {relative} is outside the rule directory {root}; list files must "
                "be inside it", definition.file, node, "file", fld=f"{where}.file",
            )
            return []
        try:
            text = read_regular_text(path, max_bytes=LIST_FILE_MAX_BYTES, what="list file")
        except ConfigError as exc:
            for problem in exc.problems:
                self.problem(f"{relative}: {problem.message}", definition.file, node, "file",
                             fld=f"{where}.file")
            return []
        self.sources[path] = text
        shown = definition.file.parent / relative  # as the moderator would write it
        terms: list[str] = []
        for number, raw in enumerate(text.splitlines(), start=1):
            term = raw.strip()
            if term and not term.startswith("#"):
                terms.append(_FileTerm(term, shown, number, f"{where} ({relative})"))
        return terms

    def terms(
        self, node: object, file: Path, rule: str | None, where: str, line: int | None,
        *, allow_refs: bool = True,
    ) -> list[str] | None:
        """A list value: plain terms and $list references, mixed; one string is a list of one."""
        items: list[Any]
        if isinstance(node, list):
            items = list(node)
        elif isinstance(node, str | int | float) and not isinstance(node, bool):
            items = [node]
        else:
            self.problem("expected a list of terms", file, line=line, rule=rule, fld=where)
            return None
        result: list[str] = []
        for index, item in enumerate(items):
            item_line = node.line_of(index) if isinstance(node, SourceList) else line
            if isinstance(item, bool) or item is None or not isinstance(item, str | int | float):
                self.problem(
                    f"term {self.as_written(item, file, item_line)} is not text; quote it "
                    "(YAML reads yes/no/on/off and empty values as something else)",
                    file, line=item_line, rule=rule, fld=where,
                )
                continue
            term = str(item)
            if allow_refs and term.startswith("$") and len(term) > 1:
                name = term[1:]
                if name not in self.lists:
                    self.problem(
                        f"unknown list ${name}{did_you_mean(name, set(self.lists))}",
                        file, line=item_line, rule=rule, fld=where,
                    )
                    continue
                resolved = self.resolve_list(name)
                if resolved is not None:
                    result.extend(resolved)
                continue
            if not term.strip():
                self.problem("empty term", file, line=item_line, rule=rule, fld=where)
                continue
            result.append(_Term(term, file, item_line, where))
        return result

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

    # -- rules ---------------------------------------------------------------------------
    def normalize_options(
        self, node: object, base: NormalizeOptions, file: Path, rule: str | None, where: str
    ) -> NormalizeOptions:
        if node is None:
            return base
        if not isinstance(node, SourceMap):
            self.problem("normalize must be a mapping of step: value", file, rule=rule, fld=where)
            return base
        self.unknown_keys(node, NORMALIZE_KEYS, file, rule, where)
        options, problems = read_steps(node, base)
        for key, message in problems:
            self.problem(message, file, node, key, rule, f"{where}.{key}")
        return options

    def group_for(self, options: NormalizeOptions) -> int:
        if options not in self.groups:
            self.groups[options] = len(self.group_list)
            builder = MatcherBuilder(Normalizer(options), budget=self.regex_budget)
            self.group_list.append(_Group(options, builder))
        return self.groups[options]

    def rule(
        self, node: object, file: Path, index: int, order: int, base: NormalizeOptions,
        rules_node: SourceList,
    ) -> Rule | None:
        line = rules_node.line_of(index)
        if not isinstance(node, SourceMap):
            self.problem("each rule must be a mapping", file, line=line, fld=f"rules[{index}]")
            return None
        rule_id = node.get("id")
        if isinstance(rule_id, bool | int | float):
            self.problem(
                f"id {self.as_written(rule_id, file, node.line_of('id'))} is not text to YAML; "
                "quote it", file, node, "id", fld=f"rules[{index}].id",
            )
            return None
        if not isinstance(rule_id, str) or not rule_id.strip():
            self.problem(
                "every rule needs an id (a stable name used in logs, audit and statistics)",
                file, node, "id" if "id" in node else None, fld=f"rules[{index}].id",
            )
            return None
        rid = rule_id.strip()
        place = f"{file}:{node.line}"
        if rid in self.rule_places:
            self.problem(
                f"duplicate rule id {rid!r}; first defined at {self.rule_places[rid]}",
                file, node, "id", rid, "id",
            )
            return None
        self.rule_places[rid] = place
        self.unknown_keys(node, RULE_KEYS, file, rid, "")
        errors_before = len(self.problems)

        description = node.get("description", "")
        priority = node.get("priority", 0)
        if isinstance(priority, bool) or not isinstance(priority, int):
            self.problem(f"priority must be a whole number, got {priority!r}", file, node,
                         "priority", rid, "priority")
            priority = 0
        mode = node.get("mode", "enforce")
        if mode not in ("enforce", "shadow"):
            self.problem(f"mode must be enforce or shadow, got {mode!r}", file, node, "mode",
                         rid, "mode")
            mode = "enforce"
        enabled = self.boolean(node, "enabled", True, file, rid)
        stop = self.boolean(node, "stop", False, file, rid)
        if stop and mode == "shadow":
            self.notes.append(
                f"{file}:{node.line_of('stop')}: rule {rid!r}: a shadow rule's stop ends only "
                "the shadow rules after it; enforced rules are evaluated as if it did not exist"
            )
        platforms = self.platforms(node, file, rid)
        accounts = self.accounts_of(node, file, rid, platforms)
        options = self.normalize_options(node.get("normalize"), base, file, rid, "normalize")
        group = self.group_for(options)

        when: Condition | None = None
        if "when" not in node or not node.get("when"):
            self.problem(
                "a rule needs a non-empty when: (it would otherwise match every comment)",
                file, node, "when" if "when" in node else None, rid, "when",
            )
        else:
            when = self.condition(node["when"], file, rid, "when", group, node.line_of("when"))

        then = self.actions(node, file, rid, platforms, has_content=bool(content_signals(when)))
        samples = self.samples(node.get("tests"), file, rid, node.line_of("tests"))

        if len(self.problems) > errors_before:
            return None
        if mode == "enforce" and enabled and not samples:
            self.warnings.append(Problem(
                "an enforced rule without tests: give it tests: {match: [...], no_match: "
                "[...]} so that `check` proves what it removes", file=str(file), line=node.line,
                rule=rid, field="tests",
            ))
        return Rule(
            id=rid, file=str(file), line=node.line, order=order,
            description=str(description or ""), priority=priority, mode=mode,
            enabled=enabled, platforms=platforms, accounts=accounts, when=when, then=then,
            stop=stop, normalize=options, group=group, samples=samples,
            required=required_signals(when), signals=tuple(content_signals(when)),
            branching=branches_content(when),
        )

    def boolean(self, node: SourceMap, key: str, default: bool, file: Path, rid: str) -> bool:
        value = node.get(key, default)
        if not isinstance(value, bool):
            self.problem(f"{key} must be true or false, got {value!r}", file, node, key, rid, key)
            return default
        return value

    def platforms(self, node: SourceMap, file: Path, rid: str) -> frozenset[Platform] | None:
        if "platforms" not in node:
            return None
        value = node["platforms"]
        items = [value] if isinstance(value, str) else value
        if not isinstance(items, list) or not items:
            self.problem("platforms must be a non-empty list of wechat, weibo", file, node,
                         "platforms", rid, "platforms")
            return None
        found: set[Platform] = set()
        for item in items:
            if item not in PLATFORM_NAMES:
                self.problem(
                    f"unknown platform {item!r}{did_you_mean(str(item), set(PLATFORM_NAMES))}",
                    file, node, "platforms", rid, "platforms",
                )
            else:
                found.add(cast(Platform, item))
        return frozenset(found) if found else None

    def accounts_of(
        self, node: SourceMap, file: Path, rid: str, platforms: frozenset[Platform] | None
    ) -> frozenset[str] | None:
        if "accounts" not in node:
            return None
        value = node["accounts"]
        items = [value] if isinstance(value, str) else value
        if not isinstance(items, list) or not items or not all(isinstance(i, str) for i in items):
            self.problem("accounts must be a non-empty list of account names", file, node,
                         "accounts", rid, "accounts")
            return None
        if self.accounts is not None:
            for name in items:
                if name not in self.accounts:
                    self.problem(
                        f"unknown account {name!r}{did_you_mean(name, set(self.accounts))}",
                        file, node, "accounts", rid, "accounts",
                    )
                elif platforms is not None and self.accounts[name] not in platforms:
                    self.problem(
                        f"account {name!r} is on {self.accounts[name]}, which this rule's "
                        f"platforms ({', '.join(sorted(platforms))}) exclude",
                        file, node, "accounts", rid, "accounts",
                    )
        return frozenset(items)

    def condition(
        self, node: object, file: Path, rid: str, where: str, group: int, line: int | None
    ) -> Condition | None:
        if not isinstance(node, SourceMap) or not node:
            self.problem(
                f"{where} must be a non-empty mapping of conditions "
                f"({', '.join(sorted(CONDITION_KEYS))})", file, line=line, rule=rid, fld=where,
            )
            return None
        if "allow" in node:
            self.problem(
                "allow belongs inside a content map, beside the terms whose hits it excuses "
                "(content: {includes: [...], allow: [...]})",
                file, node, "allow", rid, f"{where}.allow",
            )
        self.unknown_keys(node, CONDITION_KEYS | {"allow"}, file, rid, where)
        parts: list[Condition | None] = []
        for key, value in node.items():
            sub = f"{where}.{key}"
            key_line = node.line_of(key)
            if key == "content":
                parts.append(self.content(value, file, rid, sub, group, key_line))
            elif key == "author":
                parts.append(self.author(value, file, rid, sub, key_line))
            elif key == "comment":
                parts.append(self.comment(value, file, rid, sub, key_line))
            elif key == "any":
                if not isinstance(value, SourceList) or not value:
                    self.problem("any takes a non-empty list of condition maps", file,
                                 line=key_line, rule=rid, fld=sub)
                    continue
                children = [
                    self.condition(item, file, rid, f"{sub}[{i}]", group, value.line_of(i))
                    for i, item in enumerate(value)
                ]
                parts.append(AnyOf(tuple(c for c in children if c is not None)))
            elif key == "not":
                child = self.condition(value, file, rid, sub, group, key_line)
                if child is not None:
                    parts.append(Not(child))
        conditions = tuple(p for p in parts if p is not None)
        if not conditions:
            return None
        return conditions[0] if len(conditions) == 1 else AllOf(conditions)

    def sub_mapping(
        self, node: object, allowed: set[str], file: Path, rid: str, where: str, line: int | None
    ) -> SourceMap | None:
        if not isinstance(node, SourceMap) or not node:
            self.problem(
                f"{where} must be a non-empty mapping ({', '.join(sorted(allowed))})",
                file, line=line, rule=rid, fld=where,
            )
            return None
        self.unknown_keys(node, allowed, file, rid, where)
        return node

    def content(
        self, node: object, file: Path, rid: str, where: str, group: int, line: int | None
    ) -> Condition | None:
        mapping = self.sub_mapping(node, CONTENT_KEYS, file, rid, where, line)
        if mapping is None:
            return None
        builder = self.group_list[group].builder
        parts: list[Condition] = []
        bounds: dict[str, int] = {}
        allow = self.allow_terms(mapping, builder, file, rid, where)
        for key, value in mapping.items():
            sub = f"{where}.{key}"
            key_line = mapping.line_of(key)
            if key == "repeated":
                repeated = self.repeated(value, file, rid, sub, key_line)
                if repeated is not None:
                    parts.append(repeated)
                continue
            if key in _BOUND_KEYS:
                if isinstance(value, bool) or not isinstance(value, int) or value < 0:
                    self.problem(f"{key} takes a whole number >= 0, got "
                                 f"{self.as_written(value, file, key_line)}", file,
                                 line=key_line, rule=rid, fld=sub)
                else:
                    bounds[key] = value
                continue
            if key not in MATCHER_KEYS:
                continue
            terms = self.terms(value, file, rid, sub, key_line)
            if terms is None:
                continue
            if not terms:
                self.problem(f"{key} has no terms", file, line=key_line, rule=rid, fld=sub)
                continue
            ids: set[int] = set()
            for term in terms:
                try:
                    if key == "regex":
                        ids.add(builder.add_regex(term, allow=allow))
                    else:
                        ids.add(builder.add_literal(cast(LiteralKind, key), term, allow=allow))
                        self.check_collapse(term, key, group, file, key_line, rid, sub)
                except PatternError as exc:
                    self.bad_term(term, str(exc), file, key_line, rid, sub)
            if ids:
                hit: Condition = (
                    RegexHit(group, frozenset(ids)) if key == "regex"
                    else LiteralHit(group, frozenset(ids))
                )
                parts.append(hit)
        for unit, condition in (("length", Length), ("letters", Letters)):
            minimum, maximum = bounds.get(f"min_{unit}"), bounds.get(f"max_{unit}")
            if minimum is not None and maximum is not None and minimum > maximum:
                self.problem(f"min_{unit} {minimum} is greater than max_{unit} {maximum}", file,
                             line=line, rule=rid, fld=where)
            if minimum is not None or maximum is not None:
                parts.append(condition(group, minimum, maximum))
        if not parts:
            return None
        return parts[0] if len(parts) == 1 else AllOf(tuple(parts))

    def allow_terms(
        self, mapping: SourceMap, builder: MatcherBuilder, file: Path, rid: str, where: str
    ) -> frozenset[int]:
        """The ids of a content map's ``allow`` terms (none: an empty set)."""
        if "allow" not in mapping:
            return frozenset()
        sub = f"{where}.allow"
        line = mapping.line_of("allow")
        if not MATCHER_KEYS & set(mapping):
            self.problem(
                "allow excuses hits of the terms beside it (includes, includes_word, "
                "starts_with, ends_with, full_exact, regex, sounds_like), and this content map "
                "has none", file, line=line, rule=rid, fld=sub,
            )
            return frozenset()
        value = mapping["allow"]
        terms = self.terms(value, file, rid, sub, line)
        if terms is None:
            return frozenset()
        if not terms:
            self.problem("allow has no terms", file, line=line, rule=rid, fld=sub)
            return frozenset()
        ids: set[int] = set()
        for term in terms:
            try:
                ids.add(builder.add_allow(term))
            except PatternError as exc:
                self.bad_term(term, str(exc), file, line, rid, sub)
        return frozenset(ids)

    def check_collapse(
        self, term: str, key: str, group: int, file: Path, line: int | None, rid: str, where: str
    ) -> None:
        """Warn when ``collapse_repeats`` turns a term into another word (``ass`` -> ``as``)."""
        options = self.group_list[group].options
        if options.collapse_repeats is None:
            return
        skeleton = key != "includes_word"
        collapsed = self.group_list[group].builder.normalizer.normalize_term(
            term, skeleton=skeleton)
        if group not in self.uncollapsed:
            self.uncollapsed[group] = Normalizer(replace(options, collapse_repeats=None))
        whole = self.uncollapsed[group].normalize_term(term, skeleton=skeleton)
        if collapsed == whole:
            return
        if isinstance(term, _Term):
            file, line = term.file, term.line
        key_seen = (str(file), line, str(term), f"collapse {options.collapse_repeats}")
        if key_seen in self.reported_terms:
            return
        self.reported_terms.add(key_seen)
        turned = ("turns the term on this line into another word"
                  if isinstance(term, _FileTerm) and not term.shown()
                  else f"turns the term '{term}' into '{collapsed}'")
        self.warnings.append(Problem(
            f"collapse_repeats: {options.collapse_repeats} {turned}, which matches more than "
            "it says; write the term as it collapses, or turn collapse_repeats off for this "
            "rule", file=str(file), line=line, rule=rid, field=where,
        ))

    def bad_term(
        self, term: str, message: str, file: Path, line: int | None, rid: str, where: str
    ) -> None:
        """A term or pattern that cannot be used, reported once, at its own entry, as written."""
        if isinstance(term, _Term):
            file, line = term.file, term.line
            in_list = term.where.startswith("lists.")
        else:
            in_list = False
        key = (str(file), line, str(term), message)
        if key in self.reported_terms:
            return  # a list entry used by several rules: one report
        self.reported_terms.add(key)
        text = _quoted(term, message)
        if in_list and isinstance(term, _Term):
            self.problem(text, file, line=line, fld=term.where)
        else:
            self.problem(text, file, line=line, rule=rid, fld=where)

    def author(
        self, node: object, file: Path, rid: str, where: str, line: int | None
    ) -> Condition | None:
        mapping = self.sub_mapping(node, AUTHOR_KEYS, file, rid, where, line)
        if mapping is None:
            return None
        parts: list[Condition] = []
        for key in ("in", "not_in"):
            if key in mapping:
                terms = self.terms(mapping[key], file, rid, f"{where}.{key}", mapping.line_of(key))
                if terms is not None:
                    ids = frozenset(t.strip().casefold() for t in terms)
                    parts.append(AuthorIn(ids, negate=key == "not_in"))
        if "burst" in mapping:
            burst = self.burst(mapping["burst"], file, rid, f"{where}.burst",
                               mapping.line_of("burst"))
            if burst is not None:
                parts.append(burst)
        if "offenses" in mapping:
            sub = f"{where}.offenses"
            off = self.sub_mapping(mapping["offenses"], {"at_least", "within"}, file, rid, sub,
                                   mapping.line_of("offenses"))
            if off is not None:
                at_least = off.get("at_least")
                if isinstance(at_least, bool) or not isinstance(at_least, int) or at_least < 1:
                    self.problem(f"at_least takes a whole number >= 1, got {at_least!r}", file,
                                 off, "at_least", rid, f"{sub}.at_least")
                try:
                    within = parse_duration(off.get("within"))
                except ValueError as exc:
                    self.problem(str(exc), file, off, "within", rid, f"{sub}.within")
                    within = 0.0
                if isinstance(at_least, int) and not isinstance(at_least, bool) and within > 0:
                    parts.append(AuthorOffenses(at_least, within))
        if not parts:
            return None
        return parts[0] if len(parts) == 1 else AllOf(tuple(parts))

    def comment(
        self, node: object, file: Path, rid: str, where: str, line: int | None
    ) -> Condition | None:
        mapping = self.sub_mapping(node, COMMENT_KEYS, file, rid, where, line)
        if mapping is None:
            return None
        parts: list[Condition] = []
        for key in ("elected", "replied"):
            if key in mapping:
                value = mapping[key]
                if not isinstance(value, bool):
                    self.problem(f"{key} takes true or false, got {value!r}", file, mapping, key,
                                 rid, f"{where}.{key}")
                else:
                    parts.append(CommentFlag(cast(Any, key), value))
        if "age" in mapping:
            sub = f"{where}.age"
            age = self.sub_mapping(mapping["age"], {"older_than", "newer_than"}, file, rid, sub,
                                   mapping.line_of("age"))
            if age is not None:
                bounds: dict[str, float | None] = {"older_than": None, "newer_than": None}
                for key in bounds:
                    if key in age:
                        try:
                            bounds[key] = parse_duration(age[key])
                        except ValueError as exc:
                            self.problem(str(exc), file, age, key, rid, f"{sub}.{key}")
                if bounds["older_than"] is not None or bounds["newer_than"] is not None:
                    parts.append(CommentAge(bounds["older_than"], bounds["newer_than"]))
        if not parts:
            return None
        return parts[0] if len(parts) == 1 else AllOf(tuple(parts))

    def actions(
        self, node: SourceMap, file: Path, rid: str, platforms: frozenset[Platform] | None,
        *, has_content: bool,
    ) -> tuple[Action, ...]:
        value = node.get("then", [])
        if value is None:
            value = []
        if isinstance(value, str | SourceMap):
            value = [value]
        if not isinstance(value, list):
            self.problem("then must be a list of actions", file, node, "then", rid, "then")
            return ()
        actions: list[Action] = []
        seen: set[str] = set()
        for index, item in enumerate(value):
            line = value.line_of(index) if isinstance(value, SourceList) else node.line_of("then")
            where = f"then[{index}]"
            name: str | None = None
            argument: Any = None
            if isinstance(item, str):
                name = item
            elif isinstance(item, SourceMap) and len(item) == 1:
                name, argument = next(iter(item.items()))
                name = str(name)
            else:
                self.problem("an action is a name (delete) or a mapping (reply: TEXT)", file,
                             line=line, rule=rid, fld=where)
                continue
            if name not in ACTION_PLATFORMS:
                self.problem(
                    f"unknown action {name!r}{did_you_mean(name, set(ACTION_PLATFORMS))}",
                    file, line=line, rule=rid, fld=where,
                )
                continue
            if name in seen:
                self.problem(f"action {name} is listed twice", file, line=line, rule=rid, fld=where)
                continue
            seen.add(name)
            supported = ACTION_PLATFORMS[name]
            if platforms is not None:
                unsupported = sorted(platforms - supported)
                if unsupported:
                    self.problem(
                        f"action {name} is not possible on {', '.join(unsupported)} "
                        f"(it exists on {', '.join(sorted(supported))})",
                        file, line=line, rule=rid, fld=where,
                    )
                    continue
            elif supported != frozenset(PLATFORM_NAMES):
                self.notes.append(
                    f"{file}:{line}: rule {rid!r}: {name} applies only on "
                    f"{', '.join(sorted(supported))} comments"
                )
            template: ReplyTemplate | None = None
            channel: str | None = None
            if name == "notify":
                channel = self.notify_channel(argument, file, line, rid, where)
                if channel is None:
                    continue
            elif name == "reply":
                template = self.reply_template(
                    argument, file, line, rid, where, platforms, has_content=has_content
                )
                if template is None:
                    continue
            elif argument is not None:
                self.problem(f"action {name} takes no value", file, line=line, rule=rid, fld=where)
                continue
            kind: ActionType = "notify" if name == "notify" else SpecAction(name)
            actions.append(Action(type=kind, template=template, channel=channel))
        return tuple(actions)

    def reply_template(
        self, argument: Any, file: Path, line: int | None, rid: str, where: str,
        platforms: frozenset[Platform] | None, *, has_content: bool,
    ) -> ReplyTemplate | None:
        if not isinstance(argument, str) or not argument.strip():
            self.problem("reply needs a non-empty text, e.g. `- reply: 感谢留言`", file,
                         line=line, rule=rid, fld=where)
            return None
        try:
            template = ReplyTemplate.parse(argument)
        except TemplateError as exc:
            self.problem(str(exc), file, line=line, rule=rid, fld=where)
            return None
        if template.uses_match and not has_content:
            self.problem(
                "{match} is always empty here: the rule has no content condition (includes, "
                "regex, ...) outside `not` to take it from", file, line=line, rule=rid, fld=where,
            )
            return None
        # What is known before any comment arrives: the literal text and {rule}.
        known = template.render(author=None, match="", rule=rid, content="")
        if not known.strip() and not set(template.placeholders) - {"rule"}:
            self.problem("reply renders empty", file, line=line, rule=rid, fld=where)
            return None
        limit = min(REPLY_MAX_CHARS[p] for p in (platforms or {"wechat"}) if p in REPLY_MAX_CHARS)
        if len(known) > limit:
            self.problem(
                f"reply is {len(known)} characters before {{author}}, {{match}} and "
                f"{{content}} are filled in; the platform allows {limit}",
                file, line=line, rule=rid, fld=where,
            )
            return None
        return template

    # -- v1.1: waves, bursts, notify (rules-spec.md "v1.1 additions") -----------------------
    def count_window(
        self, node: object, allowed: set[str], file: Path, rid: str, where: str,
        line: int | None,
    ) -> tuple[SourceMap, int, float] | None:
        """``{at_least: N, within: D, ...}`` of ``repeated`` / ``burst``, checked."""
        mapping = self.sub_mapping(node, allowed, file, rid, where, line)
        if mapping is None:
            return None
        before = len(self.problems)
        at_least = mapping.get("at_least")
        if (isinstance(at_least, bool) or not isinstance(at_least, int)
                or not 1 <= at_least <= MAX_NEIGHBOURS):
            self.problem(f"at_least takes a whole number from 1 to {MAX_NEIGHBOURS}, got "
                         f"{self.as_written(at_least, file, mapping.line_of('at_least'))}",
                         file, mapping, "at_least", rid, f"{where}.at_least")
        within = 0.0
        try:
            within = parse_duration(mapping.get("within"))
        except ValueError as exc:
            self.problem(str(exc), file, mapping, "within", rid, f"{where}.within")
        if len(self.problems) > before or not isinstance(at_least, int):
            return None
        return mapping, at_least, within

    def repeated(
        self, node: object, file: Path, rid: str, where: str, line: int | None
    ) -> Repeated | None:
        got = self.count_window(node, REPEATED_KEYS, file, rid, where, line)
        if got is None:
            return None
        mapping, at_least, within = got
        similarity = mapping.get("similarity", 0.7)
        if (isinstance(similarity, bool) or not isinstance(similarity, int | float)
                or not 0 < similarity <= 1):
            self.problem(f"similarity takes a number above 0 and at most 1 (Jaccard of the "
                         f"3-grams), got {similarity!r}", file, mapping, "similarity", rid,
                         f"{where}.similarity")
            return None
        authors = mapping.get("authors", "distinct")
        if authors not in ("distinct", "any"):
            self.problem(f"authors takes distinct or any, got {authors!r}", file, mapping,
                         "authors", rid, f"{where}.authors")
            return None
        return Repeated(at_least, within, float(similarity), authors)

    def burst(
        self, node: object, file: Path, rid: str, where: str, line: int | None
    ) -> AuthorBurst | None:
        got = self.count_window(node, {"at_least", "within"}, file, rid, where, line)
        return None if got is None else AuthorBurst(got[1], got[2])

    def notify_channel(
        self, argument: object, file: Path, line: int | None, rid: str, where: str
    ) -> str | None:
        if not isinstance(argument, str) or not argument:
            self.problem("notify takes a channel name ({notify: moderators})", file, line=line,
                         rule=rid, fld=where)
            return None
        if self.channels is not None and argument not in self.channels:
            known = ", ".join(sorted(self.channels)) or "none are configured"
            self.problem(f"unknown notify channel {argument!r}"
                         f"{did_you_mean(argument, set(self.channels))}; config.yaml notify: "
                         f"has {known}", file, line=line, rule=rid, fld=where)
            return None
        return argument

    def history(
        self, node: object, file: Path, rid: str, where: str, line: int | None
    ) -> tuple[HistoryEntry, ...]:
        """A sample's earlier comments: texts, or mappings with content, author, before (how
        long before the sample; default 0) or created_at, and count (that many copies, each
        from its own author unless author is given)."""
        if not isinstance(node, SourceList):
            self.problem("history takes a list of earlier comments", file, line=line,
                         rule=rid, fld=where)
            return ()
        out: list[HistoryEntry] = []
        for index, entry in enumerate(node):
            sub, item_line = f"{where}[{index}]", node.line_of(index)
            item = {"content": entry} if isinstance(entry, str) else entry
            content = item.get("content") if isinstance(item, SourceMap | dict) else None
            if not isinstance(item, SourceMap | dict) or not isinstance(content, str):
                self.problem("a history entry is a text or a mapping with content: TEXT", file,
                             line=item_line, rule=rid, fld=sub)
                continue
            if isinstance(item, SourceMap):
                self.unknown_keys(item, HISTORY_KEYS, file, rid, sub)
            count = item.get("count", 1)
            if isinstance(count, bool) or not isinstance(count, int) or not 1 <= count <= 1000:
                self.problem(f"count takes a whole number from 1 to 1000, got {count!r}", file,
                             line=item_line, rule=rid, fld=f"{sub}.count")
                continue
            before, created_at = 0.0, None
            try:
                if "created_at" in item:
                    created_at = _unix_time(item["created_at"])
                    if created_at is None:
                        raise ValueError(f"created_at takes Unix seconds or a date and time, "
                                         f"got {item['created_at']!r}")
                elif "before" in item:
                    before = parse_duration(item["before"])
            except ValueError as exc:
                self.problem(str(exc), file, line=item_line, rule=rid, fld=sub)
                continue
            author = item.get("author")
            for copy in range(count):
                who = str(author) if author is not None else f"history-{index}-{copy}"
                out.append(HistoryEntry(content, who, before, created_at))
        return tuple(out)

    def samples(
        self, node: object, file: Path, rid: str, line: int | None
    ) -> tuple[RuleSample, ...]:
        if node is None:
            return ()
        if not isinstance(node, SourceMap):
            self.problem("tests must be a mapping with match and/or no_match lists", file,
                         line=line, rule=rid, fld="tests")
            return ()
        self.unknown_keys(node, TEST_KEYS, file, rid, "tests")
        samples: list[RuleSample] = []
        for key in ("match", "no_match"):
            items = node.get(key)
            if items is None:
                continue
            if not isinstance(items, SourceList):
                self.problem(f"tests.{key} must be a list", file, node, key, rid, f"tests.{key}")
                continue
            for index, item in enumerate(items):
                sample = self.sample(item, key == "match", file, rid, f"tests.{key}[{index}]",
                                     items.line_of(index))
                if sample is not None:
                    samples.append(sample)
        return tuple(samples)

    def sample(
        self, item: object, expect: bool, file: Path, rid: str, where: str, line: int | None
    ) -> RuleSample | None:
        """One test sample: a text, or a mapping giving every field a rule can read."""
        if isinstance(item, str | int | float) and not isinstance(item, bool):
            return RuleSample(content=str(item), expect_match=expect, line=line)
        if not isinstance(item, SourceMap):
            self.problem("a test sample is a text or a mapping with content", file, line=line,
                         rule=rid, fld=where)
            return None
        before = len(self.problems)
        for key in item:
            if key not in SAMPLE_KEYS:
                self.problem(
                    f"unknown sample key {key!r}{did_you_mean(str(key), SAMPLE_KEYS)}; a sample "
                    f"takes {', '.join(sorted(SAMPLE_KEYS))}", file, item, key, rid,
                    f"{where}.{key}",
                )
        content = item.get("content")
        if not isinstance(content, str):
            self.problem("a test sample mapping needs content: TEXT", file, line=line,
                         rule=rid, fld=where)
            return None

        def bad(key: str, message: str) -> None:
            self.problem(message, file, item, key, rid, f"{where}.{key}")

        platform: Platform | None = None
        account = item.get("account")
        if account is not None:
            if not isinstance(account, str):
                bad("account", f"account takes an account name, got {account!r}")
                account = None
            elif self.accounts is not None:
                if account not in self.accounts:
                    bad("account", f"unknown account {account!r}"
                        f"{did_you_mean(account, set(self.accounts))}")
                else:
                    platform = self.accounts[account]
        if "platform" in item:
            value = item["platform"]
            if value not in PLATFORM_NAMES:
                bad("platform", f"unknown platform {value!r}"
                    f"{did_you_mean(str(value), set(PLATFORM_NAMES))}; "
                    f"use {' or '.join(PLATFORM_NAMES)}")
            elif platform is not None and value != platform:
                bad("platform", f"account {account!r} is on {platform}, not {value}")
            else:
                platform = cast(Platform, value)
        author = item.get("author")
        if author is not None and (isinstance(author, bool) or not isinstance(author, str | int)):
            bad("author", f"author takes an openid or uid, got {author!r}")
        flags: dict[str, bool] = {}
        for key in ("elected", "replied"):
            value = item.get(key, False)
            if not isinstance(value, bool):
                bad(key, f"{key} takes true or false, got "
                    f"{self.as_written(value, file, item.line_of(key))}")
            flags[key] = value is True
        age: float | None = None
        if "age" in item:
            try:
                age = parse_duration(item["age"])
            except ValueError as exc:
                bad("age", str(exc))
        created_at: float | None = None
        if "created_at" in item:
            created_at = _unix_time(item["created_at"])
            if created_at is None:
                bad("created_at", "created_at takes Unix seconds or a date and time "
                    f"(2024-06-11 08:30:00+08:00), got {item['created_at']!r}")
            elif age is not None:
                bad("created_at", "give created_at or age, not both")
        offenses: int | None = None
        if "offenses" in item:
            value = item["offenses"]
            if isinstance(value, bool) or not isinstance(value, int) or value < 0:
                bad("offenses", "offenses takes the author's prior offense count within the "
                    f"rule's window, a whole number >= 0, got {value!r}")
            else:
                offenses = value
        history: tuple[HistoryEntry, ...] = ()
        if "history" in item:
            history = self.history(item["history"], file, rid, f"{where}.history",
                                   item.line_of("history"))
        if len(self.problems) > before:
            return None
        return RuleSample(
            history=history,
            content=content, expect_match=expect, line=line, platform=platform,
            account=account, author=str(author) if author is not None else None,
            created_at=created_at, age=age, elected=flags["elected"],
            replied=flags["replied"], offenses=offenses,
        )


def _unix_time(value: object) -> float | None:
    """Unix seconds from a number or a YAML date and time (a naive one is read as UTC)."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        return float(value)
    if isinstance(value, datetime):
        aware = value if value.tzinfo is not None else value.replace(tzinfo=UTC)
        return aware.timestamp()
    return None


def load_rules(
    paths: Sequence[str | Path],
    *,
    accounts: Mapping[str, Platform] | None = None,
    run_tests: bool = True,
    sources: dict[Path, str] | None = None,
    normalize: NormalizeOptions | None = None,
    channels: Collection[str] | None = None,
) -> RuleSet:
    """Load, validate and compile rule files and directories.

    ``accounts`` (name -> platform), when given, lets ``accounts:`` in rules be checked;
    ``channels`` (config's ``notify:`` channel names), ``{notify: CHANNEL}``.
    ``normalize`` (config.yaml's) is the normalisation every file starts from; a
    ``defaults.yaml`` among the rule files changes it for all of them, then each file's and
    each rule's ``normalize:``.
    With ``run_tests`` every rule's ``tests`` samples are evaluated and a failing sample is a
    problem like any other. ``sources``, when given, receives the text of every file read
    (rule and list files, by resolved path). Raises ConfigError with every problem found.
    """
    loader = _Loader(accounts=accounts, channels=channels)
    if sources is not None:
        loader.sources = sources
    documents = loader.read_files([Path(p) for p in paths])
    defaults, documents = loader.defaults_file(documents, normalize or NormalizeOptions())
    loader.collect_lists(documents)
    for name in list(loader.lists):
        loader.resolve_list(name)

    rules: list[Rule] = []
    order = 0
    for file, data in documents:
        base = loader.normalize_options(data.get("normalize"), defaults, file, None, "normalize")
        rules_node = data.get("rules")
        if rules_node is None:
            if "lists" not in data:
                loader.problem("the file has no rules and no lists", file, data)
            continue
        if not isinstance(rules_node, SourceList):
            loader.problem("rules must be a list", file, data, "rules", fld="rules")
            continue
        for index, node in enumerate(rules_node):
            rule = loader.rule(node, file, index, order, base, rules_node)
            order += 1
            if rule is not None:
                rules.append(rule)

    if not rules and not loader.problems:
        loader.problems.append(Problem(
            "no rules found in " + ", ".join(str(p) for p in paths)
            + "; refusing to run with an empty rule set"
        ))
    if loader.problems:
        raise ConfigError(loader.problems)

    # The list terms, each remembering where it was written, serve only the problems above:
    # let them go before the automata are built, the peak of a load (100,500 terms: the
    # terms take 45 MB, the automaton's construction 35 MB more than it keeps).
    loader.lists.clear()
    try:
        matchers = [group.builder.build() for group in loader.group_list]
    except PatternError as exc:  # the regex set: the budget makes this rare
        raise ConfigError(Problem(str(exc), file=", ".join(str(f) for f, _ in documents),
                                  field="regex")) from exc
    ruleset = RuleSet(
        rules=rules, matchers=matchers, notes=loader.notes, warnings=loader.warnings,
        files=tuple(file for file, _ in documents),
    )
    if run_tests:
        failures = ruleset.run_tests()
        if failures:
            raise ConfigError(failures)
    return ruleset

