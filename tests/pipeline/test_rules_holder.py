"""Hot reload: changed files are picked up, broken ones never replace working rules."""

from __future__ import annotations

import os
from pathlib import Path

from worker.models import Comment
from worker.pipeline.rules_holder import RulesHolder

GOOD = """
version: 1
rules:
  - id: spam
    when: {content: {includes: [博彩]}}
    then: [delete]
"""
CHANGED = GOOD.replace("博彩", "网赌")


def _bump(path: Path, text: str) -> None:
    path.write_text(text, encoding="utf-8")
    stat = path.stat()
    later = stat.st_mtime_ns + 2_000_000_000  # a visible change even on coarse clocks
    os.utime(path, ns=(later, later))


def decide(holder: RulesHolder, text: str) -> list[str]:
    return holder.rules.evaluate(Comment(platform="wechat", id="1", content=text)).matched


def test_changes_are_picked_up_and_broken_files_keep_the_last_good_rules(tmp_path: Path) -> None:
    path = tmp_path / "rules.yaml"
    path.write_text(GOOD, encoding="utf-8")
    holder = RulesHolder(paths=[tmp_path], check_interval=0.0)
    assert decide(holder, "博彩") == ["spam"]

    _bump(path, CHANGED)
    assert decide(holder, "网赌") == ["spam"] and decide(holder, "博彩") == []
    assert holder.generation == 2

    _bump(path, CHANGED + "    stop: maybe\n")  # invalid
    assert decide(holder, "网赌") == ["spam"]
    assert holder.generation == 2

    _bump(path, "")  # a truncated save: never an empty rule set
    assert decide(holder, "网赌") == ["spam"]
    assert holder.generation == 2

    _bump(path, GOOD)
    assert decide(holder, "博彩") == ["spam"]
    assert holder.generation == 3


def test_a_requested_reload_happens_on_next_use_even_without_a_visible_change(
    tmp_path: Path,
) -> None:
    path = tmp_path / "rules.yaml"
    path.write_text(GOOD, encoding="utf-8")
    holder = RulesHolder(paths=[tmp_path], check_interval=3600.0)
    stat = path.stat()
    path.write_text(CHANGED, encoding="utf-8")  # same size, maybe the same mtime
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns))
    assert decide(holder, "博彩") == ["spam"]  # not checked for an hour
    holder.request_reload()  # SIGHUP
    assert decide(holder, "网赌") == ["spam"]
    assert holder.generation == 2
