from __future__ import annotations

import pytest
import redis

from tests.pipeline.conftest import FakeClock
from worker.pipeline.keys import Keys, target_key
from worker.pipeline.seen import SeenComments

T1 = target_key(platform="wechat", account="main", target="2247483650:0")
T2 = target_key(platform="weibo", account="brand", target="4890123456789012")


@pytest.fixture
def seen(redis_client: redis.Redis, clock: FakeClock) -> SeenComments:
    return SeenComments(redis=redis_client, max_entries=100, max_age=86400.0, clock=clock)


def test_filter_new_keeps_input_order_and_drops_duplicates(seen: SeenComments) -> None:
    assert seen.filter_new(T1, ["3", "1", "3", "2", "1"]) == ["3", "1", "2"]
    assert seen.filter_new(T1, []) == []


def test_marked_ids_are_no_longer_new_per_target(seen: SeenComments) -> None:
    seen.mark_seen(T1, ["1", "2"])
    assert seen.filter_new(T1, ["1", "2", "3"]) == ["3"]
    assert seen.filter_new(T2, ["1", "2"]) == ["1", "2"]  # another target


def test_crash_between_filter_and_mark_redelivers(seen: SeenComments) -> None:
    new = seen.filter_new(T1, ["1", "2"])
    # ... the process dies before enqueueing and marking ...
    assert seen.filter_new(T1, ["1", "2"]) == new


def test_trimmed_to_the_most_recently_listed_outside_the_listed_window(
    redis_client: redis.Redis, clock: FakeClock
) -> None:
    seen = SeenComments(redis=redis_client, max_entries=5, max_age=86400.0, listed_window=0.5,
                        clock=clock)
    for i in range(10):
        seen.mark_seen(T1, [str(i)])
        clock.advance(1)
    assert seen.seen_count(T1) == 5
    assert seen.filter_new(T1, [str(i) for i in range(10)]) == ["0", "1", "2", "3", "4"]


def test_trimmed_by_age_unless_still_listed(seen: SeenComments, clock: FakeClock) -> None:
    seen.mark_seen(T1, ["old", "still-listed"])
    clock.advance(43200)
    assert seen.filter_new(T1, ["still-listed"]) == []  # refreshes its last-listed time
    clock.advance(43201)  # "old" now last listed more than max_age ago
    seen.mark_seen(T1, ["new"])
    assert seen.filter_new(T1, ["old", "still-listed", "new"]) == ["old"]


def test_seen_set_expires(seen: SeenComments, redis_client: redis.Redis) -> None:
    seen.mark_seen(T1, ["1"])
    ttl = redis_client.ttl(Keys().seen(T1))
    assert 0 < ttl <= 86400


def test_cursor_set_get_and_advance_only_forward(seen: SeenComments) -> None:
    assert seen.get_cursor(T2) is None
    big = 2**60 + 1  # beyond what a Lua number holds exactly
    assert seen.advance_cursor(T2, big)
    assert not seen.advance_cursor(T2, big - 1)
    assert not seen.advance_cursor(T2, big)
    assert seen.get_cursor(T2) == str(big)
    assert seen.advance_cursor(T2, big + 1)
    assert seen.advance_cursor(T2 + "x", 5)
    assert not seen.advance_cursor(T2 + "x", 4)
    seen.set_cursor(T1, 1_700_000_000.25)
    assert seen.get_cursor(T1) == "1700000000.25"
    with pytest.raises(ValueError):
        seen.advance_cursor(T2, -1)


def test_gone_targets(seen: SeenComments, clock: FakeClock) -> None:
    assert not seen.is_target_gone(T1)
    seen.mark_target_gone(T1, "88001 文章不存在")
    assert seen.is_target_gone(T1)
    assert not seen.is_target_gone(T2)
    gone = seen.gone_targets()
    assert gone[T1].reason == "88001 文章不存在"
    assert gone[T1].at == clock.now
    assert seen.clear_target_gone(T1)
    assert not seen.is_target_gone(T1)


def test_forget_target(seen: SeenComments) -> None:
    seen.mark_seen(T1, ["1"])
    seen.set_cursor(T1, "9")
    seen.mark_target_gone(T1, "gone")
    seen.forget_target(T1)
    assert seen.filter_new(T1, ["1"]) == ["1"]
    assert seen.get_cursor(T1) is None
    assert not seen.is_target_gone(T1)


def test_never_trimmed_below_what_is_still_listed(
    redis_client: redis.Redis, clock: FakeClock
) -> None:
    # An article listing more comments than max_entries: a full pass marks them all within the
    # listed window, so none is dropped and comes back as new on the next poll.
    seen = SeenComments(redis=redis_client, max_entries=5, max_age=86400.0,
                        listed_window=600.0, clock=clock)
    listed = [str(i) for i in range(12)]
    for i in range(0, 12, 3):  # a full pass, page by page
        seen.mark_seen(T1, listed[i:i + 3])
        clock.advance(1)
    assert seen.seen_count(T1) == 12
    assert seen.filter_new(T1, listed) == []
    # Ids no longer listed (deleted) fall out beyond max_entries once the window has passed;
    # the ones still listed are kept, whatever their number.
    clock.advance(300)
    seen.filter_new(T1, listed[:8])  # the next pass lists only 8 of them
    clock.advance(400)
    seen.mark_seen(T1, ["new"])
    assert seen.seen_count(T1) == 9
    assert seen.filter_new(T1, [*listed, "new"]) == listed[8:]
