"""MinHash LSH against a brute-force Jaccard search on generated near-duplicates."""

from __future__ import annotations

import random

from worker.waves import minhash
from worker.waves.minhash import LshIndex, bands, bands_many, grams, jaccard

BASES = [
    "加微信领取免费资料限时优惠快来看看吧",
    "点击主页链接低价代购名牌包包正品保证",
    "兼职刷单日赚三百元无需押金私聊我",
    "this article is great thanks for sharing it",
    "今天天气真好我们一起去公园散步吧",
    "作者写得太好了支持一下期待下一篇",
    "follow my page for cheap watches and bags",
    "免费领取会员看所有电影私信我链接",
]
NOISE = "🔥😀123456789abcxyz好的嗯"


def _vary(text: str, rnd: random.Random, edits: int) -> str:
    chars = list(text)
    for _ in range(edits):
        op = rnd.choice(("sub", "ins", "del"))
        at = rnd.randrange(len(chars))
        if op == "sub":
            chars[at] = rnd.choice(NOISE)
        elif op == "ins":
            chars.insert(at, rnd.choice(NOISE))
        elif len(chars) > 5:
            del chars[at]
    return "".join(chars)


def test_lsh_recall_against_brute_force_and_no_dissimilar_pair_reported() -> None:
    rnd = random.Random(14)
    texts = [_vary(base, rnd, rnd.choice((0, 1, 1, 2, 3, 6))) for base in BASES for _ in range(25)]
    gram_sets = [grams(t) for t in texts]
    index = LshIndex()
    similar = found = reported = 0
    for i, gram_set in enumerate(gram_sets):
        got = index.similar(texts[i], 0.7)
        for j in range(i):  # brute force over everything indexed before
            sim = jaccard(gram_set, gram_sets[j])
            if sim >= 0.8:
                similar += 1
                found += str(j) in got
        for key, sim in got.items():
            reported += 1
            assert sim == jaccard(gram_set, gram_sets[int(key)])
            assert sim >= 0.5, (texts[i], texts[int(key)])
        index.add(str(i), texts[i])
    assert similar > 250  # the generator made enough near-duplicate pairs to judge by
    assert reported >= found
    assert found / similar >= 0.95


def test_pairs_at_0_7_to_0_8_miss_a_band_as_often_as_the_theory_says() -> None:
    # A pair at similarity s shares no band with probability (1 - s**ROWS)**BANDS when the
    # permutations are independent and min-wise: 0.3 % at 0.7, 0.03 % at 0.76. A weak gram hash
    # (too few bits kept, permutations that order the grams alike) misses more. 20,000 pairs of
    # unrelated bases (so the pairs miss independently) expect ~19 misses; the seed is fixed,
    # so the count is the same on every run, and the bounds (4.5 standard deviations) are
    # for a change of hash that is still as good as the theory.
    rnd = random.Random(14)
    pool = [chr(c) for c in range(0x4E00, 0x4E00 + 3000)]
    firsts: list[str] = []
    seconds: list[str] = []
    expected = 0.0
    while len(firsts) < 20_000:
        base = "".join(rnd.choice(pool) for _ in range(rnd.randrange(15, 40)))
        other = _edit(base, rnd, pool, rnd.choice((1, 2, 3)))
        s = jaccard(grams(base), grams(other))
        if 0.7 <= s < 0.8:
            firsts.append(base)
            seconds.append(other)
            expected += (1 - s**minhash.ROWS) ** minhash.BANDS
    missed = sum(set(a).isdisjoint(b)
                 for a, b in zip(bands_many(firsts), bands_many(seconds), strict=True))
    spread = 4.5 * expected**0.5
    assert expected - spread <= missed <= expected + spread, (missed, expected)


def _edit(text: str, rnd: random.Random, pool: list[str], edits: int) -> str:
    chars = list(text)
    for _ in range(edits):
        at = rnd.randrange(len(chars))
        op = rnd.choice(("sub", "ins", "del"))
        if op == "sub":
            chars[at] = rnd.choice(pool)
        elif op == "ins":
            chars.insert(at, rnd.choice(pool))
        else:
            del chars[at]
    return "".join(chars)


