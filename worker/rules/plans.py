"""Planning a matched rule's actions: why one cannot be planned, a reply's text, and the
plans of the other actions, made once per rule set."""

from __future__ import annotations

from dataclasses import dataclass

from worker.comment import Comment
from worker.rules.model import (
    ACTION_PLATFORMS,
    SUPPRESSED_BY_DELETE,
    Action,
    Decision,
    PlannedAction,
    Rule,
)
from worker.rules.templates import REPLY_MAX_CHARS

__all__ = ["ActionPlan", "reply_text", "skip_reason"]


def skip_reason(kind: str, comment: Comment, deleted: bool) -> str | None:
    """Why an action of ``kind`` cannot be planned for ``comment`` (None: it can)."""
    if comment.platform not in ACTION_PLATFORMS[kind]:
        # Only a rule that names no platforms gets here (the loader refuses the others):
        # the action exists elsewhere only, and the moderator is told.
        return f"{kind} is not possible on {comment.platform}"
    if deleted and kind in SUPPRESSED_BY_DELETE:
        return "the comment is being deleted"
    if kind == "blacklist" and not comment.author:
        return "the comment has no author id (openid)"
    return None


def reply_text(decision: Decision, rule: Rule, action: Action) -> tuple[str, str | None]:
    """A reply action's rendered text, and why it cannot be sent (None: it can)."""
    comment = decision.comment
    span = decision.span(rule.id) if action.template.uses_match else None
    text: str = action.template.render(
        author=comment.author, match=span.text if span else "",
        rule=rule.id, content=comment.content,
    )
    limit = REPLY_MAX_CHARS.get(comment.platform)
    if not text.strip():
        return text, "reply renders empty"
    if limit is not None and len(text) > limit:
        return text, f"reply renders {len(text)} characters; limit {limit}"
    return text, None


@dataclass(frozen=True, slots=True)
class ActionPlan:
    """One action of a rule, with its label and what it plans when nothing stops it (made
    once per rule set: a decision shares them, they are immutable)."""

    action: Action
    label: str
    planned: tuple[PlannedAction, PlannedAction]  # after_stop False, True

    @classmethod
    def of(cls, rule: Rule, action: Action) -> ActionPlan:
        def plan(after_stop: bool) -> PlannedAction:
            return PlannedAction(action.type, rule.id, rule.mode, None,
                                 after_stop=after_stop, channel=action.channel)

        return cls(action, action.label(), (plan(False), plan(True)))
