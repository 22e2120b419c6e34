"""Named term lists (``lists:``), ``$name`` references between them and from rules, and
``{file: path}`` lists read from a file inside the rule directory.

Every term can say where it was written (:meth:`TermList.located`), so that a problem with it
points at its entry (the list's line, or the line of the list file), not at the rule that uses
the list.
"""

from __future__ import annotations

import array
import bisect
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, cast

from worker.errors import ConfigError
from worker.rules.loader.files import Document
from worker.rules.loader.located import Report, did_you_mean
from worker.textfile import read_regular_text
from worker.yamlsrc import SourceList, SourceMap

LIST_FILE_MAX_BYTES = 8 << 20  # a list file (file: path): 8 MiB, some 500,000 terms
FILE_TERM_SHOWN = 20  # characters of a list file's line a problem may repeat


class Term(str):
    """A term that remembers where it was written, so a problem with it points at the entry
    (a list's own line, or the line of a ``file:`` list), not where the list is used."""

    file: Path
    line: int | None
    where: str  # "lists.name" for a list entry, the rule's field otherwise

    def __new__(cls, text: str, file: Path, line: int | None, where: str) -> Term:
        term = super().__new__(cls, text)
        term.file, term.line, term.where = file, line, where
        return term


class FileTerm(Term):
    """A line of a list file. A problem with it names the file and line, and repeats the line
    only when it is short (a term or a small pattern): ``file:`` may point at anything readable
    inside the rule directory, a file holding a password included."""

    def shown(self) -> bool:
        return len(self) <= FILE_TERM_SHOWN


@dataclass(frozen=True, slots=True)
class _FileLines:
    """Where the lines of one list file came from: the terms of a :class:`TermList` from
    ``start`` on were read from ``file``, at ``lines`` (a 4-byte line number each)."""

    start: int
    file: Path
    where: str
    lines: array.array[int]


class TermList(list[str]):
    """Terms, each as a plain string, that can say where each was written.

    A list file's terms are kept as the strings read plus one line number each: a
    :class:`FileTerm` (some 500 bytes with its location) is made only for a term a problem
    names, so a 100,000-line list costs 10 MB during a load, not 50. Terms written inline in a
    rule file are :class:`Term` already (few).
    """

    __slots__ = ("_files",)

    def __init__(self) -> None:
        super().__init__()
        self._files: list[_FileLines] = []

    def add_file(self, terms: list[str], file: Path, where: str, lines: array.array[int]) -> None:
        self._files.append(_FileLines(len(self), file, where, lines))
        self.extend(terms)

    def add_list(self, other: TermList) -> None:
        """Append ``other``'s terms, each still locatable."""
        shift = len(self)
        self._files.extend(
            _FileLines(part.start + shift, part.file, part.where, part.lines)
            for part in other._files
        )
        self.extend(other)

    def located(self, index: int) -> str:
        """Term ``index``, as a :class:`Term` that says where it was written when known."""
        term = self[index]
        if isinstance(term, Term):
            return term
        starts = [part.start for part in self._files]
        at = bisect.bisect_right(starts, index) - 1
        if at < 0:
            return term
        part = self._files[at]
        offset = index - part.start
        if offset >= len(part.lines):
            return term
        return FileTerm(term, part.file, part.lines[offset], part.where)


def quoted(term: str, message: str) -> str:
    """``'term': message``, or for a long line of a list file the message without the line."""
    if not isinstance(term, FileTerm) or term.shown():
        return f"'{term}': {message}"
    message = message.replace(repr(str(term)), "the term on this line")
    message = message.replace(str(term), "the term on this line")
    return message[:300] + "..." if len(message) > 300 else message


@dataclass
class ListDefinition:
    name: str
    node: Any
    file: Path
    line: int
    terms: TermList | None = None  # resolved
    resolving: bool = False


