"""Wave and burst cost per comment: ``RuleSet.evaluate`` with a ``repeated`` and an
``author.burst`` rule against the Redis wave state, on generated comments (bench/corpus.py).

Printed, as CPU time per comment (this process's ``time.process_time``, and the Redis
server's ``used_cpu_user + used_cpu_sys``; wall-clock rates mean nothing on a shared
machine): evaluate without the two rules, with them in memory (replay), on a real Redis (the
embedded server, unix socket) a comment at a time, and a page of 49 at a time as the workers
do (``decide_page``: ``observe_page``, then ``evaluate_many``); the Redis round trips the two
rules add per comment (counted at the server); the normalising and MinHash/LSH share; and the
wave state's keys and memory after the run. One process. Run:

    .venv/bin/python bench/waves_bench.py                 # 20,000 comments
    .venv/bin/python bench/waves_bench.py --comments 5000
"""

from __future__ import annotations

import argparse
import random
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import redis

from bench.corpus import make_corpus
from worker.comment import Comment
from worker.pipeline.offenses import PageOffenseCounts, RedisOffenseCounter
from worker.pipeline.page_decisions import decide_page
from worker.redis_server import EmbeddedRedis
from worker.rules import RuleSet, load_rules
from worker.rules.waves import wave_texts
from worker.waves.minhash import packed_bands_many
from worker.waves.redis_state import RedisWaveState
from worker.waves.state import MemoryWaveState, WaveState
from worker.waves.wave_rules import wave_rules

BASE = """
version: 1
rules:
  - id: spam
    when: {content: {includes: [加微信, 代购, 刷单, 博彩]}}
    then: [delete]
"""
WAVES = wave_rules(at_least=5, within="1h", burst_at_least=8, burst_within="10m",
                   document=False)
PAGE = 49  # comments a moderate message holds (WeChat's page)


def client_commands(client: redis.Redis) -> int:
    """Commands clients sent (the wave state sends only EVALSHA; scripts' inner commands are
    counted under their own names), from the server's command statistics."""
    stats = client.info("commandstats")
    return sum(int(v["calls"]) for k, v in stats.items() if k in ("cmdstat_evalsha",
                                                                  "cmdstat_eval"))


def comments(n: int) -> list[Comment]:
    rnd = random.Random(14)
    texts = make_corpus(n_comments=n, n_cn_terms=100, n_en_terms=10, n_regexes=1).comments
    start = 1_700_000_000.0
    return [
        Comment(platform="wechat", id=str(i), content=text, account="main", target="t",
                author=f"u{rnd.randrange(max(1, n // 4))}", created_at=start + i * 0.05)
        for i, text in enumerate(texts)
    ]


def cpu(fn: Any, items: list[Comment], server: redis.Redis | None = None) -> tuple[float, float]:
    """Microseconds of CPU per item: this process's, and the Redis server's."""
    before = redis_cpu(server)
    started = time.process_time()
    fn(items)
    spent = time.process_time() - started
    return 1e6 * spent / len(items), 1e6 * (redis_cpu(server) - before) / len(items)


def redis_cpu(server: redis.Redis | None) -> float:
    if server is None:
        return 0.0
    info = server.info("cpu")
    return float(info["used_cpu_user"]) + float(info["used_cpu_sys"])


def by_pages(rules: RuleSet, client: redis.Redis, now: float) -> Any:
    """What the moderate actor does with each page (:func:`decide_page`)."""
    state, counter = RedisWaveState(redis=client), RedisOffenseCounter(redis=client)

    def run(items: list[Comment]) -> None:
        for start in range(0, len(items), PAGE):
            page = [c.to_dict() for c in items[start:start + PAGE]]
            for decided in decide_page(rules, page, offenses=PageOffenseCounts(counter),
                                       waves=state, now=now, environmental=lambda _: True):
                if isinstance(decided.outcome, Exception):
                    raise decided.outcome
    return run


def one_by_one(rules: RuleSet, now: float, state: WaveState | None = None) -> Any:
    def run(items: list[Comment]) -> None:
        for item in items:
            rules.evaluate(item, now=now, waves=state)
    return run


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--comments", type=int, default=20_000)
    args = parser.parse_args()
    items = comments(args.comments)
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        (work / "base.yaml").write_text(BASE, encoding="utf-8")
        (work / "waves").mkdir()
        (work / "waves" / "r.yaml").write_text(BASE + WAVES, encoding="utf-8")
        plain = load_rules([work / "base.yaml"])
        waved = load_rules([work / "waves"])
        now = items[-1].created_at or 0.0
        base, _ = cpu(one_by_one(plain, now), items)
        memory, _ = cpu(one_by_one(waved, now, MemoryWaveState()), items)
        server = EmbeddedRedis(state_dir=work / "redis", appendonly=False)
        server.start()
        try:
            client = redis.Redis.from_url(server.url)
            single = cpu(one_by_one(waved, now, RedisWaveState(redis=client)), items, client)
            client.flushall()
            before = client_commands(client)
            paged = cpu(by_pages(waved, client, now), items, client)
            trips = (client_commands(client) - before) / len(items)
            keys = client.dbsize()
            memory_bytes = int(client.info("memory")["used_memory"])
            client.close()
        finally:
            server.stop()
        texts, _ = cpu(lambda cs: [wave_texts([c.content for c in cs[i:i + PAGE]])
                                   for i in range(0, len(cs), PAGE)], items)
        signatures, _ = cpu(lambda cs: [packed_bands_many(wave_texts([c.content for c in
                                                                      cs[i:i + PAGE]]))
                                        for i in range(0, len(cs), PAGE)], items)
    print(f"comments: {len(items):,}; CPU per comment, this process (+ Redis server)")
    print(f"evaluate, no wave rules:              {base:7.1f} us")
    print(f"evaluate, waves in memory:            {memory:7.1f} us")
    print(f"evaluate, waves in Redis, one by one: {single[0]:7.1f} us (+ {single[1]:.1f} us)")
    print(f"decide_page, waves in Redis, pages of {PAGE}: {paged[0]:5.1f} us (+ {paged[1]:.1f} us)")
    print(f"  of which, by pages: normalise {texts:.1f} us; normalise + MinHash bands "
          f"{signatures:.1f} us")
    print(f"Redis round trips added per comment (pages): {trips:.3f}")
    print(f"wave state after the run: {keys:,} keys, {memory_bytes / 2**20:,.1f} MiB used_memory")


if __name__ == "__main__":
    main()
