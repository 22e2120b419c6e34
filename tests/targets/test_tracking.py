"""After each poll: the temperature and bookkeeping; account listings split by post."""

from __future__ import annotations

import redis
from structlog.testing import capture_logs

from worker.comment import Comment
from worker.pipeline.keys import Keys
from worker.targets.book import PollBook
from worker.targets.policy import PollPolicy
from worker.targets.tracking import by_post, record_poll, wechat_full_pass_interval

POLICY = PollPolicy(interval=60, max_interval=240, retire_after=1000, full_pass_interval=900)


def test_record_poll_moves_the_temperature_and_counts(redis_client: redis.Redis) -> None:
    book = PollBook(redis=redis_client, keys=Keys(prefix="t"))
    tkey = "wechat:oa:1:0"
    assert record_poll(book, POLICY, account="oa", tkey=tkey, now=0.0, new=3).interval == 60
    assert record_poll(book, POLICY, account="oa", tkey=tkey, now=60.0, new=0).interval == 120
    assert wechat_full_pass_interval(book, POLICY, tkey) == 1800
    with capture_logs() as logs:
        temp = record_poll(book, POLICY, account="oa", tkey=tkey, now=1000.0, new=0, calls=3)
    assert temp.retired and [e["event"] for e in logs] == ["target_retired"]
    status = book.status(tkey)
    assert status.polls == 3 and status.temperature == temp


def test_by_post_groups_in_order_and_skips_comments_without_a_post() -> None:
    def c(cid: str, target: str | None) -> Comment:
        return Comment(platform="weibo", id=cid, content="x", account="wb", target=target)

    with capture_logs() as logs:
        groups = by_post([c("1", "10"), c("2", "20"), c("3", None), c("4", "10")])
    assert {k: [x.id for x in v] for k, v in groups.items()} == {"10": ["1", "4"], "20": ["2"]}
    assert [e["event"] for e in logs] == ["comment_without_post"]


def test_the_budget_gauges_are_set_by_the_polls(redis_client: redis.Redis) -> None:
    from prometheus_client import CollectorRegistry

    from worker import metrics
    from worker.targets.budget import Budget

    book = PollBook(redis=redis_client, keys=Keys(prefix="t"))
    book.set_budget("oa", Budget(limit=1000, used=100, measured_at=0.0, reset_at=3600.0,
                                 share=0.5), now=0.0)
    book.spend("oa", 50)
    registry = CollectorRegistry()
    metrics.enable(registry)
    try:
        record_poll(book, POLICY, account="oa", tkey="wechat:oa:1:0", now=1.0, new=2)
    finally:
        metrics.disable()
    assert registry.get_sample_value("modworker_poll_budget_calls", {"account": "oa"}) == 400
    assert registry.get_sample_value("modworker_poll_budget_limit", {"account": "oa"}) == 1000
    assert registry.get_sample_value("modworker_polls_total",
                                     {"account": "oa", "found": "new"}) == 1
