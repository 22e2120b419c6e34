"""Rules engine benchmark: the real loader and engine on generated rule files.

For 10,000 and 100,000 Chinese terms (plus 500 English terms and 100 spam regexes, spread over
20 rules in list files), on 50,000 generated comments (bench/corpus.py, fixed seed); with
``--v2`` the rules also use matching v2: the ``numerals`` step, 500 ``sounds_like`` terms and
500 ``allow`` terms (beside the defaults, ``confusables`` on):

- comments/s of ``RuleSet.evaluate`` with default normalisation (one core, per CPU second),
  one comment at a time, and of ``RuleSet.evaluate_many`` on pages of 32 comments (what
  replay does),
- comments/s of ``modworker replay`` (JSON in and out, start-up excluded),
- comments/s of the naive baseline ``any(term in text for term in terms)`` on raw text,
  measured in the same run, and the ratios,
- rule build time (wall clock, and the process's CPU time: on a shared machine the CPU time
  is the figure to compare), the peak RSS when the build is done (the bench's own data
  included, about 20 MB at 100,000 terms) and the process's peak RSS at the end.

Each size runs in a child process so that its peak RSS is its own. Run:

    .venv/bin/python bench/rules_bench.py            # both sizes
    .venv/bin/python bench/rules_bench.py --sizes 10000
    .venv/bin/python bench/rules_bench.py --sizes 10000 --v2
"""

from __future__ import annotations

import argparse
import io
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.corpus import make_corpus
from worker.comment import Comment
from worker.replay import replay
from worker.replay_report import ReplayStats
from worker.rules import RuleSet, load_rules

N_RULES = 20
PAGE = 32  # comments a RuleSet.evaluate_many call, as replay decides them


V2_TERMS = 500  # sounds_like terms and allow terms, each, with --v2


def write_rules(
    directory: Path, cn_terms: list[str], en_terms: list[str], regexes: list[str],
    *, v2: bool = False,
) -> None:
    """20 rules, each with its slice of the terms in a list file and 5 regexes inline.

    With ``v2`` the file turns ``numerals`` on, each rule's ``includes`` map gets its slice of
    500 allow terms (a term with a character before it: its innocent neighbour) and each rule
    an ``any`` branch of ``sounds_like`` with its slice of 500 other terms.
    """
    lists = directory / "lists"
    lists.mkdir(parents=True, exist_ok=True)
    allow_terms = ["的" + term for term in cn_terms[:V2_TERMS]]
    sound_terms = cn_terms[-V2_TERMS:]
    rules = []
    for index in range(N_RULES):
        cn = cn_terms[index::N_RULES]
        en = en_terms[index::N_RULES]
        rx = regexes[index::N_RULES]
        (lists / f"cn{index}.txt").write_text("\n".join(cn) + "\n", encoding="utf-8")
        (lists / f"en{index}.txt").write_text("\n".join(en) + "\n", encoding="utf-8")
        includes: dict[str, object] = {"includes": [f"$cn{index}"]}
        branches: list[dict[str, object]] = [
            {"content": includes},
            {"content": {"includes_word": [f"$en{index}"]}},
            {"content": {"regex": rx}},
        ]
        if v2:
            includes["allow"] = allow_terms[index::N_RULES]
            branches.append({"content": {"sounds_like": sound_terms[index::N_RULES]}})
        rules.append(
            {
                "id": f"rule-{index:02d}",
                "priority": N_RULES - index,
                "when": {"any": branches},
                "then": ["delete", "blacklist"] if index % 2 == 0 else ["delete"],
            }
        )
    document: dict[str, object] = {
        "version": 1,
        "lists": {
            **{f"cn{i}": {"file": f"lists/cn{i}.txt"} for i in range(N_RULES)},
            **{f"en{i}": {"file": f"lists/en{i}.txt"} for i in range(N_RULES)},
        },
        "rules": rules,
    }
    if v2:
        document["normalize"] = {"numerals": True}
    # JSON is YAML: no need for a YAML writer here.
    text = json.dumps(document, ensure_ascii=False)
    (directory / "bench.yaml").write_text(text, encoding="utf-8")


def rate(count: int, seconds: float) -> float:
    return count / seconds if seconds > 0 else float("inf")


