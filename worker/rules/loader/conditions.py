"""A rule's ``when:`` read into a :class:`Condition` tree: content terms added to the rule's
matcher group, author and comment conditions, and the v1.1 ``repeated`` and ``burst`` waves
(rules-spec.md "v1.1 additions")."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, cast

from worker.errors import PatternError, Problem
from worker.rules.loader.lists import FileTerm, Lists, Term, TermList, quoted
from worker.rules.loader.located import Report
from worker.rules.loader.options import MatcherGroups
from worker.rules.matcher import LiteralKind, MatcherBuilder
from worker.rules.model import (
    AllOf,
    AnyOf,
    AuthorIn,
    AuthorOffenses,
    CommentAge,
    CommentFlag,
    Condition,
    Length,
    Letters,
    LiteralHit,
    Not,
    RegexHit,
)
from worker.rules.normalize import Normalizer
from worker.rules.waves import AuthorBurst, Repeated
from worker.units import parse_duration
from worker.waves.state import MAX_NEIGHBOURS
from worker.yamlsrc import SourceList, SourceMap

CONDITION_KEYS = {"content", "author", "comment", "any", "not"}
CONTENT_KEYS = {
    "includes", "includes_word", "starts_with", "ends_with", "full_exact", "regex",
    "sounds_like", "allow", "min_length", "max_length", "min_letters", "max_letters",
    "repeated",
}
AUTHOR_KEYS = {"in", "not_in", "offenses", "burst"}
COMMENT_KEYS = {"elected", "replied", "age"}
_BOUND_KEYS = {"min_length", "max_length", "min_letters", "max_letters"}
#: The content keys that find hits (which `allow` can cancel).
MATCHER_KEYS = CONTENT_KEYS - _BOUND_KEYS - {"allow", "repeated"}
REPEATED_KEYS = {"at_least", "within", "similarity", "authors"}


def _all_of(parts: list[Condition]) -> Condition | None:
    if not parts:
        return None
    return parts[0] if len(parts) == 1 else AllOf(tuple(parts))


@dataclass
class Conditions:
    """Reads conditions; a term or pattern that cannot be used is reported once, where it
    was written, however many rules use it."""

    report: Report
    lists: Lists
    groups: MatcherGroups
    reported_terms: set[tuple[str, int | None, str, str]] = field(default_factory=set)
    uncollapsed: dict[int, Normalizer] = field(default_factory=dict)  # per group, for warnings

    def condition(
        self, node: object, file: Path, rid: str, where: str, group: int, line: int | None
    ) -> Condition | None:
        if not isinstance(node, SourceMap) or not node:
            self.report.problem(
                f"{where} must be a non-empty mapping of conditions "
                f"({', '.join(sorted(CONDITION_KEYS))})", file, line=line, rule=rid, fld=where,
            )
            return None
        if "allow" in node:
            self.report.problem(
                "allow belongs inside a content map, beside the terms whose hits it excuses "
                "(content: {includes: [...], allow: [...]})",
                file, node, "allow", rid, f"{where}.allow",
            )
        self.report.unknown_keys(node, CONDITION_KEYS | {"allow"}, file, rid, where)
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
                parts.append(self._any(value, file, rid, sub, group, key_line))
            elif key == "not":
                child = self.condition(value, file, rid, sub, group, key_line)
                if child is not None:
                    parts.append(Not(child))
        return _all_of([p for p in parts if p is not None])

    def _any(
        self, value: object, file: Path, rid: str, where: str, group: int, line: int | None
    ) -> Condition | None:
        if not isinstance(value, SourceList) or not value:
            self.report.problem("any takes a non-empty list of condition maps", file,
                                line=line, rule=rid, fld=where)
            return None
        children = [
            self.condition(item, file, rid, f"{where}[{i}]", group, value.line_of(i))
            for i, item in enumerate(value)
        ]
        return AnyOf(tuple(c for c in children if c is not None))

    # -- content -------------------------------------------------------------------------
    def content(
        self, node: object, file: Path, rid: str, where: str, group: int, line: int | None
    ) -> Condition | None:
        mapping = self.report.sub_mapping(node, CONTENT_KEYS, file, rid, where, line)
        if mapping is None:
            return None
        builder = self.groups[group].builder
        parts: list[Condition] = []
        bounds: dict[str, int] = {}
        allow = self.allow_terms(mapping, builder, file, rid, where)
        for key, value in mapping.items():
            sub = f"{where}.{key}"
            key_line = mapping.line_of(key)
            hit: Condition | None = None
            if key == "repeated":
                hit = self.repeated(value, file, rid, sub, key_line)
            elif key in _BOUND_KEYS:
                if isinstance(value, bool) or not isinstance(value, int) or value < 0:
                    self.report.problem(
                        f"{key} takes a whole number >= 0, got "
                        f"{self.report.as_written(value, file, key_line)}", file,
                        line=key_line, rule=rid, fld=sub)
                else:
                    bounds[key] = value
            elif key in MATCHER_KEYS:
                hit = self._hit(key, value, allow, file, rid, sub, group, key_line)
            if hit is not None:
                parts.append(hit)
        parts.extend(self._bounds(bounds, file, rid, where, group, line))
        return _all_of(parts)

    def _hit(
        self, key: str, value: object, allow: frozenset[int], file: Path, rid: str, where: str,
        group: int, line: int | None,
    ) -> Condition | None:
        """The terms of one matcher key (includes, regex, ...) added to the group's matcher."""
        terms = self.lists.terms(value, file, rid, where, line)
        if terms is None:
            return None
        if not terms:
            self.report.problem(f"{key} has no terms", file, line=line, rule=rid, fld=where)
            return None
        builder = self.groups[group].builder
        ids: set[int] = set()
        for index, term in enumerate(terms):
            try:
                if key == "regex":
                    ids.add(builder.add_regex(term, allow=allow))
                else:
                    ids.add(builder.add_literal(cast(LiteralKind, key), term, allow=allow))
                    self.check_collapse(terms, index, key, group, file, line, rid, where)
            except PatternError as exc:
                self.bad_term(terms.located(index), str(exc), file, line, rid, where)
        if not ids:
            return None
        if key == "regex":
            return RegexHit(group, frozenset(ids))
        return LiteralHit(group, frozenset(ids))

    def _bounds(
        self, bounds: dict[str, int], file: Path, rid: str, where: str, group: int,
        line: int | None,
    ) -> list[Condition]:
        """``min_length``/``max_length`` and ``min_letters``/``max_letters`` as conditions."""
        parts: list[Condition] = []
        for unit, condition in (("length", Length), ("letters", Letters)):
            minimum, maximum = bounds.get(f"min_{unit}"), bounds.get(f"max_{unit}")
            if minimum is not None and maximum is not None and minimum > maximum:
                self.report.problem(f"min_{unit} {minimum} is greater than max_{unit} {maximum}",
                                    file, line=line, rule=rid, fld=where)
            if minimum is not None or maximum is not None:
                parts.append(condition(group, minimum, maximum))
        return parts

    def allow_terms(
        self, mapping: SourceMap, builder: MatcherBuilder, file: Path, rid: str, where: str
    ) -> frozenset[int]:
        """The ids of a content map's ``allow`` terms (none: an empty set)."""
        if "allow" not in mapping:
            return frozenset()
        sub = f"{where}.allow"
        line = mapping.line_of("allow")
        if not MATCHER_KEYS & set(mapping):
            self.report.problem(
                "allow excuses hits of the terms beside it (includes, includes_word, "
                "starts_with, ends_with, full_exact, regex, sounds_like), and this content map "
                "has none", file, line=line, rule=rid, fld=sub,
            )
            return frozenset()
        value = mapping["allow"]
        terms = self.lists.terms(value, file, rid, sub, line)
        if terms is None:
            return frozenset()
        if not terms:
            self.report.problem("allow has no terms", file, line=line, rule=rid, fld=sub)
            return frozenset()
        ids: set[int] = set()
        for index, term in enumerate(terms):
            try:
                ids.add(builder.add_allow(term))
            except PatternError as exc:
                self.bad_term(terms.located(index), str(exc), file, line, rid, sub)
        return frozenset(ids)

    def check_collapse(
        self, terms: TermList, index: int, key: str, group: int, file: Path, line: int | None,
        rid: str, where: str,
    ) -> None:
        """Warn when ``collapse_repeats`` turns term ``index`` into another word (``ass`` ->
        ``as``)."""
        options = self.groups[group].options
        if options.collapse_repeats is None:
            return
        term = terms[index]
        skeleton = key != "includes_word"
        collapsed = self.groups[group].builder.normalizer.normalize_term(
            term, skeleton=skeleton)
        if group not in self.uncollapsed:
            self.uncollapsed[group] = Normalizer(replace(options, collapse_repeats=None))
        whole = self.uncollapsed[group].normalize_term(term, skeleton=skeleton)
        if collapsed == whole:
            return
        term = terms.located(index)
        if isinstance(term, Term):
            file, line = term.file, term.line
        key_seen = (str(file), line, str(term), f"collapse {options.collapse_repeats}")
        if key_seen in self.reported_terms:
            return
        self.reported_terms.add(key_seen)
        turned = ("turns the term on this line into another word"
                  if isinstance(term, FileTerm) and not term.shown()
                  else f"turns the term '{term}' into '{collapsed}'")
        self.report.warnings.append(Problem(
            f"collapse_repeats: {options.collapse_repeats} {turned}, which matches more than "
            "it says; write the term as it collapses, or turn collapse_repeats off for this "
            "rule", file=str(file), line=line, rule=rid, field=where,
        ))

    def bad_term(
        self, term: str, message: str, file: Path, line: int | None, rid: str, where: str
    ) -> None:
        """A term or pattern that cannot be used, reported once, at its own entry, as written."""
        if isinstance(term, Term):
            file, line = term.file, term.line
            in_list = term.where.startswith("lists.")
        else:
            in_list = False
        key = (str(file), line, str(term), message)
        if key in self.reported_terms:
            return  # a list entry used by several rules: one report
        self.reported_terms.add(key)
        text = quoted(term, message)
        if in_list and isinstance(term, Term):
            self.report.problem(text, file, line=line, fld=term.where)
        else:
            self.report.problem(text, file, line=line, rule=rid, fld=where)

    # -- author and comment --------------------------------------------------------------
    def author(
        self, node: object, file: Path, rid: str, where: str, line: int | None
    ) -> Condition | None:
        mapping = self.report.sub_mapping(node, AUTHOR_KEYS, file, rid, where, line)
        if mapping is None:
            return None
        parts: list[Condition | None] = []
        for key in ("in", "not_in"):
            if key in mapping:
                terms = self.lists.terms(mapping[key], file, rid, f"{where}.{key}",
                                         mapping.line_of(key))
                if terms is not None:
                    ids = frozenset(t.strip().casefold() for t in terms)
                    parts.append(AuthorIn(ids, negate=key == "not_in"))
        if "burst" in mapping:
            parts.append(self.burst(mapping["burst"], file, rid, f"{where}.burst",
                                    mapping.line_of("burst")))
        if "offenses" in mapping:
            parts.append(self._offenses(mapping["offenses"], file, rid, f"{where}.offenses",
                                        mapping.line_of("offenses")))
        return _all_of([p for p in parts if p is not None])

    def _offenses(
        self, node: object, file: Path, rid: str, where: str, line: int | None
    ) -> AuthorOffenses | None:
        off = self.report.sub_mapping(node, {"at_least", "within"}, file, rid, where, line)
        if off is None:
            return None
        at_least = off.get("at_least")
        if isinstance(at_least, bool) or not isinstance(at_least, int) or at_least < 1:
            self.report.problem(f"at_least takes a whole number >= 1, got {at_least!r}", file,
                                off, "at_least", rid, f"{where}.at_least")
        within = self._window(off, file, rid, where)
        if isinstance(at_least, int) and not isinstance(at_least, bool) and within is not None:
            return AuthorOffenses(at_least, within)
        return None

    def _window(self, mapping: SourceMap, file: Path, rid: str, where: str) -> float | None:
        """The ``within:`` of a counting condition, above 0; None (reported) otherwise: a
        condition dropped unreported would leave its rule holding for every comment."""
        if "within" not in mapping:
            self.report.problem("within is required: the window counted, a duration like 10m "
                                "or 1h", file, line=mapping.line, rule=rid,
                                fld=f"{where}.within")
            return None
        try:
            within = parse_duration(mapping["within"])
        except ValueError as exc:
            self.report.problem(str(exc), file, mapping, "within", rid, f"{where}.within")
            return None
        if within <= 0:
            self.report.problem(f"within takes a duration above 0, got {mapping['within']!r}",
                                file, mapping, "within", rid, f"{where}.within")
            return None
        return within

    def comment(
        self, node: object, file: Path, rid: str, where: str, line: int | None
    ) -> Condition | None:
        mapping = self.report.sub_mapping(node, COMMENT_KEYS, file, rid, where, line)
        if mapping is None:
            return None
        parts: list[Condition | None] = []
        for key in ("elected", "replied"):
            if key in mapping:
                value = mapping[key]
                if not isinstance(value, bool):
                    self.report.problem(f"{key} takes true or false, got {value!r}", file,
                                        mapping, key, rid, f"{where}.{key}")
                else:
                    parts.append(CommentFlag(cast(Any, key), value))
        if "age" in mapping:
            parts.append(self._age(mapping["age"], file, rid, f"{where}.age",
                                   mapping.line_of("age")))
        return _all_of([p for p in parts if p is not None])

    def _age(
        self, node: object, file: Path, rid: str, where: str, line: int | None
    ) -> CommentAge | None:
        age = self.report.sub_mapping(node, {"older_than", "newer_than"}, file, rid, where, line)
        if age is None:
            return None
        bounds: dict[str, float | None] = {"older_than": None, "newer_than": None}
        for key in bounds:
            if key in age:
                try:
                    bounds[key] = parse_duration(age[key])
                except ValueError as exc:
                    self.report.problem(str(exc), file, age, key, rid, f"{where}.{key}")
        if bounds["older_than"] is None and bounds["newer_than"] is None:
            return None
        return CommentAge(bounds["older_than"], bounds["newer_than"])

    # -- v1.1: waves and bursts (rules-spec.md "v1.1 additions") -------------------------
    def count_window(
        self, node: object, allowed: set[str], file: Path, rid: str, where: str,
        line: int | None,
    ) -> tuple[SourceMap, int, float] | None:
        """``{at_least: N, within: D, ...}`` of ``repeated`` / ``burst``, checked."""
        mapping = self.report.sub_mapping(node, allowed, file, rid, where, line)
        if mapping is None:
            return None
        before = len(self.report.problems)
        at_least = mapping.get("at_least")
        # 2 at least: the comment itself always counts, so 1 would hold for every comment.
        if (isinstance(at_least, bool) or not isinstance(at_least, int)
                or not 2 <= at_least <= MAX_NEIGHBOURS):
            self.report.problem(
                f"at_least takes a whole number from 2 to {MAX_NEIGHBOURS} (this comment "
                "counts too), got "
                f"{self.report.as_written(at_least, file, mapping.line_of('at_least'))}",
                file, mapping, "at_least", rid, f"{where}.at_least")
        within = self._window(mapping, file, rid, where)
        if (len(self.report.problems) > before or not isinstance(at_least, int)
                or within is None):
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
            self.report.problem(f"similarity takes a number above 0 and at most 1 (Jaccard of "
                                f"the 3-grams), got {similarity!r}", file, mapping,
                                "similarity", rid, f"{where}.similarity")
            return None
        authors = mapping.get("authors", "distinct")
        if authors not in ("distinct", "any"):
            self.report.problem(f"authors takes distinct or any, got {authors!r}", file,
                                mapping, "authors", rid, f"{where}.authors")
            return None
        return Repeated(at_least, within, float(similarity), authors)

    def burst(
        self, node: object, file: Path, rid: str, where: str, line: int | None
    ) -> AuthorBurst | None:
        got = self.count_window(node, {"at_least", "within"}, file, rid, where, line)
        return None if got is None else AuthorBurst(got[1], got[2])
