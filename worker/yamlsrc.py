"""YAML loading that remembers where every value came from.

Rule and config errors must name a file and a line. PyYAML's safe loader forgets marks once it
has built Python objects, so this loader builds :class:`SourceMap` and :class:`SourceList`, a
dict and a list that also record the 1-based line of themselves and of each key or item.
They behave as plain ``dict`` and ``list`` everywhere else.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from worker.errors import ConfigError, Problem


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
    """SafeLoader building SourceMap/SourceList, refusing duplicate keys."""

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


def load_yaml_text(text: str, *, filename: str) -> Any:
    """Parse YAML text; a syntax error becomes a ConfigError naming the file and line."""
    try:
        return yaml.load(text, Loader=_SourceLoader)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark is not None else None
        reason = " ".join(str(part) for part in (exc.context, exc.problem) if part)
        raise ConfigError(Problem(f"invalid YAML: {reason}", file=filename, line=line)) from exc
    except yaml.YAMLError as exc:
        raise ConfigError(Problem(f"invalid YAML: {exc}", file=filename)) from exc


def load_yaml_file(path: Path) -> Any:
    """Read and parse a YAML file, with errors that name it."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(Problem(f"cannot read file: {exc.strerror}", file=str(path))) from exc
    except UnicodeDecodeError as exc:
        raise ConfigError(Problem(f"not UTF-8 text: {exc}", file=str(path))) from exc
    return load_yaml_text(text, filename=str(path))
