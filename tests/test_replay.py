"""``modworker replay`` skips any line it cannot use, with its line number, and goes on."""

from __future__ import annotations

import io
import json
from pathlib import Path

from worker.replay import PAGE_SIZE, replay
from worker.rules import load_rules

RULES = """\
version: 1
rules:
  - id: spam
    when: {content: {includes: [博彩]}}
    then: [delete]
"""


def test_bad_lines_are_skipped_with_their_line_numbers_and_the_rest_decided(
    tmp_path: Path,
) -> None:
    rules_file = tmp_path / "r.yaml"
    rules_file.write_text(RULES, encoding="utf-8")
    rules = load_rules([rules_file])
    lines = [
        '{"id": "first", "content": "博彩"}',
        '{"id": "deep", "content": "x", "author": ' + "[" * 100_000 + "]" * 100_000 + "}",
        '{"id": "huge-time", "content": "博彩", "created_at": ' + "9" * 400 + "}",
        '{"id": "huge-id", "content": "x", "extra": ' + "1" * 5000 + "}",
        '{"id": "nan-time", "content": "x", "created_at": NaN}',
        '{"id": "cut\\ud83d", "content": "x"}',
        '{"id": "cut-content", "content": "博彩 \\ud83d", "author": "o\\udc00"}',
        '{"id": "last", "content": "博彩"}',
    ]
    source = tmp_path / "in.jsonl"
    source.write_text("\n".join(lines) + "\n", encoding="utf-8")
    out, err = io.StringIO(), io.StringIO()

    stats = replay(rules, source=source, out=out, err=err, spans=True)

    decided = [json.loads(line) for line in out.getvalue().splitlines()]
    assert [d["id"] for d in decided] == ["first", "cut-content", "last"]
    assert decided[1]["spans"] == {"spam": [0, 2, "博彩"]}
    assert stats.malformed == 5 and stats.comments == 3
    messages = err.getvalue()
    assert f"{source}:2: skipped: nested too deeply" in messages
    assert f"{source}:3: skipped: 'created_at' is too large to be Unix seconds" in messages
    assert f"{source}:4: skipped: unusable value: Exceeds the limit" in messages
    assert f"{source}:5: skipped: 'created_at' must be Unix seconds, got nan" in messages
    assert f"{source}:6: skipped: 'id' holds a lone surrogate" in messages
    # Written out, the output is valid UTF-8 (a lone surrogate would not encode).
    out.getvalue().encode("utf-8")
    err.getvalue().encode("utf-8")


def test_comments_are_decided_in_pages_of_bounded_size_and_file_order(
    tmp_path: Path, evaluated_pages: list[int]
) -> None:
    """Replay decides pages of PAGE_SIZE comments, the comments held for time order too, so
    its memory does not grow with the order window."""
    rules_file = tmp_path / "r.yaml"
    rules_file.write_text(RULES, encoding="utf-8")
    rules = load_rules([rules_file])
    count = 3 * PAGE_SIZE + 5
    source = tmp_path / "in.jsonl"
    source.write_text("".join(
        json.dumps({"id": str(i), "content": "博彩" if i % 7 == 0 else "你好"}) + "\n"
        for i in range(count)
    ), encoding="utf-8")
    out = io.StringIO()

    stats = replay(rules, source=source, out=out, err=io.StringIO(), order_window=2 * PAGE_SIZE)

    assert max(evaluated_pages) <= PAGE_SIZE and sum(evaluated_pages) == count == stats.comments
    decided = [json.loads(line) for line in out.getvalue().splitlines()]
    assert [d["id"] for d in decided] == [str(i) for i in range(count)]
    assert [d["matched"] != [] for d in decided] == [i % 7 == 0 for i in range(count)]
