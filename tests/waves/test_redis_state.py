"""Wave and burst state in a real Redis: windows, idempotence, two processes, claims."""

from __future__ import annotations

import json
import multiprocessing
import random
from collections.abc import Callable
from typing import Any

import pytest
import redis

from tests.waves import _procs
from worker.comment import Comment
from worker.pipeline._redis import text_hash
from worker.redis_server import EmbeddedRedis
from worker.waves import minhash
from worker.waves.redis_state import RedisWaveState
from worker.waves.state import Member, MemoryWaveState, WaveQuery, WaveState

T0 = 1_700_000_000.0
AD = "加微信领取免费资料限时优惠快来看看吧"
QUERY = WaveQuery(repeated_within=3600.0, similarity=0.7, burst_within=600.0,
                  burst_windows=(250.0, 600.0))


def _comment(cid: str, text: str, at: float, author: str | None = None,
             account: str = "main") -> Comment:
    return Comment(platform="wechat", id=cid, content=text, account=account, target="t:0",
                   author=author or f"u{cid}", created_at=at)


@pytest.fixture(params=["redis", "memory"])
def state(request: pytest.FixtureRequest, redis_client: redis.Redis) -> WaveState:
    if request.param == "redis":
        return RedisWaveState(redis=redis_client)
    return MemoryWaveState()


def test_near_duplicates_within_the_window_are_seen(state: WaveState) -> None:
    state.observe(_comment("1", AD, T0), AD, QUERY, now=T0)
    state.observe(_comment("2", AD + "😀", T0 + 60), AD + "😀", QUERY, now=T0)
    state.observe(_comment("3", "今天天气真好我们一起去公园散步吧", T0 + 70),
                  "今天天气真好我们一起去公园散步吧", QUERY, now=T0)
    seen = state.observe(_comment("4", "加微信领取免费资料限时优惠快来看看", T0 + 120),
                         "加微信领取免费资料限时优惠快来看看", QUERY, now=T0)
    assert [m.id for m in seen.near] == ["2", "1"]  # newest first, the unrelated one left out
    assert all(m.similarity >= 0.7 for m in seen.near)
    assert seen.near[0].target == "t:0"
    never = Member("9", "t:0", "u9", T0 + 100, "")
    texts = state.contents(platform="wechat", account="main", members=[seen.near[0], never],
                           within=3600.0)
    assert texts == {"t:0/2": AD + "😀"}  # the text as written, read when a wave acts
    assert len(seen.repeated(within=3600.0, similarity=0.7)) == 2
    assert len(seen.repeated(within=90.0, similarity=0.7)) == 1
    assert [m.id for m in seen.repeated(within=3600.0, similarity=0.9)] == ["1"]  # 16/17 and 16/18


def test_windows_expire_and_accounts_are_apart(state: WaveState) -> None:
    state.observe(_comment("1", AD, T0), AD, QUERY, now=T0)
    state.observe(_comment("2", AD, T0 + 10, account="other"), AD, QUERY, now=T0)
    late = state.observe(_comment("3", AD, T0 + 3601), AD, QUERY, now=T0)
    assert late.near == ()
    again = state.observe(_comment("4", AD, T0 + 3602), AD, QUERY, now=T0)
    assert [m.id for m in again.near] == ["3"]


def test_burst_counts_the_authors_comments_in_the_window(state: WaveState) -> None:
    for i in range(5):
        seen = state.observe(_comment(str(i), f"第{i}条评论内容不同{i * 7}", T0 + i * 100, "a"),
                             f"第{i}条评论内容不同{i * 7}", QUERY, now=T0)
    assert seen.burst(within=600.0) == 5
    assert seen.burst(within=250.0) == 3
    other = state.observe(_comment("9", "别人的评论", T0 + 400, "b"), "别人的评论", QUERY, now=T0)
    assert other.burst(within=600.0) == 1
    late = state.observe(_comment("10", "很久以后", T0 + 1500, "a"), "很久以后", QUERY, now=T0)
    assert late.burst(within=600.0) == 1  # the earlier ones fell out of the window


def test_burst_counts_only_comments_within_one_window_of_each_other(state: WaveState) -> None:
    # Decided out of order (two articles polled apart, pages newest first), the author's
    # comment at 9 min comes last: its six others, 3 minutes apart, are all within 10
    # minutes of it on one side or the other, but no 10 minutes hold more than four.
    order = (18, 15, 12, 0, 3, 6, 9)
    seen = [state.observe(_comment(str(m), f"第{m}条", T0 + m * 60, "a"), f"第{m}条", QUERY,
                          now=T0) for m in order]
    assert [s.burst(within=600.0) for s in seen] == [1, 2, 3, 1, 2, 3, 4]
    assert [s.burst(within=250.0) for s in seen] == [1, 2, 2, 1, 2, 2, 2]


