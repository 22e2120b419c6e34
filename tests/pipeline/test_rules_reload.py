"""Hot reload: changed files are picked up, broken ones never replace working rules."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from structlog.testing import capture_logs

from worker.comment import Comment
from worker.errors import ConfigError
from worker.pipeline.rules_reload import RulesHolder

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


BOMB = "version: 1\nlists:\n  a: &a [lol, lol, lol, lol, lol, lol, lol, lol, lol]\n" + "".join(
    f"  {x}: &{x} [{', '.join(['*' + p] * 9)}]\n" for x, p in zip("bcdefghi", "abcdefgh",
                                                                  strict=True))


def test_no_broken_file_can_take_the_running_rules_down(tmp_path: Path) -> None:
    path = tmp_path / "rules.yaml"
    path.write_text(GOOD, encoding="utf-8")
    os.mkfifo(tmp_path / "fifo")
    holder = RulesHolder(paths=[tmp_path], check_interval=0.0)
    broken = {
        "alias bomb": (BOMB, "aliases (*name) are not allowed"),
        "5,000 nested [": ("version: 1\nlists:\n  x: " + "[" * 5000 + "\n", "nested more than"),
        "a device": (GOOD.replace("rules:", "lists:\n  x: {file: /dev/zero}\nrules:"),
                     "outside the rule directory"),
        "a FIFO": (GOOD.replace("rules:", "lists:\n  x: {file: fifo}\nrules:"),
                   "not a regular file"),
    }
    for name, (text, expected) in broken.items():
        with capture_logs() as logs:
            _bump(path, text)
            assert decide(holder, "博彩") == ["spam"], name
        failed = [e for e in logs if e["event"] == "rules_reload_failed"]
        assert len(failed) == 1, name
        assert failed[0]["kept"] == "running" and failed[0]["kept_generation"] == 1
        assert any(f"{path}:" in p and expected in p for p in failed[0]["problems"]), failed
    assert holder.generation == 1


def test_an_unforeseen_loader_failure_keeps_the_running_rules(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "rules.yaml").write_text(GOOD, encoding="utf-8")
    holder = RulesHolder(paths=[tmp_path], check_interval=3600.0)

    def overflow(*args: object, **kwargs: object) -> None:
        raise RecursionError("maximum recursion depth exceeded")

    monkeypatch.setattr("worker.pipeline.rules_reload.load_rules", overflow)
    holder.request_reload()
    with capture_logs() as logs:
        assert decide(holder, "博彩") == ["spam"]
    failed = [e for e in logs if e["event"] == "rules_reload_failed"]
    assert failed and "RecursionError" in failed[0]["problems"][0]


def test_a_first_load_that_fails_starts_from_the_last_good_rules(tmp_path: Path) -> None:
    rules = tmp_path / "rules"
    rules.mkdir()
    (rules / "lists").mkdir()
    (rules / "lists" / "spam.txt").write_text("网赌\n", encoding="utf-8")
    path = rules / "rules.yaml"
    path.write_text(GOOD.replace("[博彩]", "[博彩, $spam]").replace(
        "rules:", "lists:\n  spam: {file: lists/spam.txt}\nrules:"), encoding="utf-8")
    snapshot = tmp_path / "state" / "rules-last-good.json"
    RulesHolder(paths=[rules], snapshot=snapshot)  # a good load is saved
    assert snapshot.exists()

    path.write_text(BOMB, encoding="utf-8")  # broken while no worker runs
    (rules / "lists" / "spam.txt").unlink()
    with capture_logs() as logs:
        holder = RulesHolder(paths=[rules], snapshot=snapshot, check_interval=3600.0)
    assert decide(holder, "博彩") == ["spam"] and decide(holder, "网赌") == ["spam"]
    failed = [e for e in logs if e["event"] == "rules_reload_failed"]
    assert failed[0]["kept"] == "last_good_snapshot"
    assert any(f"{path}:" in p for p in failed[0]["problems"])

    # The broken files never overwrite the snapshot; nothing to start from is an error.
    assert RulesHolder(paths=[rules], snapshot=snapshot).rules.rules[0].id == "spam"
    with pytest.raises(ConfigError, match="aliases"):
        RulesHolder(paths=[rules], snapshot=tmp_path / "none.json")


def test_after_load_follows_every_load_that_replaced_the_rules(tmp_path: Path) -> None:
    path = tmp_path / "rules.yaml"
    path.write_text(GOOD, encoding="utf-8")
    loads: list[int] = []
    holder = RulesHolder(paths=[tmp_path], check_interval=0.0,
                         after_load=lambda: loads.append(len(loads)))
    assert loads == [0]
    _bump(path, "version: 1\nrules: [\n")  # broken: the running rules stay, nothing freed
    assert decide(holder, "博彩") == ["spam"] and loads == [0]
    _bump(path, CHANGED)
    assert decide(holder, "网赌") == ["spam"] and loads == [0, 1]
