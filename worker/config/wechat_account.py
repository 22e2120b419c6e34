"""A WeChat account in config.yaml: app_id, app_secret, token mode, articles, discovery."""

from __future__ import annotations

from dataclasses import replace

from worker.config.model import AccountConfig, Secret, Target, WechatTarget
from worker.config.reader import _duration_above_zero, _id_number, _non_negative_int, _Reader
from worker.yamlsrc import SourceMap

#: The keys of a WeChat account besides the ones every account has.
KEYS = frozenset({"app_id", "app_secret", "token", "discover"})
#: Keys of other platforms' accounts, each with what to write instead.
MISPLACED = {
    "listing": "listing is a Weibo key (comments/to_me/biz); a WeChat account lists each "
               "article (targets:, discover:)",
}


def target(reader: _Reader, node: SourceMap, where: str) -> Target | None:
    """An article: ``msg_data_id`` and its ``index`` in the mass send (default 0)."""
    reader.known_keys(node, {"msg_data_id", "index"}, where)
    if "msg_data_id" not in node:
        reader.problem("a WeChat target needs msg_data_id", node, None, where)
        return None
    msg_data_id = reader.get(node, "msg_data_id", _id_number, None, where)
    article = reader.get(node, "index", _non_negative_int, 0, where)
    return WechatTarget(msg_data_id=msg_data_id, index=article) if msg_data_id is not None else None


def account(reader: _Reader, node: SourceMap, base: AccountConfig, where: str) -> AccountConfig:
    """``base`` (the keys every account has) with the WeChat ones."""
    discover = _discover(reader, node, where)
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
    return replace(
        base, app_id=str(app_id) if app_id else None,
        app_secret=Secret(secret) if secret is not None else None,
        token=token_mode, discover=discover,
    )


def _discover(reader: _Reader, node: SourceMap, where: str) -> float | None:
    if "discover" not in node:
        return None
    value = reader.get(node, "discover", _duration_above_zero, None, where)
    if value is not None and value < 86400:
        reader.problem(
            f"discover must be at least 1d (datacube counts whole days), got {node['discover']!r}",
            node, "discover", f"{where}.discover",
        )
        return None
    return value  # type: ignore[no-any-return]
