"""Waves, bursts and notifications in the real daemon: two worker processes, a restart in the
middle of a wave, a DingTalk robot in the sandbox that checks signatures."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
import redis

from worker.pipeline.audit import AuditLog
from worker.pipeline.keys import Keys
from worker.redis_server import EmbeddedRedis
from worker.subprocesses import wait_for
from worker.waves.wave_rules import wave_rules

from .daemon_harness import (
    APP_ID,
    ARTICLE_A,
    ARTICLE_B,
    make_sandbox,
    ok_counts,
    start_daemon,
    write_config,
)

pytestmark = pytest.mark.slow

WAVE_RULES = wave_rules(at_least=5, notify="moderators")
AD = "加微信领取免费资料，限时优惠快来看看吧"
DING_TOKEN = "ding-daemon-token-41f0c2"
DING_SECRET = "SECding-daemon-secret-9e3b7a"


def _copy(i: int) -> str:
    """A copy with an emoji or a character added at the start or the end (two copies with
    additions in the middle of a 20-character text share less than 0.7 of their 3-grams)."""
    noise = ["😀", "🔥", "1", "！", "~", "呀", "哦"][i % 7]
    return noise + AD if i % 2 else AD + noise


def test_a_wave_across_workers_and_a_restart_is_cut_whole_and_told(tmp_path: Path) -> None:
    server = EmbeddedRedis(state_dir=tmp_path / "redis", appendonly=False)
    server.start()
    try:
        with make_sandbox() as sandbox:
            sandbox.robots.add("dingtalk", DING_TOKEN, DING_SECRET)
            config = write_config(tmp_path, sandbox.url, redis_url=server.url, interval="1s",
                                  extra=f"""
                notify:
                  interval: 1s
                  moderators:
                    type: dingtalk
                    url: {sandbox.url}/robot/send?access_token={DING_TOKEN}
                    secret: {DING_SECRET}
            """)
            (tmp_path / "rules" / "rules.yaml").write_text(WAVE_RULES, encoding="utf-8")
            copies = []
            for i in range(3):  # two articles, three accounts: no wave yet
                target = (ARTICLE_A, 0) if i % 2 else (ARTICLE_B, 0)
                cid = sandbox.add_wechat_comment(APP_ID, *target, content=_copy(i),
                                                 openid=f"oWave{i:024d}")
                copies.append((*target, cid))
            flood = [sandbox.add_wechat_comment(APP_ID, ARTICLE_A, 1, content=f"第{i}条不一样的话",
                                                openid="oFlooder" + "0" * 20) for i in range(4)]
            audit = AuditLog(redis=redis.Redis.from_url(server.url), keys=Keys())

            def decided(ids: set[int]) -> bool:
                records = audit.read(kind="decision", limit=10_000)
                return ids <= {int(r["comment_id"]) for r in records}

            first = start_daemon(config, tmp_path / "daemon1.log", processes=2, threads=4)
            try:
                wait_for(lambda: decided({c for *_, c in copies}), timeout=60,
                         what="the first three copies decided", child=first)
            finally:
                assert first.stop() == 0, first.log()[-3000:]
            assert not ok_counts(sandbox, "comment/delete").keys() & set(copies)

            for i in range(3, 6):  # the wave goes on while the daemon is down
                cid = sandbox.add_wechat_comment(APP_ID, ARTICLE_A, 0, content=_copy(i),
                                                 openid=f"oWave{i:024d}")
                copies.append((ARTICLE_A, 0, cid))
            second = start_daemon(config, tmp_path / "daemon2.log", processes=2, threads=4)
            try:
                wait_for(lambda: set(copies) <= set(ok_counts(sandbox, "comment/delete")),
                         timeout=60, what="every copy deleted, the first ones too",
                         child=second)
                robot = sandbox.robots.get("dingtalk", DING_TOKEN)
                wait_for(lambda: any("copy-paste-wave" in json.dumps(m["body"],
                                                                       ensure_ascii=False)
                                       for m in robot.received),
                         timeout=30, what="the digest", child=second)
            finally:
                assert second.stop() == 0, second.log()[-3000:]
            deletes = ok_counts(sandbox, "comment/delete")
            assert max(deletes[c] for c in copies) == 1
            # The flooder's comment decided last (the 4th in 10 minutes), and only that one.
            assert sum(deletes[(ARTICLE_A, 1, f)] for f in flood) == 1
            assert robot.rejected == 0
            text = "\n".join(m["body"]["markdown"]["text"] for m in robot.received)
            told = re.findall(r"\*\*copy-paste-wave\*\*: (\d+) comment", text)
            assert sum(map(int, told)) == 6  # in one digest or two, each copy once
            waves = audit.read(kind="wave", limit=100)
            members = {int(r["comment_id"]) for r in waves}
            # The 5th copy decided cut the four decided before it, the first three included.
            assert len(waves) == 4 and {c for *_, c in copies[:3]} <= members
            assert len({r["wave"] for r in waves}) == 1
            log = first.log() + second.log()
            assert "Traceback" not in log and DING_SECRET not in log and DING_TOKEN not in log
    finally:
        server.stop()
