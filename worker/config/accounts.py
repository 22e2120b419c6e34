"""Parsing of ``accounts``: what every account has (name, platform, api_base,
calls_per_minute, targets); each platform's own keys and targets are parsed by its module.

Every platform of :data:`worker.platform_specs.SPECS` has a module
``worker.config.<name>_account`` holding ``KEYS`` (its own account keys), ``MISPLACED``
(other platforms' keys it explains), ``target(reader, node, where)`` and
``account(reader, node, base, where)``. Adding a platform's configuration is adding that
module (and its target and credential fields in :mod:`worker.config.model`).
"""

from __future__ import annotations

import importlib
from collections.abc import Mapping
from typing import Protocol, cast

from worker.config.model import PLATFORMS, AccountConfig, Target
from worker.config.reader import _positive_int, _Reader
from worker.config.urls import _check_api_base
from worker.platform_specs import Platform
from worker.yamlsrc import SourceMap

ACCOUNT_MODULE = "worker.config.{platform}_account"
#: The keys every account has, whatever its platform.
COMMON_KEYS = frozenset({"name", "platform", "api_base", "targets", "calls_per_minute"})


class AccountParsing(Protocol):
    """One platform's ``worker.config.<name>_account`` module, as this module uses it."""

    KEYS: frozenset[str]
    MISPLACED: Mapping[str, str]

    def target(self, reader: _Reader, node: SourceMap, where: str) -> Target | None: ...

    def account(
        self, reader: _Reader, node: SourceMap, base: AccountConfig, where: str
    ) -> AccountConfig: ...


#: Each platform's account parsing, by platform name.
PARSING: dict[str, AccountParsing] = {
    name: cast(AccountParsing, importlib.import_module(ACCOUNT_MODULE.format(platform=name)))
    for name in PLATFORMS
}
#: An account's keys, by platform.
ACCOUNT_KEYS: dict[str, set[str]] = {
    name: set(COMMON_KEYS | parsing.KEYS) for name, parsing in PARSING.items()
}


def _accounts(reader: _Reader, root: SourceMap) -> tuple[AccountConfig, ...]:
    nodes = root.get("accounts") or []
    if not isinstance(nodes, list):
        reader.problem("accounts must be a list", root, "accounts", "accounts")
        return ()
    accounts: list[AccountConfig] = []
    seen: set[str] = set()
    for position, raw in enumerate(nodes):
        node = reader.mapping(raw, f"accounts[{position}]")
        name = _account_name(reader, node, f"accounts[{position}]", seen)
        if name is None:
            continue
        where = f"accounts[{name}]"
        platform = node.get("platform")
        if platform not in PLATFORMS:
            reader.problem(
                f"platform must be one of {', '.join(PLATFORMS)}, got {platform!r}",
                node, "platform", f"{where}.platform",
            )
            continue
        accounts.append(_account(reader, node, name, cast(Platform, platform), where))
    return tuple(accounts)


def _account_name(reader: _Reader, node: SourceMap, where: str, seen: set[str]) -> str | None:
    """The account's name (None when it has none); a duplicate is a problem."""
    name = node.get("name")
    if not isinstance(name, str) or not name:
        reader.problem("every account needs a name", node, "name", f"{where}.name")
        return None
    if name in seen:
        reader.problem(f"duplicate account name {name!r}", node, "name",
                       f"accounts[{name}].name")
    seen.add(name)
    return name


def _account(
    reader: _Reader, node: SourceMap, name: str, platform: Platform, where: str
) -> AccountConfig:
    """One account: the keys every account has, then its platform's."""
    parsing = PARSING[platform]
    reader.known_keys(node, ACCOUNT_KEYS[platform] | set(parsing.MISPLACED), where)
    api_base = node.get("api_base")
    if api_base is not None:
        try:
            _check_api_base(str(api_base))
        except ValueError as exc:
            reader.problem(str(exc), node, "api_base", f"{where}.api_base")
    base = AccountConfig(
        name=name, platform=platform, api_base=api_base,
        calls_per_minute=reader.get(node, "calls_per_minute", _positive_int, None, where),
        targets=_targets(reader, node, parsing, where),
    )
    for key, message in parsing.MISPLACED.items():
        if key in node:
            reader.problem(message, node, key, f"{where}.{key}")
    return parsing.account(reader, node, base, where)


def _targets(
    reader: _Reader, node: SourceMap, parsing: AccountParsing, where: str
) -> tuple[Target, ...]:
    raw_targets = node.get("targets") or []
    if not isinstance(raw_targets, list):
        reader.problem("targets must be a list", node, "targets", f"{where}.targets")
        return ()
    targets: list[Target] = []
    for index, raw in enumerate(raw_targets):
        twhere = f"{where}.targets[{index}]"
        target = parsing.target(reader, reader.mapping(raw, twhere), twhere)
        if target is None:
            continue
        if target in targets:
            reader.problem(f"target {target.key} is listed twice (polled once)",
                           raw_targets, index, twhere)
            reader.warnings.append(reader.problems.pop())
            continue
        targets.append(target)
    return tuple(targets)
