"""The platform registry: what each platform can do, in one place.

Every platform-dependent table derives from :data:`SPECS`: the action table of the rule
language, the platform names config.yaml accepts, the batched action of each platform, reply
limits and which platform client to build. Adding a platform starts here.

This module sits below :mod:`worker.config` (config checks platform names against it), so it
imports nothing of the project but :mod:`worker.errors`: a spec names its client class by
import path, and :func:`worker.platforms.make_client` resolves it.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Literal

from worker.errors import UnknownPlatformError

#: Every platform's name, for type checking (a test holds it to :data:`SPECS`).
Platform = Literal["wechat", "weibo"]


class Action(StrEnum):
    """An action a rule can ask for. A ``str`` (its value is the rule language's name), so
    it travels through messages, Redis keys and the audit stream as the plain name."""

    DELETE = "delete"
    REPLY = "reply"
    DELETE_REPLY = "delete_reply"
    ELECT = "elect"
    UNELECT = "unelect"
    CLOSE_COMMENTS = "close_comments"
    OPEN_COMMENTS = "open_comments"
    BLACKLIST = "blacklist"


@dataclass(frozen=True, slots=True, kw_only=True)
class PlatformSpec:
    """One platform.

    ``actions``: every action rules may ask for on it (its client's ``perform`` handles each,
    except ``batch_action``, which goes through ``send_batch``). ``batch_action``: the action
    collected into batches, ``batch_kind`` its batch buffer's name, ``batch_call`` its
    endpoint as audit details name it, ``batches_by`` what a batch holds (the comment's
    author's id or the comment's id). ``reconciled``:
    single actions whose repeat the platform answers with a plain success, mapped to whether
    the effect holds after them (their client tells by ``effect_holds``). ``seen_by_state``:
    comments change state in place (a changed comment is moderated again).
    """

    name: str
    label: str
    actions: frozenset[Action]
    batch_action: Action
    batch_kind: str
    batch_call: str
    batches_by: Literal["author", "comment"]
    client: str  # "module:Class" of the client, resolved by worker.platforms.make_client
    reply_max_chars: int | None = None
    reconciled: frozenset[Action] = frozenset()
    seen_by_state: bool = False


WECHAT = PlatformSpec(
    name="wechat",
    label="WeChat",
    actions=frozenset(Action),
    batch_action=Action.BLACKLIST,
    batch_kind="blacklist",
    batch_call="batchblacklist",
    batches_by="author",
    client="worker.platforms.wechat:WechatClient",
    reply_max_chars=300,
    reconciled=frozenset({Action.ELECT, Action.UNELECT}),
    seen_by_state=True,
)

WEIBO = PlatformSpec(
    name="weibo",
    label="Weibo",
    actions=frozenset({Action.DELETE}),
    batch_action=Action.DELETE,
    batch_kind="destroy",
    batch_call="destroy_batch",
    batches_by="comment",
    client="worker.platforms.weibo:WeiboClient",
)

#: Every platform, by name.
SPECS: dict[str, PlatformSpec] = {spec.name: spec for spec in (WECHAT, WEIBO)}

#: The platform names config.yaml and rule files accept.
PLATFORM_NAMES: tuple[str, ...] = tuple(SPECS)

#: The platforms each action is possible on (the rule loader checks rules against it).
ACTION_PLATFORMS: dict[str, frozenset[str]] = {
    action.value: frozenset(s.name for s in SPECS.values() if action in s.actions)
    for action in Action
}

#: The longest reply text of each platform that takes replies.
REPLY_MAX_CHARS: dict[str, int] = {
    s.name: s.reply_max_chars for s in SPECS.values() if s.reply_max_chars is not None
}


def platform_spec(name: str) -> PlatformSpec:
    """The spec of platform ``name``; UnknownPlatformError naming the known ones otherwise."""
    try:
        return SPECS[name]
    except KeyError:
        raise UnknownPlatformError(
            f"unknown platform {name!r} (known: {', '.join(PLATFORM_NAMES)})"
        ) from None
