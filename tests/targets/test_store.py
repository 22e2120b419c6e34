"""The runtime target store and the poll book, on a real Redis."""

from __future__ import annotations

import redis

from worker.config import ACCOUNT_LISTING, load_config_text
from worker.pipeline.freshness import Freshness
from worker.pipeline.keys import Keys, target_key
from worker.targets.book import PollBook
from worker.targets.budget import Budget
from worker.targets.planner import AccountBudget
from worker.targets.policy import PollPolicy, Temperature, after_poll
from worker.targets.store import TargetStore, watched

ENV = {"S": "secret", "T": "2.00token"}
CONFIG = load_config_text(
    "accounts:\n"
    "  - {name: oa, platform: wechat, app_id: wx1, app_secret: '${S}',\n"
    "     targets: [{msg_data_id: 100, index: 0}]}\n"
    "  - {name: wb, platform: weibo, access_token: '${T}'}\n",
    environ=ENV,
)
KEYS = Keys(prefix="t")


def test_config_added_and_discovered_targets_merge(redis_client: redis.Redis) -> None:
    store = TargetStore(redis=redis_client, keys=KEYS)
    assert [(t.account, t.key, t.source) for t in watched(CONFIG, store)] == [
        ("oa", "100:0", "config"), ("wb", ACCOUNT_LISTING, "config"),
    ]
    assert store.add("oa", "200:1", now=10.0)
    assert not store.add("oa", "200:1", now=11.0)  # watched already
    added, dropped = store.set_discovered("oa", {"300:0": 5.0, "100:0": 5.0}, now=12.0)
    assert (added, dropped) == (["300:0", "100:0"], [])
    rows = [(t.key, t.source) for t in watched(CONFIG, store) if t.account == "oa"]
    assert rows == [("100:0", "config"), ("200:1", "added"), ("300:0", "discovered")]
    # 300:0 ages out of the window; an added target never does
    added, dropped = store.set_discovered("oa", {"100:0": 5.0}, now=13.0)
    assert (added, dropped) == ([], ["300:0"])
    assert [t.key for t in watched(CONFIG, store) if t.account == "oa"] == ["100:0", "200:1"]


def test_remove_stops_and_add_revives_even_a_config_target(redis_client: redis.Redis) -> None:
    store = TargetStore(redis=redis_client, keys=KEYS)
    store.remove("oa", "100:0", now=20.0)
    assert [t.key for t in watched(CONFIG, store) if t.account == "oa"] == []
    listed = [t for t in watched(CONFIG, store, include_removed=True) if t.account == "oa"]
    assert [(t.key, t.source, t.removed) for t in listed] == [("100:0", "config", True)]
    again = TargetStore(redis=redis_client, keys=KEYS)  # a restart reads the same
    assert [t.key for t in watched(CONFIG, again) if t.account == "oa"] == []
    assert again.add("oa", "100:0", now=30.0)
    assert [t.key for t in watched(CONFIG, again) if t.account == "oa"] == ["100:0"]
    # a discovery that finds a removed article does not bring it back
    store.remove("oa", "400:0", now=31.0)
    assert store.set_discovered("oa", {"400:0": 1.0}, now=32.0) == ([], [])
    assert "400:0" not in [t.key for t in watched(CONFIG, store)]


def test_poll_book_read_api(redis_client: redis.Redis) -> None:
    """The temperature is the book's; when the last poll ended and the comments seen are the
    freshness record's (the poll actor writes both), not kept twice."""
    book = PollBook(redis=redis_client, keys=KEYS)
    freshness = Freshness(redis=redis_client, keys=KEYS)
    where = {"account": "oa", "platform": "wechat", "target": "100:0"}
    tkey = target_key(**where)
    policy = PollPolicy()
    status = book.status(tkey)
    assert status.temperature is None and status.last_poll is None and status.seen == 0
    assert status.state(policy) == "hot"
    temp = book.temperature(tkey, policy, now=100.0)
    assert temp == Temperature(interval=60.0, last_new=100.0)
    temp = after_poll(policy, temp, now=160.0, new_comments=4)
    book.polled(tkey, temp)
    freshness.poll_succeeded(**where, new_comments=4, at=160.0)
    assert book.status(tkey).temperature == temp  # the comment rate kept too
    assert temp.rate > 0 and temp.rated_at == 160.0
    book.sent(tkey, now=160.0, next_poll=220.0)
    for at in (220.0, 340.0, 580.0, 1060.0, 2020.0):
        temp = after_poll(policy, temp, now=at, new_comments=0)
        book.polled(tkey, temp)
        freshness.poll_succeeded(**where, new_comments=0, at=at)
    status = book.status(tkey)
    assert (status.last_poll, status.next_poll, status.seen, status.polls) == (2020.0, 220.0, 4, 6)
    assert status.temperature == temp and status.state(policy) == "cold"
    assert status.sent_at == 160.0
    assert book.statuses([tkey, "nope"])[tkey] == status
    for duplicate in ("last_poll", "seen"):  # one copy, in the freshness record
        assert not redis_client.hexists(KEYS.target_status(tkey), duplicate)
    assert status.state(policy, gone=True) == "gone"
    assert status.state(policy, removed=True) == "removed"
    book.revive("wechat:oa:100:0", policy, now=3000.0)
    revived = book.status("wechat:oa:100:0")
    assert revived.state(policy) == "hot" and revived.next_poll == 3000.0
    assert revived.sent_at is None  # due at once


def test_budget_and_spend(redis_client: redis.Redis) -> None:
    book = PollBook(redis=redis_client, keys=KEYS)
    assert book.budget("oa") is None
    budget = Budget(limit=1000, used=10, measured_at=5.0, reset_at=86400.0, share=0.5)
    assert book.set_budget("oa", budget, now=5.0) == AccountBudget(
        budget=budget, spent=0.0, carry=5.0
    )
    book.spend("oa")
    book.spend("oa", 2)
    assert book.budget("oa") == AccountBudget(budget=budget, spent=3.0, carry=5.0)
    # re-measured at once: the new bucket starts with the 2 calls left, not a new burst
    again = Budget(limit=1000, used=13, measured_at=5.0, reset_at=86400.0, share=0.5)
    measured = book.set_budget("oa", again, now=5.0)
    assert measured.carry == 2.0 and measured.budget.polled == 3.0  # counted on in the window
    assert book.budget("oa") == measured
    next_day = Budget(limit=1000, used=0, measured_at=86400.0, reset_at=172800.0, share=0.5)
    assert book.set_budget("oa", next_day, now=86400.0) == AccountBudget(
        budget=next_day, spent=0.0, carry=5.0
    )