@dataclass
class Lists:
    """Every file's ``lists:``, resolved once each; and rule values read as lists of terms."""

    report: Report
    roots: dict[Path, Path]  # rule file -> its rule directory (list files must lie inside)
    sources: dict[Path, str]  # receives the text of every list file read
    definitions: dict[str, ListDefinition] = field(default_factory=dict)

    def collect(self, documents: list[Document]) -> None:
        """Every list of every document, then each resolved (a problem names its entry)."""
        for file, data in documents:
            lists = data.get("lists")
            if lists is None:
                continue
            if not isinstance(lists, SourceMap):
                self.report.problem("lists must be a mapping of name: terms", file, data,
                                    "lists")
                continue
            for name, node in lists.items():
                line = lists.line_of(name)
                if name in self.definitions:
                    other = self.definitions[name]
                    self.report.problem(
                        f"list {name!r} is already defined at {other.file}:{other.line}",
                        file, line=line, fld=f"lists.{name}",
                    )
                    continue
                self.definitions[str(name)] = ListDefinition(str(name), node, file, line)
        for name in list(self.definitions):
            self.resolve(name)

    def clear(self) -> None:
        """Let the terms go (they serve only the problems of a load)."""
        self.definitions.clear()

    def resolve(self, name: str) -> TermList | None:
        definition = self.definitions[name]
        if definition.terms is not None:
            return definition.terms
        if definition.resolving:  # a $reference cycle
            self.report.problem(
                f"list {name!r} refers to itself through $references",
                definition.file, line=definition.line, fld=f"lists.{name}",
            )
            return None
        definition.resolving = True
        node = definition.node
        terms: TermList | None
        if isinstance(node, SourceMap):
            terms = self._list_file(definition)
        else:
            terms = self.terms(
                node, definition.file, None, f"lists.{name}", definition.line, allow_refs=True
            )
        definition.resolving = False
        definition.terms = terms if terms is not None else TermList()
        return definition.terms

    def _list_file(self, definition: ListDefinition) -> TermList:
        node = cast(SourceMap, definition.node)
        where = f"lists.{definition.name}"
        self.report.unknown_keys(node, {"file"}, definition.file, None, where)
        relative = node.get("file")
        if not isinstance(relative, str) or not relative:
            self.report.problem("a list from a file is written {file: path}", definition.file,
                                node)
            return TermList()
        path = (definition.file.parent / relative).resolve()
        root = self.roots.get(definition.file, definition.file.resolve().parent)
        if not path.is_relative_to(root):
            self.report.problem(
                f"list file {relative} is outside the rule directory {root}; list files must "
                "be inside it", definition.file, node, "file", fld=f"{where}.file",
            )
            return TermList()
        try:
            text = read_regular_text(path, max_bytes=LIST_FILE_MAX_BYTES, what="list file")
        except ConfigError as exc:
            for problem in exc.problems:
                self.report.problem(f"{relative}: {problem.message}", definition.file, node,
                                    "file", fld=f"{where}.file")
            return TermList()
        self.sources[path] = text
        shown = definition.file.parent / relative  # as the moderator would write it
        terms: list[str] = []
        lines = array.array("I")
        for number, raw in enumerate(text.splitlines(), start=1):
            term = raw.strip()
            if term and not term.startswith("#"):
                terms.append(term)
                lines.append(number)
        result = TermList()
        result.add_file(terms, shown, f"{where} ({relative})", lines)
        return result

    def terms(
        self, node: object, file: Path, rule: str | None, where: str, line: int | None,
        *, allow_refs: bool = True,
    ) -> TermList | None:
        """A list value: plain terms and $list references, mixed; one string is a list of one.
        :meth:`TermList.located` says where a term was written."""
        items: list[Any]
        if isinstance(node, list):
            items = list(node)
        elif isinstance(node, str | int | float) and not isinstance(node, bool):
            items = [node]
        else:
            self.report.problem("expected a list of terms", file, line=line, rule=rule,
                                fld=where)
            return None
        result = TermList()
        for index, item in enumerate(items):
            item_line = node.line_of(index) if isinstance(node, SourceList) else line
            if isinstance(item, bool) or item is None or not isinstance(item, str | int | float):
                self.report.problem(
                    f"term {self.report.as_written(item, file, item_line)} is not text; quote "
                    "it (YAML reads yes/no/on/off and empty values as something else)",
                    file, line=item_line, rule=rule, fld=where,
                )
                continue
            term = str(item)
            if allow_refs and term.startswith("$") and len(term) > 1:
                result.add_list(self._reference(term[1:], file, item_line, rule, where))
                continue
            if not term.strip():
                self.report.problem("empty term", file, line=item_line, rule=rule, fld=where)
                continue
            result.append(Term(term, file, item_line, where))
        return result

    def _reference(
        self, name: str, file: Path, line: int | None, rule: str | None, where: str
    ) -> TermList:
        """The terms of ``$name`` (none when it is unknown or part of a cycle)."""
        if name not in self.definitions:
            self.report.problem(
                f"unknown list ${name}{did_you_mean(name, set(self.definitions))}",
                file, line=line, rule=rule, fld=where,
            )
            return TermList()
        return self.resolve(name) or TermList()
