"""Waves act on their earlier members too.

When a ``repeated`` rule holds, the members of its wave that no comment of the wave has acted
on yet are claimed (once each, across every worker: :meth:`WaveState.claim`) and get the
rule's actions, carried out like any other (the ledger, the batches, the audit), audited with
the wave's id. Replies are left out: a reply written for one comment is not an answer to
another.
"""

from __future__ import annotations

from dataclasses import dataclass

from worker.comment import Comment
from worker.rules.engine import RuleSet
from worker.rules.model import ACTION_PLATFORMS, Decision, PlannedAction
from worker.waves.state import WaveState, new_claims

#: Actions a wave passes to its earlier members.
WAVE_ACTIONS = frozenset({"delete", "blacklist", "notify", "close_comments"})


@dataclass(frozen=True, slots=True)
class WaveFollowUp:
    """One earlier member of a wave and what the wave's rule does to it."""

    rule: str
    wave: str
    comment: Comment
    actions: tuple[PlannedAction, ...]


def follow_ups(rules: RuleSet, state: WaveState, decision: Decision) -> list[WaveFollowUp]:
    """The earlier wave members ``decision`` acts on (claimed now; empty if claimed before)."""
    out: list[WaveFollowUp] = []
    comment = decision.comment
    within = rules.wave_query.repeated_within if rules.wave_query is not None else None
    for rule_id, members in decision.waves.items():
        rule = rules.rule(rule_id)
        wave, fresh = new_claims(state, comment, rule_id, members, within or 0.0)
        actions = tuple(
            PlannedAction(a.type, rule.id, rule.mode, channel=a.channel)
            for a in rule.then
            if a.type in WAVE_ACTIONS and comment.platform in ACTION_PLATFORMS[a.type]
        )
        for member in fresh:
            earlier = member.comment(comment.platform, comment.account)
            kept = tuple(a for a in actions if a.type != "blacklist" or earlier.author)
            out.append(WaveFollowUp(rule_id, wave, earlier, kept))
    return out
