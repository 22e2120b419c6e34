"""Redaction of registered secrets: every one masked, in bounded memory, expired ones forgotten."""

from __future__ import annotations

import gc
import os
import secrets

from tests.pipeline.conftest import FakeClock
from worker.logs import redact, register_secret
from worker.redaction import MAX_EXPIRING, SecretRegistry


def rss_bytes() -> int:
    with open("/proc/self/statm", encoding="ascii") as statm:
        return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def test_every_secret_is_masked_the_longest_whole() -> None:
    registry = SecretRegistry()
    registry.register("abcd1234")
    registry.register("abcd1234-and-more")
    registry.register("xyz")  # too short: would mask ordinary words
    line = "token abcd1234-and-more, then abcd1234 and xyz?access_token=zzz&x=1"
    assert registry.redact(line) == "token ***, then *** and xyz?access_token=***&x=1"


def test_expiring_secrets_are_forgotten_after_their_ttl_permanent_ones_never() -> None:
    clock = FakeClock()
    registry = SecretRegistry(clock=clock)
    registry.register("app-secret-value")
    registry.register("token-one-value", ttl=100)
    clock.advance(50)
    registry.register("token-one-value", ttl=10)  # never shortens
    assert registry.redact("token-one-value app-secret-value") == "*** ***"
    clock.advance(51)
    assert registry.redact("token-one-value app-secret-value") == "token-one-value ***"
    assert registry.secrets() == 1


def test_at_most_max_expiring_tokens_are_kept_the_newest() -> None:
    registry = SecretRegistry(clock=FakeClock(), max_expiring=3)
    for i in range(5):
        registry.register(f"token-{i}-value", ttl=7200)
    assert registry.secrets() == 3
    assert registry.redact("token-1-value token-2-value") == "token-1-value ***"


def test_5000_token_rotations_keep_memory_flat() -> None:
    # Before: one bigger compiled alternation per token, each kept by re's cache (+171 MB for
    # 500 tokens). Now the number of live tokens is capped and nothing is cached per token.
    line = "GET https://api.weixin.qq.com/cgi-bin/comment/list?x=1 failed with {token}"

    def rotate(times: int) -> None:
        for _ in range(times):
            token = secrets.token_urlsafe(96)  # the length of a WeChat access token
            register_secret(token, ttl=7200)
            assert token not in redact(line.format(token=token))

    rotate(MAX_EXPIRING * 2)  # warm-up: the cap is reached
    gc.collect()
    before = rss_bytes()
    rotate(5000)
    gc.collect()
    growth = rss_bytes() - before
    assert growth < 4 << 20, f"RSS grew by {growth / 2**20:.1f} MiB over 5,000 rotations"
