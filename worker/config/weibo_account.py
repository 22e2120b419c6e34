"""A Weibo account in config.yaml: access_token, posts, and how its comments are listed."""

from __future__ import annotations

from dataclasses import replace
from typing import Literal

from worker.config.model import AccountConfig, Secret, Target, WeiboTarget
from worker.config.reader import _id_number, _Reader
from worker.yamlsrc import SourceMap

#: The keys of a Weibo account besides the ones every account has.
KEYS = frozenset({"access_token", "listing"})
#: Keys of other platforms' accounts, each with what to write instead.
MISPLACED = {
    "discover": "discover finds mass-sent WeChat articles (datacube); a Weibo account lists "
                "every post's comments with listing: account",
}


def target(reader: _Reader, node: SourceMap, where: str) -> Target | None:
    """A post: its ``status_id``."""
    reader.known_keys(node, {"status_id"}, where)
    if "status_id" not in node:
        reader.problem("a Weibo target needs status_id", node, None, where)
        return None
    status_id = reader.get(node, "status_id", _id_number, None, where)
    return WeiboTarget(status_id=status_id) if status_id is not None else None


def account(reader: _Reader, node: SourceMap, base: AccountConfig, where: str) -> AccountConfig:
    """``base`` (the keys every account has) with the Weibo ones."""
    listing = _listing(reader, node, where, bool(base.targets))
    token = reader.secret(node.get("access_token"), node, "access_token", where)
    if "access_token" not in node:
        reader.problem(
            "a Weibo account needs access_token (write ${VARIABLE} to read it from the "
            "environment)", node, "access_token", f"{where}.access_token",
        )
    return replace(
        base, access_token=Secret(token) if token is not None else None,
        listing=listing,
    )


def _listing(
    reader: _Reader, node: SourceMap, where: str, has_targets: bool
) -> Literal["account", "targets"]:
    if "listing" not in node:
        return "targets" if has_targets else "account"
    value = node["listing"]
    if value not in ("account", "targets"):
        reader.problem(
            f"listing must be account (every comment of the account's posts) or targets "
            f"(the posts under targets:), got {value!r}", node, "listing", f"{where}.listing",
        )
        return "targets"
    return "account" if value == "account" else "targets"
