"""Near-duplicate measure and its MinHash/LSH candidates.

The measure is the Jaccard similarity of the sets of character 3-grams of the fully normalised
text (a text shorter than 3 characters is its own single gram, so it compares whole). Comments
are 10-50 characters, where a 64-bit SimHash only finds identical texts; 3-gram Jaccard stays
meaningful there: one changed character in a 20-character text leaves about 0.8.

Candidates come from MinHash signatures cut into LSH bands: two texts share a band when their
``ROWS`` minimums in it all agree, with probability ``s ** ROWS`` for Jaccard similarity ``s``,
so a pair shares none with probability ``(1 - s ** ROWS) ** BANDS``. With 14 bands of 3 rows
that is 0.3 % at 0.7 and 0.03 % at 0.76 (8 bands of 3 missed 3.5 % and 1 %: the wave bench
lost 2 of 500 copies, and 182 of 17,422 pairs of its varied copies at >= 0.7 shared no band,
against none with 14); a pair at 0.3 becomes a candidate 32 % of the time, at 0.1 1.4 %, and
the exact Jaccard of each candidate then decides, so a false candidate costs one comparison.
Measured on 20,000 generated comments: 43 against 38 us of Redis time per comment, about 5 us
more of numpy; 20 bands of 4 rows (0.4 % at 0.7, fewer false candidates) cost 55 us and twice
the band memory. (The bands are fields of a hash in Redis: one more band is one more field
read and written, not one more range scan.)

Written here, not taken from datasketch: its MinHash costs 66 us a comment against about 6 us
for this one on a page of 49 (grams as integer codes, hashed and minimised in numpy for the
whole page: no Python call per gram), and its Redis LSH has no time window and several round
trips a query; here the bands are plain strings a Lua script files in hashes of one window's
comments. The gram hash (SplitMix64 of the code) replaced crc32 of each gram's UTF-8 in
issue #14: the band keys differ, so waves in flight across that upgrade start afresh.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

GRAM = 3
BANDS = 14
ROWS = 3
PERMUTATIONS = BANDS * ROWS

# Multiply-add-shift hashes of 32-bit gram hashes: ((a * h + b) mod 2**64) >> 32, a and b random
# 64-bit (numpy's uint64 arithmetic wraps). A 32-bit `a` would keep the order of `h` and make
# every permutation pick the same gram.
_rng = np.random.default_rng(0x6D6F64)  # fixed: every worker and host must band alike
_A = _rng.integers(1, 2**64 - 1, size=PERMUTATIONS, dtype=np.uint64, endpoint=True)
_B = _rng.integers(0, 2**64 - 1, size=PERMUTATIONS, dtype=np.uint64, endpoint=True)
_SHIFT = np.uint64(32)
_FINISH = np.uint64(0x94D049BB133111EB)


def grams(text: str) -> frozenset[str]:
    """The character 3-grams of ``text``; a shorter non-empty text is one gram of itself."""
    if len(text) < GRAM:
        return frozenset((text,)) if text else frozenset()
    return frozenset([text[i:i + GRAM] for i in range(len(text) - GRAM + 1)])  # a list: faster


def jaccard(a: frozenset[str], b: frozenset[str]) -> float:
    if not a and not b:
        return 1.0
    return len(a & b) / len(a | b)


class Similarity:
    """:func:`jaccard` of two texts' :func:`grams`, the gram sets of recent texts remembered
    (a wave's texts come back again and again); a copy needs none."""

    def __init__(self, remembered: int = 10_000) -> None:
        self._grams: dict[str, frozenset[str]] = {}
        self._remembered = remembered

    def __call__(self, a: str, b: str) -> float:
        if a == b:
            return 1.0
        return jaccard(self._gram_set(a), self._gram_set(b))

    def _gram_set(self, text: str) -> frozenset[str]:
        found = self._grams.get(text)
        if found is None:
            if len(self._grams) >= self._remembered:
                self._grams.clear()
            found = self._grams[text] = grams(text)
        return found


_MIX = np.random.default_rng(0x62616E64).integers(
    1, 2**64 - 1, size=ROWS, dtype=np.uint64, endpoint=True
)
# Each band's own salt, so that equal minimums in two bands are two keys: a band key needs no
# band number, and a text's keys are one hex string (BAND_WIDTH characters each).
_SALT = np.random.default_rng(0x73616C74).integers(
    0, 2**64 - 1, size=BANDS, dtype=np.uint64, endpoint=True
)
BAND_WIDTH = 16


def bands(text: str) -> list[str]:
    """One short key per band of ``text``'s grams: a 64-bit mix of the band's ``ROWS``
    minimums and its salt, in hex."""
    return bands_many([text])[0]


def bands_many(texts: Sequence[str]) -> list[list[str]]:
    """:func:`bands` of each text (see :func:`packed_bands_many`)."""
    return [[packed[i:i + BAND_WIDTH] for i in range(0, len(packed), BAND_WIDTH)]
            for packed in packed_bands_many(texts)]


def packed_bands_many(texts: Sequence[str]) -> list[str]:
    """Each text's band keys run together: a page of comments is a few numpy operations,
    not a few per comment or per gram (each costs microseconds however small its array;
    a Python call per gram cost 20 us a comment, formatting each key 4 us).

    A text's signature is the ``PERMUTATIONS`` minimums of its hashed grams (an empty text's
    all zeros); each band mixes its ``ROWS`` minimums into 64 bits."""
    if not texts:
        return []
    codes, lengths = gram_codes(texts)
    minimums = np.zeros((len(texts), PERMUTATIONS), dtype=np.uint64)  # empty text: zeros
    if codes.size:
        hashes = _mix(codes) >> _SHIFT
        values = hashes[:, None] * _A[None, :]  # one array, then in place: no page faults
        values += _B[None, :]  # of a fresh one per step; >> after the minimum (monotonic)
        # Multiply-add alone is only 2-universal: on a wave's copies (the same grams but a few)
        # its 42 orders missed 776 pairs at 0.5-0.7 against 615 in theory and lost copies of
        # the wave bench; a xor-shift and multiply after it (SplitMix's) missed 480 (issue #14).
        values ^= values >> _SHIFT
        values *= _FINISH
        if len(texts) == 1:
            minimums[0] = values.min(axis=0)
        else:
            filled = lengths > 0
            starts = (np.cumsum(lengths) - lengths)[filled]
            minimums[filled] = np.minimum.reduceat(values, starts, axis=0)
        minimums >>= _SHIFT
    mixed = (minimums.reshape(len(texts), BANDS, ROWS) * _MIX).sum(axis=2, dtype=np.uint64)
    page = (mixed ^ _SALT).astype(">u8").tobytes().hex()  # big-endian: the same on any host
    size = BANDS * BAND_WIDTH
    return [page[i:i + size] for i in range(0, len(page), size)]


_SHORT = np.uint64(1 << 63)  # marks the code of a text shorter than a gram: its own gram


def gram_codes(texts: Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
    """The grams of each text (:func:`grams`) as 64-bit codes, one for one with the gram
    strings: 3 code points of 21 bits; a text shorter than a gram is ``_SHORT | length << 42
    | its code points``. One code per character, the texts' run together (with each text's
    length): the last positions of a text, which start no gram, repeat its first gram (a
    minimum does not mind repeats), so no per-text selection is needed."""
    lengths = np.fromiter(map(len, texts), dtype=np.int64, count=len(texts))
    points = np.frombuffer("".join(texts).encode("utf-32-le", "surrogatepass"),
                           dtype="<u4").astype(np.uint64)
    padded = np.concatenate((points, np.zeros(GRAM - 1, dtype=np.uint64)))
    codes = (padded[:-2] << np.uint64(42)) | (padded[1:-1] << np.uint64(21)) | padded[2:]
    starts = np.cumsum(lengths) - lengths
    short = (lengths > 0) & (lengths < GRAM)
    if short.any():
        at = starts[short]
        second = np.where(lengths[short] == 2, padded[at + 1], np.uint64(0))
        codes[at] = (_SHORT | (lengths[short].astype(np.uint64) << np.uint64(42))
                     | (padded[at] << np.uint64(21)) | second)
    for back in range(1, GRAM):  # the last GRAM - 1 positions of each text long enough
        has = lengths > back
        codes[(starts + lengths - back)[has]] = codes[starts[has]]
    return codes, lengths


def _mix(codes: np.ndarray) -> np.ndarray:
    """SplitMix64's finaliser: every bit of a gram's code moves the high 32 bits kept."""
    x = codes ^ (codes >> np.uint64(30))
    x = x * np.uint64(0xBF58476D1CE4E5B9)
    x = x ^ (x >> np.uint64(27))
    x = x * np.uint64(0x94D049BB133111EB)
    mixed: np.ndarray = x ^ (x >> np.uint64(31))
    return mixed


class LshIndex:
    """An in-memory band index (replay, ``check``, tests); the daemon's lives in Redis.

    ``keys``: the text's :func:`bands` when the caller has them (a page's come together)."""

    def __init__(self) -> None:
        self._buckets: dict[str, set[str]] = {}
        self._entries: dict[str, tuple[str, Sequence[str]]] = {}
        self._similarity = Similarity()

    def __len__(self) -> int:
        return len(self._entries)

    def add(self, key: str, text: str, keys: Sequence[str] | None = None) -> None:
        if key in self._entries:
            return
        keys = bands(text) if keys is None else keys
        self._entries[key] = (text, keys)
        for band in keys:
            self._buckets.setdefault(band, set()).add(key)

    def remove(self, key: str) -> None:
        entry = self._entries.pop(key, None)
        if entry is None:
            return
        for band in entry[1]:
            bucket = self._buckets.get(band)
            if bucket is not None:
                bucket.discard(key)
                if not bucket:
                    del self._buckets[band]

    def similar(self, text: str, similarity: float,
                keys: Sequence[str] | None = None) -> dict[str, float]:
        """Indexed keys sharing a band with ``text`` whose exact Jaccard is >= similarity."""
        found: dict[str, float] = {}
        for band in bands(text) if keys is None else keys:
            for key in self._buckets.get(band, ()):
                if key not in found:
                    found[key] = self._similarity(text, self._entries[key][0])
        return {key: sim for key, sim in found.items() if sim >= similarity}

