"""Benchmark of the matching core against the alternatives measured in shared/perf-notes.md.

    .venv/bin/python bench/matchers_bench.py [--comments N] [--repeat R]

Prints comments/s (one core, best of R runs) for: the naive substring baseline (on a
subsample), pyahocorasick (if installed), ahocorasick-rs, a hyperscan literal database (if
installed), a ``re`` loop over the regexes, an ``re2.Set``, a hyperscan regex database, the
Normalizer alone and the full ``Matcher.scan`` (normalise + both automata + regex set), with
build times, hit counts and ratios. The corpus comes from ``bench/corpus.py`` (fixed seed).
"""

from __future__ import annotations

import argparse
import importlib
import re
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import ahocorasick_rs
import re2

from bench.corpus import Corpus, make_corpus
from worker.errors import PatternError
from worker.rules.matcher import Matcher, MatcherBuilder
from worker.rules.normalize import NormalizeOptions, Normalizer
from worker.rules.regex import re2_options, translate

NAIVE = "naive any(k in text)"
AHOCORASICK_RS = "ahocorasick-rs (overlapping, all ids)"
RE2_SET = "re2.Set (translated)"
NORMALIZER = "Normalizer.normalize (defaults)"
SCAN = "Matcher.scan (normalise + AC + word AC + re2.Set)"


def _optional(name: str) -> Any:
    try:
        return importlib.import_module(name)
    except ImportError:
        return None


def rate(fn: Callable[[str], object], texts: Sequence[str], repeat: int) -> tuple[float, int]:
    """Best comments/s over ``repeat`` runs, and how many texts gave a truthy result."""
    best = float("inf")
    hits = 0
    for _ in range(repeat):
        start = time.perf_counter()
        hits = 0
        for text in texts:
            if fn(text):
                hits += 1
        best = min(best, time.perf_counter() - start)
    return len(texts) / best, hits


def timed(fn: Callable[[], Any]) -> tuple[Any, float]:
    start = time.perf_counter()
    value = fn()
    return value, time.perf_counter() - start


class Results:
    """Each measurement printed as it comes, and kept for the ratios."""

    def __init__(self) -> None:
        self.rates: dict[str, float] = {}

    def report(self, name: str, cps: float, hits: int | None, note: str = "") -> None:
        self.rates[name] = cps
        hit_s = "" if hits is None else f"{hits:>7} hits"
        print(f"{name:<40} {cps:>12,.0f} comments/s {hit_s}  {note}", flush=True)


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    ap.add_argument("--comments", type=int, default=50_000)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--naive-sample", type=int, default=300)
    args = ap.parse_args(argv)

    corpus, t_corpus = timed(lambda: make_corpus(n_comments=args.comments))
    comments = corpus.comments
    print(
        f"corpus: {len(comments)} comments (median {sorted(map(len, comments))[len(comments) // 2]}"
        f" chars), {len(corpus.cn_terms)} Chinese + {len(corpus.en_terms)} English terms, "
        f"{len(corpus.regexes)} regexes, {corpus.planted} planted hits; built in {t_corpus:.2f} s"
    )
    print("literal and regex baselines run on the raw (lowercased) text, without normalisation\n")
    results = Results()
    hyperscan = _optional("hyperscan")
    bench_literals(corpus, args, results, hyperscan)
    bench_regexes(corpus, args, results, hyperscan)
    bench_ours(corpus, args, results)
    print_ratios(results)


def bench_literals(corpus: Corpus, args: argparse.Namespace, results: Results,
                   hyperscan: Any) -> None:
    """The naive baseline, pyahocorasick, ahocorasick-rs and a hyperscan literal database."""
    terms = [*corpus.cn_terms, *corpus.en_terms]
    lowered = [c.lower() for c in corpus.comments]
    sample = lowered[: args.naive_sample]
    cps, hits = rate(lambda t: any(k in t for k in terms), sample, 1)
    results.report(NAIVE, cps, None, f"{hits}/{len(sample)} hit (subsample)")

    pyahocorasick = _optional("ahocorasick")
    if pyahocorasick is not None:

        def build_pyac() -> Any:
            automaton = pyahocorasick.Automaton()
            for i, term in enumerate(terms):
                automaton.add_word(term, i)
            automaton.make_automaton()
            return automaton

        pyac, t_build = timed(build_pyac)
        cps, hits = rate(lambda t: list(pyac.iter(t)), lowered, args.repeat)
        results.report("pyahocorasick iter", cps, hits, f"build {t_build:.2f} s")
    else:
        print("pyahocorasick not installed: skipped")

    ac, t_build = timed(lambda: ahocorasick_rs.AhoCorasick(terms))
    cps, hits = rate(
        lambda t: ac.find_matches_as_indexes(t, overlapping=True), lowered, args.repeat
    )
    results.report(AHOCORASICK_RS, cps, hits, f"build {t_build:.2f} s")

    if hyperscan is None:
        print("hyperscan not installed: skipped")
        return

    def build_hs_literals() -> Any:
        db = hyperscan.Database(mode=hyperscan.HS_MODE_BLOCK)
        db.compile(
            expressions=[re.escape(t).encode() for t in terms],
            ids=list(range(len(terms))),
            flags=[hyperscan.HS_FLAG_UTF8] * len(terms),
        )
        return db

    hs_lit, t_build = timed(build_hs_literals)
    cps, hits = rate(hs_scan(hs_lit), lowered, args.repeat)
    results.report("hyperscan literal db (incl. encode)", cps, hits, f"build {t_build:.2f} s")


