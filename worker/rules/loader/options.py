"""``normalize:`` maps read into :class:`NormalizeOptions`, and the matcher group that the
rules sharing one set of options share (one automaton and regex set per group)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from worker.rules.loader.located import Report
from worker.rules.matcher import MatcherBuilder
from worker.rules.normalize import NormalizeOptions, Normalizer
from worker.rules.regex import RegexBudget
from worker.rules.steps import STEPS, read_steps
from worker.yamlsrc import SourceMap

NORMALIZE_KEYS = set(STEPS)


def normalize_options(
    report: Report, node: object, base: NormalizeOptions, file: Path, rule: str | None,
    where: str,
) -> NormalizeOptions:
    """``base`` changed by the ``normalize:`` mapping ``node`` (absent: ``base``)."""
    if node is None:
        return base
    if not isinstance(node, SourceMap):
        report.problem("normalize must be a mapping of step: value", file, rule=rule, fld=where)
        return base
    report.unknown_keys(node, NORMALIZE_KEYS, file, rule, where)
    options, problems = read_steps(node, base)
    for key, message in problems:
        report.problem(message, file, node, key, rule, f"{where}.{key}")
    return options


@dataclass
class MatcherGroup:
    options: NormalizeOptions
    builder: MatcherBuilder


@dataclass
class MatcherGroups:
    """One :class:`MatcherGroup` per distinct normalisation, numbered in order of first use
    (a rule's ``group``, the index of its matcher in the rule set)."""

    groups: list[MatcherGroup] = field(default_factory=list)
    numbers: dict[NormalizeOptions, int] = field(default_factory=dict)
    regex_budget: RegexBudget = field(default_factory=RegexBudget)  # shared by every group

    def group_for(self, options: NormalizeOptions) -> int:
        if options not in self.numbers:
            self.numbers[options] = len(self.groups)
            builder = MatcherBuilder(Normalizer(options), budget=self.regex_budget)
            self.groups.append(MatcherGroup(options, builder))
        return self.numbers[options]

    def __getitem__(self, group: int) -> MatcherGroup:
        return self.groups[group]
