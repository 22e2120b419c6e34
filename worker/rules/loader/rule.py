"""One entry of a file's ``rules:`` read into a :class:`Rule`: its id (unique across files),
its settings and scope (platforms, accounts), then its ``when``, ``then`` and ``tests``
through the readers of each."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import cast

from worker.errors import Problem
from worker.platform_specs import PLATFORM_NAMES, Platform
from worker.rules.loader.actions import Actions
from worker.rules.loader.conditions import Conditions
from worker.rules.loader.located import Report, did_you_mean
from worker.rules.loader.options import MatcherGroups, normalize_options
from worker.rules.loader.samples import Samples
from worker.rules.model import (
    Condition,
    Mode,
    Rule,
    RuleSample,
    branches_content,
    content_hits,
    has_content,
)
from worker.rules.normalize import NormalizeOptions
from worker.rules.waves import wave_query
from worker.yamlsrc import SourceList, SourceMap

RULE_KEYS = {
    "id", "description", "priority", "mode", "enabled", "platforms", "accounts",
    "when", "then", "stop", "tests", "normalize",
}


@dataclass(frozen=True, slots=True)
class _Settings:
    priority: int
    mode: Mode
    enabled: bool
    stop: bool


@dataclass
class Rules:
    report: Report
    accounts: Mapping[str, Platform] | None  # name -> platform; None: not checked
    groups: MatcherGroups
    conditions: Conditions
    actions: Actions
    samples: Samples
    rule_places: dict[str, str] = field(default_factory=dict)  # id -> file:line

    def rule(
        self, node: object, file: Path, index: int, order: int, base: NormalizeOptions,
        rules_node: SourceList,
    ) -> Rule | None:
        if not isinstance(node, SourceMap):
            self.report.problem("each rule must be a mapping", file,
                                line=rules_node.line_of(index), fld=f"rules[{index}]")
            return None
        rid = self._identify(node, file, index)
        if rid is None:
            return None
        self.report.unknown_keys(node, RULE_KEYS, file, rid, "")
        errors_before = len(self.report.problems)
        settings = self._settings(node, file, rid)
        platforms = self.platforms(node, file, rid)
        accounts = self.accounts_of(node, file, rid, platforms)
        options = normalize_options(self.report, node.get("normalize"), base, file, rid,
                                    "normalize")
        group = self.groups.group_for(options)
        when = self._when(node, file, rid, group)
        then = self.actions.actions(node, file, rid, platforms,
                                    has_content=has_content(when), enabled=settings.enabled)
        samples = self.samples.samples(node.get("tests"), file, rid, node.line_of("tests"))
        if len(self.report.problems) > errors_before:
            return None
        self._warn_idle_history(samples, when, file, rid)
        if settings.mode == "enforce" and settings.enabled and not samples:
            self.report.warnings.append(Problem(
                "an enforced rule without tests: give it tests: {match: [...], no_match: "
                "[...]} so that `check` proves what it removes", file=str(file), line=node.line,
                rule=rid, field="tests",
            ))
        return Rule(
            id=rid, file=str(file), line=node.line, order=order,
            description=str(node.get("description", "") or ""), priority=settings.priority,
            mode=settings.mode, enabled=settings.enabled, platforms=platforms,
            accounts=accounts, when=when, then=then, stop=settings.stop, normalize=options,
            group=group, samples=samples, content_hits=content_hits(when),
            branching=branches_content(when),
        )

    def _warn_idle_history(
        self, samples: tuple[RuleSample, ...], when: Condition | None, file: Path, rid: str
    ) -> None:
        """A sample's ``history:`` is read only by ``repeated`` and ``burst``: on any other
        rule it changes nothing, which its writer would not expect."""
        if wave_query([when]) is not None:
            return
        index = {True: -1, False: -1}
        for sample in samples:
            index[sample.expect_match] += 1
            if sample.history:
                key = "match" if sample.expect_match else "no_match"
                self.report.warnings.append(Problem(
                    "history changes nothing here: this rule counts no other comments (no "
                    "content.repeated or author.burst)", file=str(file), line=sample.line,
                    rule=rid, field=f"tests.{key}[{index[sample.expect_match]}].history",
                ))

    def _identify(self, node: SourceMap, file: Path, index: int) -> str | None:
        """The rule's id: text, and not the id of a rule read before."""
        rule_id = node.get("id")
        if isinstance(rule_id, bool | int | float):
            self.report.problem(
                f"id {self.report.as_written(rule_id, file, node.line_of('id'))} is not text "
                "to YAML; quote it", file, node, "id", fld=f"rules[{index}].id",
            )
            return None
        if not isinstance(rule_id, str) or not rule_id.strip():
            self.report.problem(
                "every rule needs an id (a stable name used in logs, audit and statistics)",
                file, node, "id" if "id" in node else None, fld=f"rules[{index}].id",
            )
            return None
        rid = rule_id.strip()
        if rid in self.rule_places:
            self.report.problem(
                f"duplicate rule id {rid!r}; first defined at {self.rule_places[rid]}",
                file, node, "id", rid, "id",
            )
            return None
        self.rule_places[rid] = f"{file}:{node.line}"
        return rid

    def _settings(self, node: SourceMap, file: Path, rid: str) -> _Settings:
        """priority, mode, enabled and stop (a bad value reported, its default used)."""
        priority = node.get("priority", 0)
        if isinstance(priority, bool) or not isinstance(priority, int):
            self.report.problem(f"priority must be a whole number, got {priority!r}", file,
                                node, "priority", rid, "priority")
            priority = 0
        mode = node.get("mode", "enforce")
        if mode not in ("enforce", "shadow"):
            self.report.problem(f"mode must be enforce or shadow, got {mode!r}", file, node,
                                "mode", rid, "mode")
            mode = "enforce"
        enabled = self.boolean(node, "enabled", True, file, rid)
        stop = self.boolean(node, "stop", False, file, rid)
        if stop and mode == "shadow":
            self.report.notes.append(
                f"{file}:{node.line_of('stop')}: rule {rid!r}: a shadow rule's stop ends only "
                "the shadow rules after it; enforced rules are evaluated as if it did not exist"
            )
        return _Settings(priority, mode, enabled, stop)

    def _when(self, node: SourceMap, file: Path, rid: str, group: int) -> Condition | None:
        if "when" not in node or not node.get("when"):
            self.report.problem(
                "a rule needs a non-empty when: (it would otherwise match every comment)",
                file, node, "when" if "when" in node else None, rid, "when",
            )
            return None
        return self.conditions.condition(node["when"], file, rid, "when", group,
                                         node.line_of("when"))

    def boolean(self, node: SourceMap, key: str, default: bool, file: Path, rid: str) -> bool:
        value = node.get(key, default)
        if not isinstance(value, bool):
            self.report.problem(f"{key} must be true or false, got {value!r}", file, node, key,
                                rid, key)
            return default
        return value

    def platforms(self, node: SourceMap, file: Path, rid: str) -> frozenset[Platform] | None:
        if "platforms" not in node:
            return None
        value = node["platforms"]
        items = [value] if isinstance(value, str) else value
        if not isinstance(items, list) or not items:
            self.report.problem("platforms must be a non-empty list of wechat, weibo", file,
                                node, "platforms", rid, "platforms")
            return None
        found: set[Platform] = set()
        for item in items:
            if item not in PLATFORM_NAMES:
                self.report.problem(
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
            self.report.problem("accounts must be a non-empty list of account names", file,
                                node, "accounts", rid, "accounts")
            return None
        if self.accounts is not None:
            for name in items:
                if name not in self.accounts:
                    self.report.problem(
                        f"unknown account {name!r}{did_you_mean(name, set(self.accounts))}",
                        file, node, "accounts", rid, "accounts",
                    )
                elif platforms is not None and self.accounts[name] not in platforms:
                    self.report.problem(
                        f"account {name!r} is on {self.accounts[name]}, which this rule's "
                        f"platforms ({', '.join(sorted(platforms))}) exclude",
                        file, node, "accounts", rid, "accounts",
                    )
        return frozenset(items)
