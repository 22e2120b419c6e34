"""Small helpers for rule tests: write rule files into a temp dir and load them."""

from __future__ import annotations

import textwrap
from pathlib import Path

from worker.models import Comment
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
