"""What a :class:`~worker.rules.matcher.Matcher` is built from: numbered literal terms and
regexes, normalised, each with the allow terms that cancel its hits."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal, get_args

__all__ = ["KINDS", "NO_ALLOW", "LiteralDef", "LiteralKind", "RegexDef"]

LiteralKind = Literal[
    "includes", "includes_word", "starts_with", "ends_with", "full_exact", "sounds_like"
]
KINDS: frozenset[str] = frozenset(get_args(LiteralKind))
NO_ALLOW: frozenset[int] = frozenset()


@dataclass(frozen=True, slots=True)
class LiteralDef:
    """One literal term of one kind."""

    ident: int
    kind: LiteralKind
    term: str  # normalised (for sounds_like: the sound of the normalised term)
    word_start: bool  # for includes_word: the term starts with a word character
    word_end: bool
    allow: frozenset[int] = NO_ALLOW  # allow-term ids whose matches cancel a hit


@dataclass(frozen=True, slots=True)
class RegexDef:
    """One regex: as written, as translated for RE2, and compiled."""

    pattern: str
    translated: str
    compiled: Any
    allow: frozenset[int] = NO_ALLOW
