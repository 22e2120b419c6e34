"""The daemon end to end: real `modworker run` processes, real Redis, the sandbox over loopback.

Every test waits for outcomes with generous bounds and then checks the sandbox's own record of
calls: what was done, how often, and in which batch sizes.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest
import redis

from worker.pipeline.audit import AuditLog
from worker.pipeline.heartbeat import LEASE_SECONDS
from worker.pipeline.keys import Keys
from worker.redis_server import EmbeddedRedis
from worker.subprocesses import wait_for

from .daemon_harness import (
    APP_ID,
    ARTICLE_A,
    World,
    add_wechat,
    add_weibo,
    all_done,
    assert_exactly_once,
    blacklisted_in_calls,
    make_sandbox,
    ok_calls,
    ok_counts,
    start_daemon,
    write_config,
)

pytestmark = pytest.mark.slow

MUTATING = (
    "comment/delete", "comment/markelect", "comment/unmarkelect", "comment/reply/add",
    "comment/reply/delete", "comment/open", "comment/close", "tags/members/batchblacklist",
    "comments/destroy_batch/own/biz",
)


def test_every_action_exactly_once_and_new_comments_within_two_intervals(tmp_path: Path) -> None:
    with make_sandbox() as sandbox:
        world = World()
        add_wechat(sandbox, world, 150)
        add_weibo(sandbox, world, 50)
        config = write_config(tmp_path, sandbox.url, interval="2s")
        daemon = start_daemon(config, tmp_path / "daemon.log", processes=2, threads=4)
        try:
            wait_for(lambda: all_done(sandbox, world), timeout=90, what="the first wave",
                     child=daemon)
            # New comments while it runs: acted on within two poll intervals (+ slack).
            add_wechat(sandbox, world, 20, start=1000)
            add_weibo(sandbox, world, 10, start=1000)
            wait_for(lambda: all_done(sandbox, world), timeout=2 * 2 + 10,
                     what="comments added while running", child=daemon)
            time.sleep(2.5)  # one more poll: nothing happens twice
        finally:
            code = daemon.stop()
        assert code == 0, daemon.log()[-3000:]
        assert_exactly_once(sandbox, world)
        assert "Traceback" not in daemon.log()
        assert APP_ID and "wx-secret-for-daemon-tests" not in daemon.log()
        # Lines written while a message runs say which message, actor and worker process.
        lines = [json.loads(line) for line in daemon.log().splitlines() if line.startswith("{")]
        in_messages = [line for line in lines if "message_id" in line]
        assert {line["event"] for line in in_messages} >= {"action", "batch_sent"}
        assert {line.get("process") for line in in_messages} == {"worker-0", "worker-1"}
        assert all(line.get("actor") for line in in_messages)


def test_faults_token_invalidation_busy_502_and_a_quota_pause(tmp_path: Path) -> None:
    with make_sandbox() as sandbox:
        world = World()
        add_wechat(sandbox, world, 120)
        add_weibo(sandbox, world, 30)
        sandbox.faults.busy_probability = 0.1
        sandbox.faults.html_5xx_probability = 0.05
        sandbox.faults.quota = {"comment/reply/add": 3}
        config = write_config(tmp_path, sandbox.url, extra="quota: {pause: 2s}\n")
        daemon = start_daemon(config, tmp_path / "daemon.log", processes=1, threads=6)
        try:
            wait_for(lambda: len(ok_calls(sandbox, "comment/delete")) >= 5, timeout=60,
                     what="the first deletes", child=daemon)
            assert sandbox.invalidate_tokens(APP_ID) >= 1
            wait_for(
                lambda: any(c.errcode == 45009 for c in sandbox.calls("comment/reply/add")),
                timeout=60, what="the reply quota to run out", child=daemon,
            )
            sandbox.faults.quota = {}  # the platform's quota is back; our pause still holds 2s
            wait_for(lambda: all_done(sandbox, world), timeout=120, what="every action",
                     child=daemon)
            time.sleep(2)
        finally:
            code = daemon.stop()
        assert code == 0
        assert_exactly_once(sandbox, world)
        log = daemon.log()
        assert '"outcome": "deferred"' in log and '"errcode": 45009' in log
        assert sandbox.token_fetches(APP_ID) >= 2  # refreshed after the invalidation
        assert "wx-secret-for-daemon-tests" not in log and "2.00weibo-token" not in log


def test_sigkill_in_a_blacklist_batch_then_restart_loses_and_doubles_nothing(
    tmp_path: Path,
) -> None:
    with make_sandbox() as sandbox:
        world = World()
        add_wechat(sandbox, world, 200, spammers=70)
        sandbox.faults.latency = 0.05
        config = write_config(tmp_path, sandbox.url)
        log_path = tmp_path / "daemon.log"
        daemon = start_daemon(config, log_path, processes=1, threads=4)
        wait_for(lambda: len(sandbox.calls("tags/members/batchblacklist")) >= 1, timeout=60,
                 what="the first blacklist batch", child=daemon)
        daemon.kill()
        sent_before, _ = blacklisted_in_calls(sandbox)
        assert world.spammers - set(sent_before), "the kill came before every batch was sent"
        daemon = start_daemon(config, log_path, processes=1, threads=4)
        try:
            # An act call in flight at the kill holds its lease until it expires: only then
            # may another delivery call again (the ledger cannot know the call did not land).
            wait_for(lambda: all_done(sandbox, world), timeout=LEASE_SECONDS + 60,
                     what="every action after the restart", child=daemon)
            time.sleep(2)
        finally:
            assert daemon.stop() == 0
        counts, sizes = blacklisted_in_calls(sandbox)
        assert set(counts) == world.spammers and max(counts.values()) == 1
        assert max(sizes) <= 20
        deletes = ok_counts(sandbox, "comment/delete")
        assert set(deletes) == world.spam_wechat


def test_redis_restarted_mid_run_the_daemon_recovers_by_itself(tmp_path: Path) -> None:
    server = EmbeddedRedis(state_dir=tmp_path / "redis")
    server.start()
    try:
        with make_sandbox() as sandbox:
            world = World()
            add_wechat(sandbox, world, 60)
            config = write_config(tmp_path, sandbox.url, redis_url=server.url)
            daemon = start_daemon(config, tmp_path / "daemon.log", processes=1, threads=4)
            try:
                wait_for(lambda: all_done(sandbox, world), timeout=60, what="the first wave",
                         child=daemon)
                server.restart()
                add_wechat(sandbox, world, 30, start=500)
                wait_for(lambda: all_done(sandbox, world), timeout=90,
                         what="comments after the Redis restart", child=daemon)
            finally:
                assert daemon.stop() == 0
            assert_exactly_once_wechat = ok_counts(sandbox, "comment/delete")
            assert set(assert_exactly_once_wechat) == world.spam_wechat
            assert max(assert_exactly_once_wechat.values()) == 1
    finally:
        server.stop()


def test_dry_run_calls_no_mutating_api_and_audits_every_decision(tmp_path: Path) -> None:
    server = EmbeddedRedis(state_dir=tmp_path / "redis")
    server.start()
    try:
        with make_sandbox() as sandbox:
            world = World()
            add_wechat(sandbox, world, 90)
            add_weibo(sandbox, world, 30)
            config = write_config(tmp_path, sandbox.url, redis_url=server.url,
                                  extra="dry_run: true\n")
            client = redis.Redis.from_url(server.url)
            audit = AuditLog(redis=client, keys=Keys(prefix="mw"))
            daemon = start_daemon(config, tmp_path / "daemon.log", processes=1, threads=4)
            try:
                wait_for(lambda: len(audit.read(kind="decision", limit=1000)) >= 120,
                         timeout=60, what="a decision per comment", child=daemon)
                time.sleep(2)
            finally:
                assert daemon.stop() == 0
            for endpoint in MUTATING:
                assert sandbox.calls(endpoint) == [], endpoint
            decisions = audit.read(kind="decision", limit=1000)
            assert len({(d["target"], d["comment_id"]) for d in decisions}) == 120
            outcomes = {r["outcome"] for r in audit.read(kind="action", limit=1000)}
            assert outcomes == {"dry_run"}
            client.close()
    finally:
        server.stop()


def test_a_second_daemon_on_the_same_redis_never_doubles_polling(tmp_path: Path) -> None:
    server = EmbeddedRedis(state_dir=tmp_path / "redis")
    server.start()
    try:
        with make_sandbox() as sandbox:
            world = World()
            add_wechat(sandbox, world, 30)
            first_dir, second_dir = tmp_path / "one", tmp_path / "two"
            first_dir.mkdir()
            second_dir.mkdir()
            config_one = write_config(first_dir, sandbox.url, redis_url=server.url,
                                      interval="2s")
            config_two = write_config(second_dir, sandbox.url, redis_url=server.url,
                                      interval="2s")
            first = start_daemon(config_one, first_dir / "daemon.log")
            second = start_daemon(config_two, second_dir / "daemon.log")
            try:
                wait_for(lambda: all_done(sandbox, world), timeout=60, what="actions",
                         child=first)
                sandbox.reset_calls()
                time.sleep(8)
                lists = [c for c in sandbox.calls("comment/list")
                         if int(c.body["msg_data_id"]) == ARTICLE_A
                         and int(c.body.get("index", 0)) == 0]
                # one poll per 2 s interval (jitter 10 %), one page each: at most 5 in 8 s
                assert 2 <= len(lists) <= 5, len(lists)
                started = '"event": "scheduler_started"'
                assert (first.log() + second.log()).count(started) == 1
                assert (first.log() + second.log()).count('"event": "scheduler_waiting"') == 1
                holder, waiter = (first, second) if started in first.log() else (second, first)
                assert holder.stop() == 0
                wait_for(lambda: started in waiter.log(), timeout=30,
                         what="the waiting daemon to take over", child=waiter)
            finally:
                assert second.stop() == 0
                assert first.stop() == 0
            deletes = ok_counts(sandbox, "comment/delete")
            assert not deletes or max(deletes.values()) == 1
    finally:
        server.stop()


def test_a_second_daemon_on_the_same_embedded_redis_files_refuses_to_start(
    tmp_path: Path,
) -> None:
    with make_sandbox() as sandbox:
        config = write_config(tmp_path, sandbox.url)
        first = start_daemon(config, tmp_path / "one.log")
        try:
            wait_for(lambda: '"event": "daemon_started"' in first.log(), timeout=30,
                     what="the first daemon", child=first)
            second = start_daemon(config, tmp_path / "two.log")
            assert second.process.wait(60) == 3
            assert "already runs the embedded Redis" in second.log()
            assert first.process.poll() is None
        finally:
            assert first.stop() == 0
