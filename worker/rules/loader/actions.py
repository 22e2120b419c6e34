"""A rule's ``then:`` read into :class:`Action` values: each action known and possible on the
rule's platforms, a reply's template checked against the platforms' limits, a notify's
channel against config.yaml's ``notify:``."""

from __future__ import annotations

from collections.abc import Collection, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from worker.errors import Problem
from worker.platform_specs import PLATFORM_NAMES, Platform
from worker.platform_specs import Action as SpecAction
from worker.rules.loader.located import Report, did_you_mean
from worker.rules.model import ACTION_PLATFORMS, Action, ActionType
from worker.rules.templates import REPLY_MAX_CHARS, ReplyTemplate, TemplateError
from worker.yamlsrc import SourceList, SourceMap


@dataclass(frozen=True, slots=True)
class _Entry:
    """One entry of ``then:``: its name, its value (``reply: TEXT``) and where it is."""

    name: str
    argument: Any
    line: int | None
    where: str


@dataclass
class Actions:
    report: Report
    channels: Collection[str] | None  # notify channels in config; None: not checked

    def actions(
        self, node: SourceMap, file: Path, rid: str, platforms: frozenset[Platform] | None,
        *, has_content: bool, enabled: bool = True,
    ) -> tuple[Action, ...]:
        """``enabled``: the rule's; a disabled rule may name a channel config.yaml does not
        declare yet (a warning: an example rule file parked until the channel exists)."""
        actions: list[Action] = []
        seen: set[str] = set()
        for entry in self._entries(node, file, rid):
            if entry.name not in ACTION_PLATFORMS:
                self.report.problem(
                    f"unknown action {entry.name!r}"
                    f"{did_you_mean(entry.name, set(ACTION_PLATFORMS))}",
                    file, line=entry.line, rule=rid, fld=entry.where,
                )
                continue
            if entry.name in seen:
                self.report.problem(f"action {entry.name} is listed twice", file,
                                    line=entry.line, rule=rid, fld=entry.where)
                continue
            seen.add(entry.name)
            if not self._possible(entry, file, rid, platforms):
                continue
            action = self._action(entry, file, rid, platforms, has_content=has_content,
                                  enabled=enabled)
            if action is not None:
                actions.append(action)
        return tuple(actions)

    def _entries(self, node: SourceMap, file: Path, rid: str) -> Iterator[_Entry]:
        """The well-formed entries of ``then:`` (a name, or a mapping of one name)."""
        value = node.get("then", [])
        if value is None:
            value = []
        if isinstance(value, str | SourceMap):
            value = [value]
        if not isinstance(value, list):
            self.report.problem("then must be a list of actions", file, node, "then", rid,
                                "then")
            return
        for index, item in enumerate(value):
            line = value.line_of(index) if isinstance(value, SourceList) else node.line_of("then")
            where = f"then[{index}]"
            if isinstance(item, str):
                yield _Entry(item, None, line, where)
            elif isinstance(item, SourceMap) and len(item) == 1:
                name, argument = next(iter(item.items()))
                yield _Entry(str(name), argument, line, where)
            else:
                self.report.problem("an action is a name (delete) or a mapping (reply: TEXT)",
                                    file, line=line, rule=rid, fld=where)

    def _possible(
        self, entry: _Entry, file: Path, rid: str, platforms: frozenset[Platform] | None
    ) -> bool:
        """Whether the action exists on every platform of the rule (a note when the rule
        names none and the action exists only on some)."""
        supported = ACTION_PLATFORMS[entry.name]
        if platforms is not None:
            unsupported = sorted(platforms - supported)
            if unsupported:
                self.report.problem(
                    f"action {entry.name} is not possible on {', '.join(unsupported)} "
                    f"(it exists on {', '.join(sorted(supported))})",
                    file, line=entry.line, rule=rid, fld=entry.where,
                )
                return False
        elif supported != frozenset(PLATFORM_NAMES):
            self.report.notes.append(
                f"{file}:{entry.line}: rule {rid!r}: {entry.name} applies only on "
                f"{', '.join(sorted(supported))} comments"
            )
        return True

    def _action(
        self, entry: _Entry, file: Path, rid: str, platforms: frozenset[Platform] | None,
        *, has_content: bool, enabled: bool,
    ) -> Action | None:
        """The action with its value checked: a notify's channel, a reply's template."""
        template: ReplyTemplate | None = None
        channel: str | None = None
        if entry.name == "notify":
            channel = self.notify_channel(entry.argument, file, entry.line, rid, entry.where,
                                          enabled=enabled)
            if channel is None:
                return None
        elif entry.name == "reply":
            template = self.reply_template(entry.argument, file, entry.line, rid, entry.where,
                                           platforms, has_content=has_content)
            if template is None:
                return None
        elif entry.argument is not None:
            self.report.problem(f"action {entry.name} takes no value", file, line=entry.line,
                                rule=rid, fld=entry.where)
            return None
        kind: ActionType = "notify" if entry.name == "notify" else SpecAction(entry.name)
        return Action(type=kind, template=template, channel=channel)

    def reply_template(
        self, argument: Any, file: Path, line: int | None, rid: str, where: str,
        platforms: frozenset[Platform] | None, *, has_content: bool,
    ) -> ReplyTemplate | None:
        if not isinstance(argument, str) or not argument.strip():
            self.report.problem("reply needs a non-empty text, e.g. `- reply: 感谢留言`", file,
                                line=line, rule=rid, fld=where)
            return None
        try:
            template = ReplyTemplate.parse(argument)
        except TemplateError as exc:
            self.report.problem(str(exc), file, line=line, rule=rid, fld=where)
            return None
        if template.uses_match and not has_content:
            self.report.problem(
                "{match} is always empty here: the rule has no content condition (includes, "
                "regex, ...) outside `not` to take it from", file, line=line, rule=rid, fld=where,
            )
            return None
        # What is known before any comment arrives: the literal text and {rule}.
        known = template.render(author=None, match="", rule=rid, content="")
        if not known.strip() and not set(template.placeholders) - {"rule"}:
            self.report.problem("reply renders empty", file, line=line, rule=rid, fld=where)
            return None
        limit = min(REPLY_MAX_CHARS[p] for p in (platforms or {"wechat"}) if p in REPLY_MAX_CHARS)
        if len(known) > limit:
            self.report.problem(
                f"reply is {len(known)} characters before {{author}}, {{match}} and "
                f"{{content}} are filled in; the platform allows {limit}",
                file, line=line, rule=rid, fld=where,
            )
            return None
        return template

    def notify_channel(
        self, argument: object, file: Path, line: int | None, rid: str, where: str,
        *, enabled: bool = True,
    ) -> str | None:
        if not isinstance(argument, str) or not argument:
            self.report.problem("notify takes a channel name ({notify: moderators})", file,
                                line=line, rule=rid, fld=where)
            return None
        if self.channels is not None and argument not in self.channels:
            known = (f"has {', '.join(sorted(self.channels))}" if self.channels
                     else "declares no channel")
            message = (f"unknown notify channel {argument!r}"
                       f"{did_you_mean(argument, set(self.channels))}; config.yaml's "
                       f"notify: {known}")
            if not enabled:  # it can send nothing: declare the channel before enabling it
                self.report.warnings.append(Problem(
                    f"{message} (the rule is disabled: declare the channel before enabling "
                    "it)", file=str(file), line=line, rule=rid, field=where))
                return argument
            self.report.problem(message, file, line=line, rule=rid, fld=where)
            return None
        return argument
