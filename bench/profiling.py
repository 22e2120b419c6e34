"""py-spy attached to running processes during a benchmark phase, and a summary of the
hottest functions of some of them."""

from __future__ import annotations

import signal
from collections import Counter
from collections.abc import Sequence
from pathlib import Path

from worker.subprocesses import ChildProcess, spawn


class Profiler:
    """py-spy ``record`` attached to running processes, stopped with SIGINT (it then writes
    its collapsed stacks); :meth:`summary` aggregates them."""

    def __init__(self, py_spy: str, directory: Path, pids: dict[str, int]) -> None:
        directory.mkdir(parents=True, exist_ok=True)
        self.outputs: dict[str, Path] = {}
        self.children: list[ChildProcess] = []
        for name, pid in pids.items():
            out = directory / f"{name}.txt"
            self.outputs[name] = out
            self.children.append(spawn(
                f"py-spy of {name}",
                [py_spy, "record", "--pid", str(pid), "--rate", "100", "--format", "raw",
                 "--gil", "--nonblocking", "--output", str(out)],
                directory / f"{name}.err"))

    def stop(self) -> None:
        for child in self.children:  # all at once: each writes its stacks as it exits
            child.send_signal(signal.SIGINT)
        for child in self.children:
            child.wait(60)

    def summary(self, names: Sequence[str], top: int = 25) -> list[str]:
        """Inclusive and self shares of the samples of ``names``' processes, by function."""
        inclusive: Counter[str] = Counter()
        own: Counter[str] = Counter()
        total = 0
        for name in names:
            path = self.outputs.get(name)
            if path is None or not path.exists():
                continue
            for line in path.read_text(encoding="utf-8", errors="replace").splitlines():
                stack, _, count_text = line.rpartition(" ")
                if not stack or not count_text.isdigit():
                    continue
                count = int(count_text)
                total += count
                frames = [_frame(f) for f in stack.split(";") if "(" in f]
                if not frames:
                    continue
                for frame in set(frames):
                    inclusive[frame] += count
                own[frames[-1]] += count
        if not total:
            return ["(no samples)"]
        lines = [f"{total:,} samples (100 Hz, of the thread holding the GIL: CPU in Python)",
                 "inclusive:"]
        lines += [f"  {n / total:6.1%}  {f}" for f, n in inclusive.most_common(top)
                  if n / total >= 0.01]
        lines.append("self:")
        lines += [f"  {n / total:6.1%}  {f}" for f, n in own.most_common(top // 2)]
        return lines


def _frame(raw: str) -> str:
    """``fn (path/to/file.py:12)`` -> ``fn (to/file.py)``: lines merged, paths shortened."""
    name, _, where = raw.partition(" (")
    where = where.rstrip(")").rsplit(":", 1)[0]
    for marker in ("site-packages/", "/work/main/", "python3.11/"):
        if marker in where:
            where = where.split(marker, 1)[1]
    return f"{name} ({where})"
