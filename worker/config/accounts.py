"""Parsing of ``accounts``: each account's platform, credentials and targets."""

from __future__ import annotations

from typing import TYPE_CHECKING, Literal

from worker.config.keys import _OTHER_PLATFORMS_KEYS, ACCOUNT_KEYS
from worker.config.model import PLATFORMS, AccountConfig, Secret, Target, WechatTarget, WeiboTarget
from worker.config.reader import (
    _duration_above_zero,
    _id_number,
    _non_negative_int,
    _positive_int,
    _Reader,
)
from worker.config.urls import _check_api_base
from worker.yamlsrc import SourceMap

if TYPE_CHECKING:
    pass

def _accounts(reader: _Reader, root: SourceMap) -> tuple[AccountConfig, ...]:
    nodes = root.get("accounts") or []
    if not isinstance(nodes, list):
        reader.problem("accounts must be a list", root, "accounts", "accounts")
        return ()
    accounts: list[AccountConfig] = []
    seen: set[str] = set()
    for position, raw in enumerate(nodes):
        where = f"accounts[{position}]"
        node = reader.mapping(raw, where)
        name = node.get("name")
        if not isinstance(name, str) or not name:
            reader.problem("every account needs a name", node, "name", f"{where}.name")
            continue
        where = f"accounts[{name}]"
        if name in seen:
            reader.problem(f"duplicate account name {name!r}", node, "name", f"{where}.name")
        seen.add(name)
        platform = node.get("platform")
        if platform not in PLATFORMS:
            reader.problem(
                f"platform must be one of {', '.join(PLATFORMS)}, got {platform!r}",
                node, "platform", f"{where}.platform",
            )
            continue
        # discover on Weibo and listing on WeChat get their own message below
        allowed = ACCOUNT_KEYS[platform] | _OTHER_PLATFORMS_KEYS.get(platform, set())
        reader.known_keys(node, allowed, where)
        api_base = node.get("api_base")
        if api_base is not None:
            try:
                _check_api_base(str(api_base))
            except ValueError as exc:
                reader.problem(str(exc), node, "api_base", f"{where}.api_base")
        calls_per_minute = reader.get(node, "calls_per_minute", _positive_int, None, where)
        targets = _targets(reader, node, platform, where)
        discover = _discover(reader, node, platform, where)
        listing = _listing(reader, node, platform, where, targets)
        if platform == "wechat":
            app_id = node.get("app_id")
            if not app_id:
                reader.problem("a WeChat account needs app_id", node, "app_id", f"{where}.app_id")
            secret = reader.secret(node.get("app_secret"), node, "app_secret", where)
            if "app_secret" not in node:
                reader.problem(
                    "a WeChat account needs app_secret (write ${VARIABLE} to read it from the "
                    "environment)", node, "app_secret", f"{where}.app_secret",
                )
            token_mode = node.get("token", "stable")
            if token_mode not in ("stable", "classic"):
                reader.problem(
                    f"token must be stable or classic, got {token_mode!r}",
                    node, "token", f"{where}.token",
                )
                token_mode = "stable"
            accounts.append(
                AccountConfig(
                    name=name, platform="wechat", targets=targets, api_base=api_base,
                    app_id=str(app_id) if app_id else None,
                    app_secret=Secret(secret) if secret is not None else None,
                    token=token_mode, calls_per_minute=calls_per_minute, discover=discover,
                )
            )
        elif platform == "weibo":
            token = reader.secret(node.get("access_token"), node, "access_token", where)
            if "access_token" not in node:
                reader.problem(
                    "a Weibo account needs access_token (write ${VARIABLE} to read it from the "
                    "environment)", node, "access_token", f"{where}.access_token",
                )
            accounts.append(
                AccountConfig(
                    name=name, platform="weibo", targets=targets, api_base=api_base,
                    access_token=Secret(token) if token is not None else None,
                    calls_per_minute=calls_per_minute, listing=listing,
                )
            )
    return tuple(accounts)


def _targets(reader: _Reader, node: SourceMap, platform: str, where: str) -> tuple[Target, ...]:
    raw_targets = node.get("targets") or []
    if not isinstance(raw_targets, list):
        reader.problem("targets must be a list", node, "targets", f"{where}.targets")
        return ()
    targets: list[Target] = []
    for index, raw in enumerate(raw_targets):
        twhere = f"{where}.targets[{index}]"
        tnode = reader.mapping(raw, twhere)
        before = len(targets)
        if platform == "wechat":
            reader.known_keys(tnode, {"msg_data_id", "index"}, twhere)
            if "msg_data_id" not in tnode:
                reader.problem("a WeChat target needs msg_data_id", tnode, None, twhere)
                continue
            msg_data_id = reader.get(tnode, "msg_data_id", _id_number, None, twhere)
            article = reader.get(tnode, "index", _non_negative_int, 0, twhere)
            if msg_data_id is not None:
                targets.append(WechatTarget(msg_data_id=msg_data_id, index=article))
        elif platform == "weibo":
            reader.known_keys(tnode, {"status_id"}, twhere)
            if "status_id" not in tnode:
                reader.problem("a Weibo target needs status_id", tnode, None, twhere)
                continue
            status_id = reader.get(tnode, "status_id", _id_number, None, twhere)
            if status_id is not None:
                targets.append(WeiboTarget(status_id=status_id))
        if len(targets) > before and targets[-1] in targets[:-1]:
            reader.problem(f"target {targets[-1].key} is listed twice (polled once)",
                           raw_targets, index, twhere)
            reader.warnings.append(reader.problems.pop())
            targets.pop()
    return tuple(targets)


def _discover(reader: _Reader, node: SourceMap, platform: str, where: str) -> float | None:
    if "discover" not in node:
        return None
    if platform != "wechat":
        reader.problem(
            "discover finds mass-sent WeChat articles (datacube); a Weibo account lists every "
            "post's comments with listing: account", node, "discover", f"{where}.discover",
        )
        return None
    value = reader.get(node, "discover", _duration_above_zero, None, where)
    if value is not None and value < 86400:
        reader.problem(
            f"discover must be at least 1d (datacube counts whole days), got {node['discover']!r}",
            node, "discover", f"{where}.discover",
        )
        return None
    return value  # type: ignore[no-any-return]


def _listing(
    reader: _Reader, node: SourceMap, platform: str, where: str, targets: tuple[Target, ...]
) -> Literal["account", "targets"]:
    if platform != "weibo":
        if "listing" in node:
            reader.problem(
                "listing is a Weibo key (comments/to_me/biz); a WeChat account lists each "
                "article (targets:, discover:)", node, "listing", f"{where}.listing",
            )
        return "targets"
    if "listing" not in node:
        return "targets" if targets else "account"
    value = node["listing"]
    if value not in ("account", "targets"):
        reader.problem(
            f"listing must be account (every comment of the account's posts) or targets "
            f"(the posts under targets:), got {value!r}", node, "listing", f"{where}.listing",
        )
        return "targets"
    return "account" if value == "account" else "targets"
