"""What a running daemon is: version, configuration and rules, as short content digests.

``daemon_started`` logs them, so that a log line says which config and which rule files a
daemon ran with (two daemons with the same digests run the same thing).
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from pathlib import Path

DIGEST_CHARS = 12


def file_digest(path: Path) -> str:
    """The first characters of the file's SHA-256 (``-`` when it cannot be read)."""
    try:
        return hashlib.sha256(path.read_bytes()).hexdigest()[:DIGEST_CHARS]
    except OSError:
        return "-"


def tree_digest(paths: Iterable[Path]) -> str:
    """One SHA-256 over every file under ``paths`` (names and contents, in sorted order)."""
    digest = hashlib.sha256()
    files: list[Path] = []
    for root in paths:
        files.extend(sorted(p for p in root.rglob("*") if p.is_file()) if root.is_dir()
                     else [root])
    for path in sorted(files):
        digest.update(str(path).encode() + b"\0")
        try:
            digest.update(path.read_bytes())
        except OSError:
            digest.update(b"\1unreadable")
        digest.update(b"\0")
    return digest.hexdigest()[:DIGEST_CHARS]
