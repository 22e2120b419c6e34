"""YAML loading that remembers where every value came from.

Rule and config errors must name a file and a line. PyYAML's safe loader forgets marks once it
has built Python objects, so this loader builds :class:`SourceMap` and :class:`SourceList`, a
dict and a list that also record the 1-based line of themselves and of each key or item.
They behave as plain ``dict`` and ``list`` everywhere else.

:class:`YamlLimits` bounds what a file may make the loader do: its size, how deeply it nests
(5,000 nested ``[`` would overflow the recursive composer) and whether aliases are allowed
(an alias bomb of a few hundred bytes expands into billions of nodes). Rule files are read
with :data:`RULE_FILE_LIMITS`: no aliases at all.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from worker.errors import ConfigError, Problem
from worker.textfile import read_regular_text


@dataclass(frozen=True, slots=True, kw_only=True)
class YamlLimits:
    """What one YAML file may hold: bytes, nesting depth, aliases (``*name``)."""

    max_bytes: int = 1 << 20
    max_depth: int = 64
    aliases: bool = True


#: Rule files: 1 MiB, 64 levels, no aliases (nothing in the rule language needs them).
RULE_FILE_LIMITS = YamlLimits(aliases=False)


class SourceMap(dict[Any, Any]):
    """A mapping that knows its own line and the line of each key."""

    line: int
    key_lines: dict[Any, int]

    def line_of(self, key: Any) -> int:
        return self.key_lines.get(key, self.line)


class SourceList(list[Any]):
    """A sequence that knows its own line and the line of each item."""

    line: int
    item_lines: list[int]

    def line_of(self, index: int) -> int:
        if 0 <= index < len(self.item_lines):
            return self.item_lines[index]
        return self.line


def line_of(node: object, default: int | None = None) -> int | None:
    """The line a loaded value starts on, if it is a container that knows it."""
    return getattr(node, "line", default)


class _SourceLoader(yaml.SafeLoader):
    """SafeLoader building SourceMap/SourceList, refusing duplicate keys, held to limits."""

    limits: YamlLimits = YamlLimits()
    _depth = 0

    def compose_node(self, parent: yaml.Node | None, index: int) -> yaml.Node | None:
        if not self.limits.aliases and self.check_event(yaml.AliasEvent):
            raise yaml.composer.ComposerError(
                None, None, "aliases (*name) are not allowed here; write the value out",
                self._next_mark(),
            )
        self._depth += 1
        try:
            if self._depth > self.limits.max_depth:
                raise yaml.composer.ComposerError(
                    None, None, f"nested more than {self.limits.max_depth} levels deep",
                    self._next_mark(),
                )
            return super().compose_node(parent, index)
        finally:
            self._depth -= 1

    def _next_mark(self) -> yaml.Mark | None:
        event = self.peek_event()  # type: ignore[no-untyped-call]
        return getattr(event, "start_mark", None)

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> SourceMap:
        self.flatten_mapping(node)
        result = SourceMap()
        result.line = node.start_mark.line + 1
        result.key_lines = {}
        for key_node, value_node in node.value:
            key = self.construct_object(key_node, deep=True)
            try:
                hash(key)
            except TypeError as exc:
                raise yaml.constructor.ConstructorError(
                    "while constructing a mapping",
                    node.start_mark,
                    "found an unhashable key",
                    key_node.start_mark,
                ) from exc
            if key in result:
                raise yaml.constructor.ConstructorError(
                    "while constructing a mapping",
                    node.start_mark,
                    f"found duplicate key {key!r}",
                    key_node.start_mark,
                )
            result[key] = self.construct_object(value_node, deep=True)
            result.key_lines[key] = key_node.start_mark.line + 1
        return result

    def construct_sequence(self, node: yaml.SequenceNode, deep: bool = False) -> SourceList:
        result = SourceList(self.construct_object(child, deep=True) for child in node.value)
        result.line = node.start_mark.line + 1
        result.item_lines = [child.start_mark.line + 1 for child in node.value]
        return result


_SourceLoader.add_constructor(
    yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG,
    lambda loader, node: loader.construct_mapping(node),  # type: ignore[arg-type]
)
_SourceLoader.add_constructor(
    yaml.resolver.BaseResolver.DEFAULT_SEQUENCE_TAG,
    lambda loader, node: loader.construct_sequence(node),  # type: ignore[arg-type]
)


def load_yaml_text(text: str, *, filename: str, limits: YamlLimits | None = None) -> Any:
    """Parse YAML text; a syntax error becomes a ConfigError naming the file and line."""
    limits = limits or YamlLimits()
    if len(text) > limits.max_bytes:
        raise ConfigError(Problem(
            f"the file is {len(text):,} characters; at most {limits.max_bytes:,} are read",
            file=filename,
        ))
    loader = _SourceLoader(text)
    loader.limits = limits
    try:
        return loader.get_single_data()
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark is not None else None
        reason = " ".join(str(part) for part in (exc.context, exc.problem) if part)
        if "'\\t'" in reason:  # PyYAML: "found character '\t' that cannot start any token"
            reason += " (a tab: indent with spaces, YAML does not allow tabs for indentation)"
        raise ConfigError(Problem(f"invalid YAML: {reason}", file=filename, line=line)) from exc
    except yaml.YAMLError as exc:
        raise ConfigError(Problem(f"invalid YAML: {exc}", file=filename)) from exc
    finally:
        loader.dispose()


def load_yaml_file(path: Path, *, limits: YamlLimits | None = None) -> Any:
    """Read (a regular file, size-capped) and parse a YAML file, with errors that name it."""
    limits = limits or YamlLimits()
    text = read_regular_text(path, max_bytes=limits.max_bytes)
    return load_yaml_text(text, filename=str(path), limits=limits)