def child(n_terms: int, v2: bool) -> dict[str, float]:
    """One size's figures (run in its own process, so that the peak RSS is this size's)."""
    corpus = make_corpus(n_cn_terms=n_terms)
    with tempfile.TemporaryDirectory() as tmp:
        directory = Path(tmp)
        write_rules(directory, corpus.cn_terms, corpus.en_terms, corpus.regexes, v2=v2)
        started, cpu_started = time.perf_counter(), time.process_time()
        rules = load_rules([directory])
        build = time.perf_counter() - started
        build_cpu = time.process_time() - cpu_started
        build_peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024

        comments = [
            Comment(platform="wechat", id=str(i), content=text, author=f"o{i % 997}")
            for i, text in enumerate(corpus.comments)
        ]
        matched, engine_seconds, page_seconds = time_engine(rules, comments)
        sample = corpus.comments[: 2_000 if n_terms <= 10_000 else 300]
        naive_seconds = time_naive(corpus.cn_terms + corpus.en_terms, sample)
        stats = run_replay(rules, corpus.comments, directory / "comments.jsonl")
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return {
        "terms": n_terms + len(corpus.en_terms),
        "regexes": len(corpus.regexes),
        "comments": len(comments),
        "planted": corpus.planted,
        "matched": matched,
        "build_s": build,
        "build_cpu_s": build_cpu,
        "build_peak_mb": build_peak_mb,
        "engine_cps": rate(len(comments), engine_seconds),
        "page_cps": rate(len(comments), page_seconds),
        "replay_cps": rate(stats.comments, stats.seconds),
        "naive_cps": rate(len(sample), naive_seconds),
        "naive_sample": len(sample),
        "peak_rss_mb": peak_mb,
    }


def time_engine(rules: RuleSet, comments: list[Comment]) -> tuple[int, float, float]:
    """(comments matched, CPU seconds one at a time, CPU seconds in pages of :data:`PAGE`);
    both ways must match the same comments. CPU time (``time.process_time``), not wall clock:
    on a shared machine the wall clock counts the other processes' turns too."""
    rules.evaluate(comments[0])  # warm-up
    matched = 0
    started = time.process_time()
    for comment in comments:
        if rules.evaluate(comment).matches:
            matched += 1
    engine_seconds = time.process_time() - started
    page_matched = 0
    started = time.process_time()
    for at in range(0, len(comments), PAGE):
        for decision in rules.evaluate_many(comments[at:at + PAGE]):
            if decision.matches:
                page_matched += 1
    page_seconds = time.process_time() - started
    if page_matched != matched:
        raise SystemExit(f"evaluate_many matched {page_matched}, evaluate {matched}")
    return matched, engine_seconds, page_seconds


def time_naive(terms: list[str], sample: list[str]) -> float:
    """CPU seconds of the naive baseline ``any(term in text)`` over ``sample`` (measured as
    the engine is, so that the ratios hold on a loaded machine)."""
    started = time.process_time()
    naive_hits = 0
    for text in sample:
        if any(term in text for term in terms):
            naive_hits += 1
    return time.process_time() - started


def run_replay(rules: RuleSet, texts: list[str], source: Path) -> ReplayStats:
    """``modworker replay``'s own figures over ``texts``, written to ``source`` as JSON lines."""
    with source.open("w", encoding="utf-8") as out:
        for i, text in enumerate(texts):
            out.write(json.dumps({"id": i, "content": text, "author": f"o{i % 997}"},
                                 ensure_ascii=False) + "\n")
    with open("/dev/null", "w", encoding="utf-8") as sink:
        return replay(rules, source=source, out=sink, err=io.StringIO())


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument("--sizes", type=int, nargs="+", default=[10_000, 100_000])
    parser.add_argument("--v2", action="store_true",
                        help="rules that also use numerals, sounds_like and allow")
    parser.add_argument("--child", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(child(args.child, args.v2)))
        return
    print(f"{'terms':>8} {'regexes':>7} {'build s':>8} {'cpu s':>6} {'engine/s':>10} "
          f"{'page/s':>10} {'replay/s':>10} {'naive/s':>9} {'engine x':>9} {'page x':>8} "
          f"{'replay x':>9} {'build MB':>9} {'peak MB':>8} {'matched':>8}")
    for size in args.sizes:
        out = subprocess.run(
            [sys.executable, __file__, "--child", str(size), *(["--v2"] if args.v2 else [])],
            check=True, capture_output=True, text=True,
        ).stdout
        r = json.loads(out)
        print(
            f"{r['terms']:>8,.0f} {r['regexes']:>7.0f} {r['build_s']:>8.2f} "
            f"{r['build_cpu_s']:>6.2f} {r['engine_cps']:>10,.0f} {r['page_cps']:>10,.0f} "
            f"{r['replay_cps']:>10,.0f} {r['naive_cps']:>9,.0f} "
            f"{r['engine_cps'] / r['naive_cps']:>8.0f}x {r['page_cps'] / r['naive_cps']:>7.0f}x "
            f"{r['replay_cps'] / r['naive_cps']:>8.0f}x {r['build_peak_mb']:>9.0f} "
            f"{r['peak_rss_mb']:>8.0f} {r['matched']:>8.0f}"
        )
    print("engine: RuleSet.evaluate, default normalisation, one core; page: "
          f"RuleSet.evaluate_many, pages of {PAGE}; replay: JSON in and out (wall clock, "
          "as replay reports it); naive: any(term in text) on raw text over a sample, same "
          "run; engine, page and naive per CPU second.")


if __name__ == "__main__":
    main()
