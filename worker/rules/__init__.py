"""The rules engine: YAML rule files compiled into one scan per comment.

``load_rules(paths)`` gives a :class:`RuleSet`; ``RuleSet.evaluate(comment)`` a
:class:`Decision`. See README "Rules reference" and shared rules-spec.md.
"""

from worker.rules.engine import RuleSet, is_offense, offense_rule
from worker.rules.loader import load_rules
from worker.rules.model import Decision, OffenseCounts, PlannedAction, RuleMatch
from worker.rules.offenses import InMemoryOffenseCounter

__all__ = [
    "Decision",
    "InMemoryOffenseCounter",
    "OffenseCounts",
    "PlannedAction",
    "RuleMatch",
    "RuleSet",
    "is_offense",
    "load_rules",
    "offense_rule",
]