def test_observing_a_comment_twice_counts_it_once(state: WaveState) -> None:
    state.observe(_comment("1", AD, T0), AD, QUERY, now=T0)
    state.observe(_comment("2", AD, T0 + 5, "a"), AD, QUERY, now=T0)
    again = state.observe(_comment("2", AD, T0 + 5, "a"), AD, QUERY, now=T0)
    assert [m.id for m in again.near] == ["1"]
    assert again.burst(within=600.0) == 1


def test_redis_state_expires_with_ttl(redis_client: redis.Redis) -> None:
    state = RedisWaveState(redis=redis_client)
    state.observe(_comment("1", AD, T0, "a"), AD, QUERY, now=T0)
    keys = redis_client.keys("mw:wave:*")
    assert keys
    assert all(0 < redis_client.ttl(k) <= 2 * 3600 + 60 for k in keys)


def _run(redis_server: EmbeddedRedis, target: Callable[..., None],
         args_per_proc: list[tuple[object, ...]]) -> list[dict[str, Any]]:
    ctx = multiprocessing.get_context("spawn")
    start = ctx.Barrier(len(args_per_proc))
    procs = [ctx.Process(target=target, args=(redis_server.url, start, *args))
             for args in args_per_proc]
    for p in procs:
        p.start()
    for p in procs:
        p.join(120)
        assert p.exitcode == 0
    client = redis.Redis.from_url(redis_server.url)
    try:
        return [json.loads(r) for r in client.lrange(_procs.RESULTS_KEY, 0, -1)]
    finally:
        client.close()


def test_a_wave_split_across_two_processes_is_seen_whole(
    redis_server: EmbeddedRedis, redis_client: redis.Redis
) -> None:
    rnd = random.Random(3)
    comments = []
    for i in range(40):
        text = AD[:10] + rnd.choice("😀🔥12") + AD[10:]
        comments.append(_comment(str(i), text, T0 + i, author="same" if i % 2 else None).to_dict())
    results = _run(redis_server, _procs.observe_many, [(comments[0::2],), (comments[1::2],)])
    assert len(results) == 40
    # Whatever the interleaving, the last copy each process observed sees (nearly) every
    # other copy, from both processes; one author's 20 comments count as one burst.
    by_id = {r["id"]: r for r in results}
    last = max(results, key=lambda r: len(r["near"]))
    assert len(last["near"]) >= 36
    assert {int(i) % 2 for i in last["near"]} == {0, 1}
    assert max(r["burst"] for r in by_id.values() if int(r["id"]) % 2) == 20


def test_claims_are_won_once_by_two_processes_at_once(
    redis_server: EmbeddedRedis, redis_client: redis.Redis
) -> None:
    ids = [str(i) for i in range(30)]
    results = _run(redis_server, _procs.claim_wave,
                   [(ids, "wave:a"), (list(reversed(ids)), "wave:b")])
    assert len(results) == 2
    won = [i for r in results for i in r["new"]]
    assert sorted(won) == sorted(ids)
    waves = {r["wave"] for r in results}
    assert len(waves) == 1  # the loser joined the winner's wave


def test_a_restarted_worker_sees_the_wave_so_far(redis_client: redis.Redis) -> None:
    RedisWaveState(redis=redis_client).observe(_comment("1", AD, T0), AD, QUERY, now=T0)
    fresh = RedisWaveState(redis=redis.Redis(connection_pool=redis_client.connection_pool))
    seen = fresh.observe(_comment("2", AD, T0 + 1), AD, QUERY, now=T0)
    assert [m.id for m in seen.near] == ["1"]


def test_the_same_comment_id_on_two_articles_is_two_comments(state: WaveState) -> None:
    # WeChat comment ids count per article: comment 1 of one article is not comment 1 of
    # another (the daemon test found a wave short of its copies when they were one).
    first = Comment(platform="wechat", id="1", content=AD, account="main", target="a:0",
                    author="u1", created_at=T0)
    other = Comment(platform="wechat", id="1", content=AD, account="main", target="b:0",
                    author="u2", created_at=T0 + 1)
    state.observe(first, AD, QUERY, now=T0)
    seen = state.observe(other, AD, QUERY, now=T0)
    assert [(m.id, m.target) for m in seen.near] == [("1", "a:0")]