def test_removed_keys_are_no_longer_found() -> None:
    index = LshIndex()
    a = "加微信领取免费资料限时优惠快来"
    index.add("a", a)
    assert index.similar(a, 0.7) == {"a": 1.0}
    index.remove("a")
    assert index.similar(a, 0.7) == {}
    assert len(index) == 0


def test_short_texts_compare_whole_and_one_changed_character_stays_similar() -> None:
    assert grams("好") == frozenset({"好"})
    assert grams("") == frozenset()
    assert jaccard(grams("ab"), grams("ab")) == 1.0
    a = "加微信领取免费资料限时优惠快来"
    b = "加微信领取免费资料限时优惠快来😀"
    assert jaccard(grams(a), grams(b)) >= 0.8
    assert not set(bands(a)).isdisjoint(bands(b))
    assert jaccard(grams("今天天气真好"), grams("加微信领取免费")) == 0.0


def test_bands_of_a_page_are_those_of_each_text() -> None:
    rnd = random.Random(5)
    texts = ["".join(rnd.choice("加微信领资料abc😀") for _ in range(rnd.randrange(0, 40)))
             for _ in range(300)]
    assert "" in texts and any(len(t) == 1 for t in texts) and any(len(t) == 2 for t in texts)
    assert bands_many(texts) == [_bands_one_by_one(t) for t in texts]
    assert [bands(t) for t in texts[:20]] == bands_many(texts[:20])
    assert bands_many([]) == []


def test_texts_with_the_same_grams_band_alike_and_different_ones_apart() -> None:
    # the codes are one for one with the gram strings: a repeated gram changes nothing, a
    # text shorter than a gram is not the gram it would pad to
    assert bands("abab") == bands("baba" + "b")
    assert bands("ab") != bands("ab\0")
    assert bands("a") != bands("a\0")
    assert set(bands("今天天气真好")).isdisjoint(bands("加微信领取免费"))


def _bands_one_by_one(text: str) -> list[str]:
    """The definition, one text at a time, in plain Python integers."""
    mask = 2**64 - 1
    a, b, mix, salt = (x.tolist() for x in (minhash._A, minhash._B, minhash._MIX, minhash._SALT))
    gram_set = grams(text)
    hashes = [_mixed(_code(g)) >> 32 for g in gram_set]
    mins = [min(_finished((a[p] * h + b[p]) & mask) >> 32 for h in hashes) if hashes else 0
            for p in range(minhash.PERMUTATIONS)]
    out = []
    for band in range(minhash.BANDS):
        rows = mins[band * minhash.ROWS:(band + 1) * minhash.ROWS]
        value = (sum(r * m for r, m in zip(rows, mix, strict=True)) & mask) ^ salt[band]
        out.append(f"{value:016x}")
    return out


def _code(gram: str) -> int:
    points = [ord(c) for c in gram]
    if len(points) == minhash.GRAM:
        return points[0] << 42 | points[1] << 21 | points[2]
    return 1 << 63 | len(points) << 42 | points[0] << 21 | (points[1] if len(points) == 2 else 0)


def _finished(x: int) -> int:
    return ((x ^ (x >> 32)) * 0x94D049BB133111EB) & (2**64 - 1)


def _mixed(x: int) -> int:
    mask = 2**64 - 1
    x ^= x >> 30
    x = (x * 0xBF58476D1CE4E5B9) & mask
    x ^= x >> 27
    x = (x * 0x94D049BB133111EB) & mask
    return x ^ (x >> 31)


def test_similarity_is_the_jaccard_of_the_grams_and_forgets_beyond_its_size() -> None:
    similarity = minhash.Similarity(remembered=2)
    texts = ["加微信领取免费资料", "加微信领取免费资料😀", "今天天气真好", ""]
    for a in texts:
        for b in texts:
            assert similarity(a, b) == jaccard(grams(a), grams(b))
    assert len(similarity._grams) <= 2
