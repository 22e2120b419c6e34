from __future__ import annotations

from pathlib import Path

from worker.identity import file_digest, tree_digest


def test_digests_change_with_content_and_only_then(tmp_path: Path) -> None:
    config = tmp_path / "config.yaml"
    config.write_text("a: 1\n")
    rules = tmp_path / "rules"
    rules.mkdir()
    (rules / "r.yaml").write_text("version: 1\n")
    first = (file_digest(config), tree_digest([rules]))
    assert first == (file_digest(config), tree_digest([rules]))
    assert len(first[0]) == 12 and len(first[1]) == 12
    (rules / "r.yaml").write_text("version: 1\n# changed\n")
    assert tree_digest([rules]) != first[1]
    (rules / "more.yaml").write_text("")
    assert tree_digest([rules]) != first[1]  # a new file counts too
    assert file_digest(tmp_path / "missing") == "-"
