"""``load_rules``: every part of the loader run over every file, then the rule set compiled
only when no part found a problem."""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from worker.errors import ConfigError, PatternError, Problem
from worker.platform_specs import Platform
from worker.rules.engine import RuleSet
from worker.rules.loader.actions import Actions
from worker.rules.loader.conditions import Conditions
from worker.rules.loader.files import Document, RuleFiles
from worker.rules.loader.lists import Lists
from worker.rules.loader.located import Report
from worker.rules.loader.options import MatcherGroups, normalize_options
from worker.rules.loader.rule import Rules
from worker.rules.loader.samples import Samples
from worker.rules.model import Rule
from worker.rules.normalize import NormalizeOptions
from worker.yamlsrc import SourceList


@dataclass
class _Load:
    """The parts of one load, sharing its report."""

    report: Report
    files: RuleFiles
    lists: Lists
    groups: MatcherGroups
    rules: Rules

    @classmethod
    def start(
        cls, accounts: Mapping[str, Platform] | None, channels: Collection[str] | None,
        sources: dict[Path, str] | None,
    ) -> _Load:
        report = Report()
        files = RuleFiles(report) if sources is None else RuleFiles(report, sources=sources)
        lists = Lists(report, roots=files.roots, sources=files.sources)
        groups = MatcherGroups()
        rules = Rules(
            report, accounts, groups,
            conditions=Conditions(report, lists, groups),
            actions=Actions(report, channels),
            samples=Samples(report, accounts),
        )
        return cls(report, files, lists, groups, rules)

    def read_rules(self, documents: list[Document], defaults: NormalizeOptions) -> list[Rule]:
        """Every rule of every document, in order (a rule with a problem left out)."""
        rules: list[Rule] = []
        order = 0
        for file, data in documents:
            base = normalize_options(self.report, data.get("normalize"), defaults, file, None,
                                     "normalize")
            rules_node = data.get("rules")
            if rules_node is None:
                if "lists" not in data:
                    self.report.problem("the file has no rules and no lists", file, data)
                continue
            if not isinstance(rules_node, SourceList):
                self.report.problem("rules must be a list", file, data, "rules", fld="rules")
                continue
            for index, node in enumerate(rules_node):
                rule = self.rules.rule(node, file, index, order, base, rules_node)
                order += 1
                if rule is not None:
                    rules.append(rule)
        return rules

    def compile(self, rules: list[Rule], documents: list[Document]) -> RuleSet:
        """The rule set, its matchers built (only once the load has no problem)."""
        # The list terms, each remembering where it was written, serve only the problems
        # found: let them go before the automata are built, the peak of a load (100,500
        # terms: the terms take 45 MB, the automaton's construction 35 MB more than it keeps).
        self.lists.clear()
        try:
            matchers = [group.builder.build() for group in self.groups.groups]
        except PatternError as exc:  # the regex set: the budget makes this rare
            raise ConfigError(Problem(str(exc), file=", ".join(str(f) for f, _ in documents),
                                      field="regex")) from exc
        return RuleSet(
            rules=rules, matchers=matchers, notes=self.report.notes,
            warnings=self.report.warnings, files=tuple(file for file, _ in documents),
        )


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
    load = _Load.start(accounts, channels, sources)
    documents = load.files.read([Path(p) for p in paths])
    defaults, documents = load.files.apply_defaults(documents, normalize or NormalizeOptions())
    load.lists.collect(documents)
    rules = load.read_rules(documents, defaults)
    problems = load.report.problems
    if not rules and not problems:
        problems.append(Problem(
            "no rules found in " + ", ".join(str(p) for p in paths)
            + "; refusing to run with an empty rule set"
        ))
    if problems:
        raise ConfigError(problems)
    ruleset = load.compile(rules, documents)
    if run_tests:
        failures = ruleset.run_tests()
        if failures:
            raise ConfigError(failures)
    return ruleset
