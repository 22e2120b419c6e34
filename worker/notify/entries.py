"""What a ``{notify: CHANNEL}`` action queues for its channel's digest."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from worker.comment import Comment
from worker.rules.model import PlannedAction

CONTENT_CHARS = 200


def rule_entry(
    comment: Comment, action: PlannedAction, actions: Sequence[str], *, dry_run: bool,
    wave: str | None = None,
) -> dict[str, Any]:
    """The digest entry for ``action`` (a notify) on ``comment``; ``actions``: what else the
    decision does to the comment (its outcomes are looked up when the digest is written)."""
    return {
        "kind": "rule", "rule": action.rule, "mode": action.mode, "dry_run": dry_run,
        "platform": comment.platform, "account": comment.account, "target": comment.target,
        "comment_id": comment.id, "author": comment.author,
        "content": comment.content[:CONTENT_CHARS], "actions": list(actions), "wave": wave,
    }
