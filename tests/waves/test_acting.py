"""Earlier wave members: claimed once, with the rule's actions (no reply)."""

from __future__ import annotations

import textwrap
from pathlib import Path

import redis

from worker.comment import Comment
from worker.rules import load_rules
from worker.waves.acting import follow_ups
from worker.waves.redis_state import RedisWaveState

AD = "加微信领取免费资料，限时优惠快来看看吧"


def test_follow_ups_are_claimed_once_with_the_rules_actions(
    tmp_path: Path, redis_client: redis.Redis
) -> None:
    (tmp_path / "r.yaml").write_text(textwrap.dedent("""
        version: 1
        rules:
          - id: wave
            when: {content: {repeated: {at_least: 3, within: 1h}}}
            then: [delete, blacklist, {notify: mods}]
    """).lstrip(), "utf-8")
    rules = load_rules([tmp_path / "r.yaml"], channels={"mods"})
    workers = [RedisWaveState(redis=redis_client), RedisWaveState(redis=redis_client)]
    got = []
    for i in range(5):
        comment = Comment(platform="wechat", id=str(i), content=AD + "!" * i, account="oa",
                          target=f"t{i % 2}", author=None if i == 1 else f"u{i}",
                          created_at=1000.0 + i)
        worker = workers[i % 2]
        decision = rules.evaluate(comment, waves=worker, now=2000.0)
        got.append(follow_ups(rules, worker, decision))
    assert [len(g) for g in got] == [0, 0, 2, 0, 0]
    first, second = got[2]
    assert (first.comment.id, first.comment.target, first.wave) == ("1", "t1", "wave:t0/2")
    assert [a.type for a in first.actions] == ["delete", "notify"]  # no author: no blacklist
    assert [a.type for a in second.actions] == ["delete", "blacklist", "notify"]
    assert second.comment.content == AD and second.comment.account == "oa"
