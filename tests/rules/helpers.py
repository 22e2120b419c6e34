"""Small helpers for rule tests: write rule files into a temp dir and load them."""

from __future__ import annotations

import textwrap
from pathlib import Path

from worker.comment import Comment
from worker.rules import RuleSet, load_rules


def write(directory: Path, name: str, text: str) -> Path:
    path = directory / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(textwrap.dedent(text).lstrip(), encoding="utf-8")
    return path


def ruleset(directory: Path, text: str, **kwargs: object) -> RuleSet:
    write(directory, "rules.yaml", text)
    return load_rules([directory], **kwargs)  # type: ignore[arg-type]


def comment(content: str, **fields: object) -> Comment:
    values: dict[str, object] = {"platform": "wechat", "id": "1", "content": content}
    values.update(fields)
    return Comment(**values)  # type: ignore[arg-type]


def spaced_reference(text: str, term: str) -> bool:
    """Brute force of README's spaced-out rule for ``includes_word``: some substring of
    ``text`` is a maximal run of >= 2 isolated word characters, consecutive ones separated
    by separators only, whose word characters spell ``term``."""
    from worker.rules.matcher import is_word_char
    from worker.rules.normalize import is_separator

    n = len(text)

    def word(p: int) -> bool:
        return 0 <= p < n and is_word_char(text[p])

    def isolated(p: int) -> bool:
        return word(p) and not word(p - 1) and not word(p + 1)

    def reaches_isolated(p: int, step: int) -> bool:
        """Walking from p over separators, is the next non-separator an isolated word char?"""
        while 0 <= p < n and not word(p) and is_separator(text[p]):
            p += step
        return isolated(p)

    for i in range(n):
        for j in range(i + 1, n + 1):
            positions = [p for p in range(i, j) if word(p)]
            if len(positions) < 2 or positions[0] != i or positions[-1] != j - 1:
                continue
            if not all(isolated(p) for p in positions):
                continue
            if not all(word(p) or is_separator(text[p]) for p in range(i, j)):
                continue
            if "".join(text[p] for p in positions) != term:
                continue
            if reaches_isolated(i - 1, -1) or reaches_isolated(j, 1):
                continue
            return True
    return False
