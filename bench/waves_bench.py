"""Wave and burst cost per comment: ``RuleSet.evaluate`` with a ``repeated`` and an
``author.burst`` rule against the Redis wave state, on generated comments (bench/corpus.py).

Printed: comments/s of evaluate without the two rules, with them on a real Redis (the
embedded server, unix socket), and with them in memory (replay); the Redis round trips the
two rules add per comment (counted at the client); the MinHash/LSH share of the time; and the
wave state's keys and memory after the run. One process, one core. Run:

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

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import redis
from corpus import make_corpus

from worker.comment import Comment
from worker.redis_server import EmbeddedRedis
from worker.rules import load_rules
from worker.rules.waves import wave_text
from worker.waves.minhash import bands
from worker.waves.redis_state import RedisWaveState
from worker.waves.state import MemoryWaveState

BASE = """
version: 1
rules:
  - id: spam
    when: {content: {includes: [加微信, 代购, 刷单, 博彩]}}
    then: [delete]
"""
WAVES = """
  - id: copy-paste-wave
    when: {content: {repeated: {at_least: 5, within: 1h}}}
    then: [delete]
  - id: flood
    when: {author: {burst: {at_least: 8, within: 10m}}}
    then: [delete]
"""


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


def rate(fn: Any, items: list[Comment]) -> float:
    started = time.perf_counter()
    for item in items:
        fn(item)
    return len(items) / (time.perf_counter() - started)


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
        base_rate = rate(lambda c: plain.evaluate(c, now=now), items)
        memory = MemoryWaveState()
        memory_rate = rate(lambda c: waved.evaluate(c, now=now, waves=memory), items)
        server = EmbeddedRedis(state_dir=work / "redis", appendonly=False)
        server.start()
        try:
            client = redis.Redis.from_url(server.url)
            state = RedisWaveState(redis=client)
            before = client_commands(client)
            redis_rate = rate(lambda c: waved.evaluate(c, now=now, waves=state), items)
            trips = (client_commands(client) - before) / len(items)
            keys = client.dbsize()
            memory_bytes = int(client.info("memory")["used_memory"])
            client.close()
        finally:
            server.stop()
        sig_rate = rate(lambda c: bands(wave_text(c.content)), items)
    print(f"comments: {len(items):,}")
    print(f"evaluate, no wave rules:           {base_rate:>9,.0f} comments/s")
    print(f"evaluate, waves in memory:         {memory_rate:>9,.0f} comments/s")
    print(f"evaluate, waves in Redis:          {redis_rate:>9,.0f} comments/s")
    print(f"normalise + 3-grams + MinHash bands: {1e6 / sig_rate:>7,.1f} us/comment")
    print(f"Redis round trips added per comment: {trips:.2f}")
    print(f"wave state after the run: {keys:,} keys, {memory_bytes / 2**20:,.1f} MiB used_memory")


if __name__ == "__main__":
    main()