def test_a_page_observed_in_one_round_trip_sees_itself_in_order(
    redis_client: redis.Redis,
) -> None:
    state = RedisWaveState(redis=redis_client)
    page = [(_comment(str(i), AD + "!" * i, T0 + i, author="same"), AD + "!" * i)
            for i in range(4)]
    seen = state.observe_many(page, QUERY, now=T0)
    assert [sorted(m.id for m in s.near) for s in seen] == [[], ["0"], ["0", "1"],
                                                            ["0", "1", "2"]]
    assert [s.burst(within=600.0) for s in seen] == [1, 2, 3, 4]
    assert state.observe_many([], QUERY, now=T0) == []


def _commands(client: redis.Redis) -> dict[str, int]:
    return {name: int(stats["calls"]) for name, stats in client.info("commandstats").items()}


def test_a_page_is_one_script_call_of_hash_lookups(redis_client: redis.Redis) -> None:
    state = RedisWaveState(redis=redis_client)
    state.observe(_comment("0", AD, T0), AD, QUERY, now=T0)  # the script is loaded
    page = [(_comment(str(i), AD + str(i), T0 + i, author=f"a{i % 3}"), AD + str(i))
            for i in range(1, 50)]
    before = _commands(redis_client)
    seen = state.observe_many(page, QUERY, now=T0)
    after = _commands(redis_client)
    sent = {name: after[name] - before.get(name, 0) for name in after
            if after[name] != before.get(name, 0) and name.startswith("cmdstat_")}
    # the page's own command (EVALSHA) plus the INFO that reads these statistics
    assert sent.pop("cmdstat_evalsha") == 1
    sent.pop("cmdstat_info", None)
    assert set(sent) <= {f"cmdstat_{c}" for c in (
        "exists", "hmget", "hset", "expire", "zadd", "zrangebyscore", "zremrangebyscore")}
    # per comment: the bands of the epochs that exist (one here) and the candidates'
    # records (one HMGET each at most), its own HSET, the burst set: no range scan of the
    # bands, no trimming of them; one EXISTS per epoch for the whole page
    assert sent["cmdstat_exists"] <= 3
    assert sent["cmdstat_hmget"] <= 49 * 2
    assert sent["cmdstat_hset"] == 49
    assert len(seen[-1].near) == 49
    assert [s.burst(within=600.0) for s in seen[:6]] == [1, 1, 1, 2, 2, 2]


def test_a_large_wave_keeps_its_band_buckets_short_and_sees_its_newest_copies(
    redis_client: redis.Redis,
) -> None:
    state = RedisWaveState(redis=redis_client)
    query = WaveQuery(repeated_within=3600.0, similarity=0.7, most=5)  # 20 candidates
    page = [(_comment(str(i), AD, T0 + i), AD) for i in range(300)]
    seen = state.observe_many(page, query, now=T0)
    assert len(seen[-1].near) == 20
    assert {str(i) for i in range(281, 299)} <= {m.id for m in seen[-1].near}  # the newest
    [epoch] = redis_client.keys("mw:wave:*:w:*")
    buckets = [v for k, v in text_hash(redis_client.hgetall(epoch)).items() if k[:1] not in "rm"]
    assert len(buckets) == minhash.BANDS  # identical texts share every band
    assert all(len(v.split("\x1e")) <= 2 * 20 + 2 for v in buckets)


def test_a_short_name_keeps_as_many_candidates_as_a_long_one(redis_client: redis.Redis) -> None:
    # The bucket is cut back by count: a comment with a short name must not cut a bucket of
    # long names to the bytes of its own cap.
    state = RedisWaveState(redis=redis_client)
    query = WaveQuery(repeated_within=3600.0, similarity=0.7, most=5)  # 20 candidates
    long_target = "2247483650123456789012345678901234567890:0"
    page = [(Comment(platform="wechat", id=str(1_000_000 + i), content=AD, account="main",
                     target=long_target, author=f"u{i}", created_at=T0 + i), AD)
            for i in range(100)]
    state.observe_many(page, query, now=T0)
    short = Comment(platform="wechat", id="1", content=AD, account="main", target=None,
                    author="v", created_at=T0 + 200)
    state.observe(short, AD, query, now=T0)
    again = Comment(platform="wechat", id="2", content=AD, account="main", target=None,
                    author="w", created_at=T0 + 201)
    assert len(state.observe(again, AD, query, now=T0).near) == 20
