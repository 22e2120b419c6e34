"""RSS of a worker's rules load and reloads, with and without giving glibc's freed memory back.

A worker process as the daemon runs it (glibc limited to two malloc arenas) loads
``rules_bench.py``'s rule files of 100,000 terms (``--terms``) into a
:class:`~worker.pipeline.rules_reload.RulesHolder`, then reloads them twice (each new set
replacing the previous one). Printed per load: the RSS after it without ``malloc_trim``, with
it (``release_freed_memory`` as the holder's ``after_load``, as in workers), and the CPU time
the call took. Each variant runs in its own child process. RSS is not moved by the machine's
load; the CPU figure is this process's (``time.process_time``). Run:

    .venv/bin/python bench/rules_reload_rss.py
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.corpus import make_corpus
from bench.rules_bench import write_rules
from worker.pipeline.rules_reload import RulesHolder
from worker.procutil import limit_malloc_arenas, release_freed_memory

RELOADS = 2


def rss_mib() -> float:
    with open("/proc/self/statm", encoding="ascii") as statm:
        return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


def child(terms: int, trim: bool) -> dict[str, object]:
    limit_malloc_arenas(2)  # as a worker process does
    trim_cpu: list[float] = []

    def after_load() -> None:
        started = time.process_time()
        release_freed_memory()
        trim_cpu.append(time.process_time() - started)

    with tempfile.TemporaryDirectory() as tmp:
        directory = Path(tmp)
        corpus = make_corpus(n_cn_terms=terms)
        write_rules(directory, corpus.cn_terms, corpus.en_terms, corpus.regexes)
        del corpus
        before = rss_mib()
        holder = RulesHolder(paths=[directory], after_load=after_load if trim else None)
        after = [rss_mib()]
        for _ in range(RELOADS):
            holder.request_reload()
            _ = holder.rules
            after.append(rss_mib())
    return {"before": before, "after": after, "trim_ms": [1000 * t for t in trim_cpu]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawTextHelpFormatter)
    parser.add_argument("--terms", type=int, default=100_000)
    parser.add_argument("--child", choices=["plain", "trim"], help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(child(args.terms, args.child == "trim")))
        return
    runs = {}
    for variant in ("plain", "trim"):
        out = subprocess.run([sys.executable, __file__, "--terms", str(args.terms),
                              "--child", variant], check=True, capture_output=True, text=True)
        runs[variant] = json.loads(out.stdout.strip().splitlines()[-1])
    plain, trim = runs["plain"], runs["trim"]
    print(f"{args.terms:,} terms; RSS before the first load: {plain['before']:.1f} / "
          f"{trim['before']:.1f} MiB")
    print(f"{'load':<10} {'RSS plain':>10} {'RSS trimmed':>12} {'given back':>11} {'trim CPU':>9}")
    for index, (a, b, ms) in enumerate(zip(plain["after"], trim["after"], trim["trim_ms"],
                                           strict=True)):
        name = "first" if index == 0 else f"reload {index}"
        print(f"{name:<10} {a:>8.1f} M {b:>10.1f} M {a - b:>9.1f} M {ms:>6.1f} ms")


if __name__ == "__main__":
    main()
