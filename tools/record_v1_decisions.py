"""Record what the rule files of tests/rules/data/v1_rules decide on a fixed corpus.

The corpus: the example comments, every sample of the rules' tests, and 2,000 generated
Chinese comments (bench/corpus.py) with the example rules' terms planted in a quarter of them,
some disguised the way v1 already caught (separators inside Chinese terms, full-width and upper
case). Spaced-out Latin words, look-alike letters and numerals are left out: catching those is
what v1.1 changes on purpose. Run with the engine to record (PYTHONPATH pointing at its checkout):

    PYTHONPATH=/path/to/old/checkout python tools/record_v1_decisions.py > \
        tests/rules/data/v1_decisions.jsonl

tests/rules/test_v1_compat.py holds today's engine to the recorded decisions.
"""

from __future__ import annotations

import json
import random
import sys
import unicodedata
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.append(str(ROOT))

from bench.corpus import make_corpus  # noqa: E402
from worker.comment import Comment  # noqa: E402
from worker.rules import load_rules  # noqa: E402

RULES = ROOT / "tests" / "rules" / "data" / "v1_rules"
PLANTED = ["加v", "薇信", "vx", "wx", "扣扣", "代开发票", "傻逼", "fuck", "shit", "sb", "百家乐",
           "彩金", "写得太好了", "受益匪浅", "qq：12345678", "138-1234-5678", "www.x.cn",
           "ｖｘ", "Ｆｕｃｋ", "一二三", "壹贰叁", "维信", "威信", "徽信"]


def corpus() -> list[str]:
    texts: list[str] = []
    for line in (ROOT / "examples" / "comments.jsonl").read_text(encoding="utf-8").splitlines():
        if line.startswith("{"):
            texts.append(json.loads(line)["content"])
    rules = load_rules([RULES], run_tests=False)
    for rule in rules.rules:
        texts.extend(sample.content for sample in rule.samples)
    rng = random.Random(20261204)
    for generated in make_corpus(n_comments=2000, n_cn_terms=200, hit_rate=0.0).comments:
        text = generated
        if rng.random() < 0.25:
            term = rng.choice(PLANTED)
            if rng.random() < 0.3 and not any(
                ch.isalnum() and ch.isascii() for ch in unicodedata.normalize("NFKC", term)
            ):
                # separators inside Latin words would be spaced-out words, which v1.1 catches
                term = rng.choice(" -.❤").join(term)
            cut = rng.randint(0, len(text))
            text = text[:cut] + term + text[cut:]
        texts.append(text)
    return texts


def main() -> None:
    rules = load_rules([RULES])
    for index, text in enumerate(corpus()):
        decision = rules.evaluate(
            Comment(platform="wechat", id=str(index), content=text, author=f"o{index % 7}"),
            now=1_800_000_000.0,
        )
        out = decision.to_dict()
        print(json.dumps({"content": text, "matched": out["matched"], "actions": out["actions"]},
                         ensure_ascii=False))


if __name__ == "__main__":
    main()
