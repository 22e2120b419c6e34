"""A rule's ``tests:`` read into :class:`RuleSample` values: a text, or a mapping giving
every field a rule can read (platform, account, author, age, flags, offenses, history)."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import cast

from worker.platform_specs import PLATFORM_NAMES, Platform
from worker.rules.loader.located import Report, did_you_mean
from worker.rules.model import HistoryEntry, RuleSample
from worker.units import parse_duration
from worker.yamlsrc import SourceList, SourceMap

TEST_KEYS = {"match", "no_match"}
SAMPLE_KEYS = {
    "content", "platform", "account", "author", "created_at", "age", "elected", "replied",
    "offenses", "history",
}
HISTORY_KEYS = {"content", "author", "before", "created_at", "count"}

Bad = Callable[[str, str], None]  # reports (key, message) at a sample's key


def unix_time(value: object) -> float | None:
    """Unix seconds from a number or a YAML date and time (a naive one is read as UTC)."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        return float(value)
    if isinstance(value, datetime):
        aware = value if value.tzinfo is not None else value.replace(tzinfo=UTC)
        return aware.timestamp()
    return None


@dataclass
class Samples:
    report: Report
    accounts: Mapping[str, Platform] | None  # name -> platform; None: not checked

    def samples(
        self, node: object, file: Path, rid: str, line: int | None
    ) -> tuple[RuleSample, ...]:
        if node is None:
            return ()
        if not isinstance(node, SourceMap):
            self.report.problem("tests must be a mapping with match and/or no_match lists",
                                file, line=line, rule=rid, fld="tests")
            return ()
        self.report.unknown_keys(node, TEST_KEYS, file, rid, "tests")
        samples: list[RuleSample] = []
        for key in ("match", "no_match"):
            items = node.get(key)
            if items is None:
                continue
            if not isinstance(items, SourceList):
                self.report.problem(f"tests.{key} must be a list", file, node, key, rid,
                                    f"tests.{key}")
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
            self.report.problem("a test sample is a text or a mapping with content", file,
                                line=line, rule=rid, fld=where)
            return None
        before = len(self.report.problems)
        for key in item:
            if key not in SAMPLE_KEYS:
                self.report.problem(
                    f"unknown sample key {key!r}{did_you_mean(str(key), SAMPLE_KEYS)}; a sample "
                    f"takes {', '.join(sorted(SAMPLE_KEYS))}", file, item, key, rid,
                    f"{where}.{key}",
                )
        content = item.get("content")
        if not isinstance(content, str):
            self.report.problem("a test sample mapping needs content: TEXT", file, line=line,
                                rule=rid, fld=where)
            return None

        def bad(key: str, message: str) -> None:
            self.report.problem(message, file, item, key, rid, f"{where}.{key}")

        account, platform = self._account_and_platform(item, bad)
        author = item.get("author")
        if author is not None and (isinstance(author, bool) or not isinstance(author, str | int)):
            bad("author", f"author takes an openid or uid, got {author!r}")
        flags = self._flags(item, file, bad)
        age, created_at = self._when(item, bad)
        offenses = self._offenses(item, bad)
        history: tuple[HistoryEntry, ...] = ()
        if "history" in item:
            history = self.history(item["history"], file, rid, f"{where}.history",
                                   item.line_of("history"))
        if len(self.report.problems) > before:
            return None
        return RuleSample(
            history=history,
            content=content, expect_match=expect, line=line, platform=platform,
            account=account, author=str(author) if author is not None else None,
            created_at=created_at, age=age, elected=flags["elected"],
            replied=flags["replied"], offenses=offenses,
        )

    def _account_and_platform(
        self, item: SourceMap, bad: Bad
    ) -> tuple[str | None, Platform | None]:
        """A sample's account and platform, which must agree when both are given."""
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
        return account, platform

    def _flags(self, item: SourceMap, file: Path, bad: Bad) -> dict[str, bool]:
        flags: dict[str, bool] = {}
        for key in ("elected", "replied"):
            value = item.get(key, False)
            if not isinstance(value, bool):
                bad(key, f"{key} takes true or false, got "
                    f"{self.report.as_written(value, file, item.line_of(key))}")
            flags[key] = value is True
        return flags

    @staticmethod
    def _when(item: SourceMap, bad: Bad) -> tuple[float | None, float | None]:
        """A sample's age, or its created_at (Unix seconds): at most one of them."""
        age: float | None = None
        if "age" in item:
            try:
                age = parse_duration(item["age"])
            except ValueError as exc:
                bad("age", str(exc))
        created_at: float | None = None
        if "created_at" in item:
            created_at = unix_time(item["created_at"])
            if created_at is None:
                bad("created_at", "created_at takes Unix seconds or a date and time "
                    f"(2024-06-11 08:30:00+08:00), got {item['created_at']!r}")
            elif age is not None:
                bad("created_at", "give created_at or age, not both")
        return age, created_at

    @staticmethod
    def _offenses(item: SourceMap, bad: Bad) -> int | None:
        if "offenses" not in item:
            return None
        value = item["offenses"]
        if isinstance(value, bool) or not isinstance(value, int) or value < 0:
            bad("offenses", "offenses takes the author's prior offense count within the "
                f"rule's window, a whole number >= 0, got {value!r}")
            return None
        return value

    def history(
        self, node: object, file: Path, rid: str, where: str, line: int | None
    ) -> tuple[HistoryEntry, ...]:
        """A sample's earlier comments: texts, or mappings with content, author, before (how
        long before the sample; default 0) or created_at, and count (that many copies, each
        from its own author unless author is given)."""
        if not isinstance(node, SourceList):
            self.report.problem("history takes a list of earlier comments", file, line=line,
                                rule=rid, fld=where)
            return ()
        out: list[HistoryEntry] = []
        for index, entry in enumerate(node):
            sub, item_line = f"{where}[{index}]", node.line_of(index)
            item = {"content": entry} if isinstance(entry, str) else entry
            content = item.get("content") if isinstance(item, SourceMap | dict) else None
            if not isinstance(item, SourceMap | dict) or not isinstance(content, str):
                self.report.problem("a history entry is a text or a mapping with content: TEXT",
                                    file, line=item_line, rule=rid, fld=sub)
                continue
            if isinstance(item, SourceMap):
                self.report.unknown_keys(item, HISTORY_KEYS, file, rid, sub)
            count = item.get("count", 1)
            if isinstance(count, bool) or not isinstance(count, int) or not 1 <= count <= 1000:
                self.report.problem(f"count takes a whole number from 1 to 1000, got {count!r}",
                                    file, line=item_line, rule=rid, fld=f"{sub}.count")
                continue
            try:
                before, created_at = _history_time(item)
            except ValueError as exc:
                self.report.problem(str(exc), file, line=item_line, rule=rid, fld=sub)
                continue
            author = item.get("author")
            for copy in range(count):
                who = str(author) if author is not None else f"history-{index}-{copy}"
                out.append(HistoryEntry(content, who, before, created_at))
        return tuple(out)


def _history_time(item: Mapping[str, object]) -> tuple[float, float | None]:
    """A history entry's (before, created_at); ValueError names a bad value."""
    if "created_at" in item:
        created_at = unix_time(item["created_at"])
        if created_at is None:
            raise ValueError(f"created_at takes Unix seconds or a date and time, "
                             f"got {item['created_at']!r}")
        return 0.0, created_at
    if "before" in item:
        return parse_duration(item["before"]), None
    return 0.0, None
