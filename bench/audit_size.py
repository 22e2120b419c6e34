"""Redis memory the audit stream takes for a day of comments (the figure in README).

Appends, through :class:`AuditLog` as the pipeline does, one decision record per comment of the
synthetic corpus (content cut to 200 characters as ``moderate`` cuts it, an openid author) and
one ``action`` record per comment that matched (``--hit-rate``, default 5 %), into an embedded
Redis without persistence, then prints ``used_memory`` growth and ``MEMORY USAGE`` of the
stream per 100,000 comments.

    .venv/bin/python bench/audit_size.py [--comments 100000]
"""

from __future__ import annotations

import argparse
import random
import sys
import tempfile
from pathlib import Path

import redis

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.corpus import make_corpus
from worker.pipeline.audit import AuditLog
from worker.pipeline.keys import Keys
from worker.redis_server import EmbeddedRedis

PIPELINE_BATCH = 49  # moderate writes a page's decisions in one round trip


def records(n: int, hit_rate: float) -> list[dict[str, object]]:
    rng = random.Random(7)
    texts = make_corpus(n_comments=min(n, 50_000), n_cn_terms=100, n_en_terms=10,
                        n_regexes=5).comments
    out: list[dict[str, object]] = []
    for i in range(n):
        context = {"platform": "wechat", "account": "main-oa", "target": "2247483650:0",
                   "comment_id": str(100_000 + i)}
        hit = rng.random() < hit_rate
        out.append({
            "kind": "decision", **context, "rules": ["contact-spam"] if hit else [],
            "actions": [{"type": "delete"}, {"type": "blacklist"}] if hit else [],
            "skipped": [], "author": f"oUser{rng.randrange(10**22):022d}",
            "content": texts[i % len(texts)][:200],
        })
        if hit:
            out.append({"kind": "action", **context, "action": "delete",
                        "rule": "contact-spam", "outcome": "ok", "errcode": None,
                        "attempt": 1, "detail": None})
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--comments", type=int, default=100_000)
    parser.add_argument("--hit-rate", type=float, default=0.05)
    args = parser.parse_args()
    batch = records(args.comments, args.hit_rate)
    with tempfile.TemporaryDirectory() as state, \
            EmbeddedRedis(state_dir=Path(state), appendonly=False) as server:
        client = redis.Redis.from_url(server.url)
        before = int(client.info("memory")["used_memory"])
        audit = AuditLog(redis=client, keys=Keys())
        for start in range(0, len(batch), PIPELINE_BATCH):
            pipe = client.pipeline(transaction=False)
            writer = audit.using(pipe)
            for record in batch[start:start + PIPELINE_BATCH]:
                writer.append(record)
            pipe.execute()
        used = int(client.info("memory")["used_memory"]) - before
        stream = int(client.memory_usage(Keys().audit(), samples=0) or 0)
        per = 100_000 / args.comments
        print(f"{args.comments:,} comments, {len(batch):,} records ({args.hit_rate:.0%} acted on)")
        print(f"used_memory growth: {used / 2**20:.1f} MiB "
              f"({used * per / 2**20:.1f} MiB per 100,000 comments)")
        print(f"MEMORY USAGE of the stream: {stream / 2**20:.1f} MiB "
              f"({stream * per / 2**20:.1f} MiB per 100,000 comments; "
              f"{stream / len(batch):.0f} bytes a record)")
        client.close()


if __name__ == "__main__":
    main()
