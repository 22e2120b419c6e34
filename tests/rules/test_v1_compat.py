"""v1 rule files mean what they meant: the example rules as they were before matching v2
decide a recorded corpus exactly as the v1 engine did (tools/record_v1_decisions.py)."""

from __future__ import annotations

import json
from pathlib import Path

from worker.comment import Comment
from worker.rules import load_rules

DATA = Path(__file__).resolve().parent / "data"


def test_v1_rule_files_decide_the_recorded_corpus_as_before() -> None:
    rules = load_rules([DATA / "v1_rules"])
    records = [
        json.loads(line)
        for line in (DATA / "v1_decisions.jsonl").read_text(encoding="utf-8").splitlines()
    ]
    assert len(records) > 2000
    assert sum(1 for r in records if r["matched"]) > 300
    differences = []
    for index, record in enumerate(records):
        decision = rules.evaluate(
            Comment(platform="wechat", id=str(index), content=record["content"],
                    author=f"o{index % 7}"),
            now=1_800_000_000.0,
        ).to_dict()
        if (decision["matched"], decision["actions"]) != (record["matched"], record["actions"]):
            differences.append((record["content"], record["matched"], decision["matched"]))
    assert not differences, differences[:5]