def hs_scan(db: Any) -> Callable[[str], object]:
    """A scan of one text with a hyperscan database: the ids it matched."""

    def scan(text: str) -> object:
        found: list[int] = []
        db.scan(text.encode(), match_event_handler=lambda i, *_: found.append(i))
        return found

    return scan


def bench_regexes(corpus: Corpus, args: argparse.Namespace, results: Results,
                  hyperscan: Any) -> None:
    """A ``re`` loop, an ``re2.Set`` and a hyperscan regex database over the raw text."""
    comments = corpus.comments
    py_res, t_build = timed(lambda: [re.compile(p, re.IGNORECASE) for p in corpus.regexes])
    cps, hits = rate(lambda t: [r for r in py_res if r.search(t)], comments, 1)
    results.report("re loop (backtracking!)", cps, hits, f"build {t_build:.3f} s")

    def build_set() -> Any:
        rset = re2.Set.SearchSet(re2_options(max_mem=512 << 20))
        for pattern in corpus.regexes:
            rset.Add(translate(pattern))
        rset.Compile()
        return rset

    rset, t_build = timed(build_set)
    cps, hits = rate(rset.Match, comments, args.repeat)
    results.report(RE2_SET, cps, hits, f"build {t_build:.3f} s")

    if hyperscan is not None:
        (hs_re, n_ok), t_build = timed(lambda: build_hs_regex(hyperscan, corpus.regexes))
        cps, hits = rate(hs_scan(hs_re), comments, args.repeat)
        results.report(
            "hyperscan regex db (UCP, incl. encode)",
            cps,
            hits,
            f"build {t_build:.2f} s, {n_ok}/{len(corpus.regexes)} patterns accepted",
        )


def build_hs_regex(hyperscan: Any, regexes: Sequence[str]) -> tuple[Any, int]:
    """A hyperscan database of the patterns it accepts, and how many those are."""
    # Fed the RE2 translations (Unicode \w, \x{...} escapes, (?i)): hyperscan refuses
    # \uXXXX in a class, and its own \w differs from Python's.
    flag = hyperscan.HS_FLAG_UTF8 | hyperscan.HS_FLAG_UCP | hyperscan.HS_FLAG_SINGLEMATCH
    ok: list[bytes] = []
    for pattern in regexes:
        expression = translate(pattern).encode()
        probe = hyperscan.Database(mode=hyperscan.HS_MODE_BLOCK)
        try:
            probe.compile(expressions=[expression], ids=[0], flags=[flag])
        except hyperscan.error as exc:
            print(f"  hyperscan refuses {pattern!r}: {exc}")
            continue
        ok.append(expression)
    db = hyperscan.Database(mode=hyperscan.HS_MODE_BLOCK)
    db.compile(expressions=ok, ids=list(range(len(ok))), flags=[flag] * len(ok))
    return db, len(ok)


def bench_ours(corpus: Corpus, args: argparse.Namespace, results: Results) -> None:
    """The Normalizer alone, ``Matcher.scan``, and the scan with every span asked for."""
    comments = corpus.comments
    normalizer = Normalizer(NormalizeOptions())
    normalizer.normalize("warm up the character tables")
    cps, _ = rate(normalizer.normalize, comments, args.repeat)
    results.report(NORMALIZER, cps, None)

    matcher, t_build = timed(lambda: build_matcher(normalizer, corpus))
    cps, hits = rate(lambda t: (s := matcher.scan(t)).literals or s.regexes, comments, args.repeat)
    results.report(SCAN, cps, hits, f"build {t_build:.2f} s")
    lit_hits = sum(1 for c in comments if matcher.scan(c).literals)
    print(f"  of which {lit_hits} with a literal hit (planted: {corpus.planted})")

    def scan_with_spans(text: str) -> object:
        result = matcher.scan(text)
        for i in result.literals:
            result.literal_span(i)
        for i in result.regexes:
            result.regex_span(i)
        return result.literals or result.regexes

    cps, _ = rate(scan_with_spans, comments, 1)
    results.report("Matcher.scan + every span", cps, None)


def build_matcher(normalizer: Normalizer, corpus: Corpus) -> Matcher:
    builder = MatcherBuilder(normalizer)
    for term in corpus.cn_terms:
        builder.add_literal("includes", term)
    for term in corpus.en_terms:
        builder.add_literal("includes_word", term)
    for pattern in corpus.regexes:
        try:
            builder.add_regex(pattern)
        except PatternError as exc:
            print("  rejected:", exc)
    return builder.build()


def print_ratios(results: Results) -> None:
    rates = results.rates
    naive, scan = rates[NAIVE], rates[SCAN]
    print("\nratios:")
    print(f"  Matcher.scan / naive baseline        {scan / naive:>8.1f}x")
    print(f"  Matcher.scan / target 100,000/s      {scan / 100_000:>8.2f}x")
    print(f"  Normalizer share of a scan           {scan / rates[NORMALIZER]:>8.0%}")
    for name in (AHOCORASICK_RS, RE2_SET):
        print(f"  {name:<36} {rates[name] / naive:>8.1f}x naive")


if __name__ == "__main__":
    main()
