"""A ``normalize:`` mapping read into :class:`NormalizeOptions`, wherever it is written.

The same mapping is accepted in config.yaml (defaults for every rule file), in a rule
directory's ``defaults.yaml``, at the top of a rule file and in a rule; each layer changes only
the steps it names. The step names are the fields of :class:`NormalizeOptions`, so a new step
is accepted everywhere at once.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import fields, replace
from typing import Any

from worker.rules.normalize import NormalizeOptions

#: Every step a ``normalize:`` mapping may name.
STEPS: frozenset[str] = frozenset(f.name for f in fields(NormalizeOptions))


def read_steps(
    node: Mapping[Any, Any], base: NormalizeOptions
) -> tuple[NormalizeOptions, list[tuple[str, str]]]:
    """``base`` with the steps ``node`` names changed, and ``(key, message)`` for each bad one.

    Unknown keys are left to the caller, which knows how to suggest a name.
    """
    changes: dict[str, Any] = {}
    problems: list[tuple[str, str]] = []
    for key, value in node.items():
        if key not in STEPS:
            continue
        if key == "collapse_repeats":
            if value is False or value is None:
                changes[key] = None
            elif isinstance(value, int) and not isinstance(value, bool) and value >= 1:
                changes[key] = value
            else:
                problems.append((key, "collapse_repeats takes a whole number N >= 1 (runs "
                                      "longer than N collapse to N) or false"))
        elif isinstance(value, bool):
            changes[key] = value
        else:
            problems.append((key, f"{key} takes true or false, got {value!r}"))
    return replace(base, **changes), problems
