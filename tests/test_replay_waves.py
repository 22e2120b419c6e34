"""`modworker replay` with wave and burst rules: in-memory state in created_at order."""

from __future__ import annotations

import io
import json
import textwrap
from pathlib import Path

from worker.replay import replay
from worker.rules import load_rules

RULES = """
    version: 1
    rules:
      - id: copy-paste-wave
        when: {content: {repeated: {at_least: 3, within: 1h}}}
        then: [delete]
      - id: flood
        when: {author: {burst: {at_least: 3, within: 10m}}}
        then: [delete]
"""
AD = "加微信领取免费资料，限时优惠快来看看吧"


def test_replay_cuts_a_wave_with_its_earlier_members_and_counts_bursts(tmp_path: Path) -> None:
    (tmp_path / "r.yaml").write_text(textwrap.dedent(RULES).lstrip(), "utf-8")
    rules = load_rules([tmp_path / "r.yaml"])
    rows = [  # newest first: replay decides them in created_at order
        {"id": f"c{i}", "content": AD[:i] + "😀" + AD[i:], "author": f"u{i}",
         "created_at": 1_000_000 + i * 60}
        for i in range(5, 0, -1)
    ]
    rows += [{"id": f"f{i}", "content": f"第{i}条", "author": "flooder",
              "created_at": 1_000_000 + i} for i in range(3)]
    rows.append({"id": "late", "content": AD, "author": "u9", "created_at": 1_000_000 + 7200})
    source = tmp_path / "in.jsonl"
    source.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), "utf-8")
    out, err = io.StringIO(), io.StringIO()
    stats = replay(rules, source=source, out=out, err=err, now=1_100_000)
    decided = {d["id"]: d for d in map(json.loads, out.getvalue().splitlines())}
    assert decided["c1"]["matched"] == [] and decided["c2"]["matched"] == []
    assert decided["c3"]["matched"] == ["copy-paste-wave"]
    assert decided["c3"]["waves"] == {"copy-paste-wave": ["c2", "c1"]}
    assert decided["c4"]["matched"] == ["copy-paste-wave"] and "waves" not in decided["c4"]
    assert decided["late"]["matched"] == []  # two hours later: the wave's window is over
    assert [decided[f"f{i}"]["matched"] for i in range(3)] == [[], [], ["flood"]]
    assert stats.wave_members["copy-paste-wave"] == 2
    assert stats.actions[("copy-paste-wave", "delete")] == 5  # c3, c4, c5 and c1, c2
    assert "incl. 2 earlier wave members" in err.getvalue()
