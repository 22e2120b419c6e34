"""The real daemon with a rule file broken under it: it keeps moderating with the last good
rules, through a reload and through a restart."""

from __future__ import annotations

import json
from pathlib import Path

import redis

from tests.pipeline.daemon_harness import (
    APP_ID,
    ARTICLE_A,
    SPAM_TEXTS,
    make_sandbox,
    start_daemon,
    write_config,
)
from tests.pipeline.test_rules_reload import BOMB as ALIAS_BOMB
from worker.pipeline.audit import AuditLog
from worker.pipeline.keys import Keys
from worker.redis_server import EmbeddedRedis
from worker.subprocesses import wait_for


def test_a_broken_rule_file_never_stops_moderation(tmp_path: Path) -> None:
    server = EmbeddedRedis(state_dir=tmp_path / "redis")
    server.start()
    try:
        with make_sandbox() as sandbox:
            config = write_config(tmp_path, sandbox.url, redis_url=server.url,
                                  extra="dry_run: true\n")
            client = redis.Redis.from_url(server.url)
            audit = AuditLog(redis=client, keys=Keys(prefix="mw"))
            log = tmp_path / "daemon.log"

            def spam_decided(cid: int) -> bool:
                found = audit.read(kind="decision", comment_id=str(cid), limit=5)
                return any(r["rules"] == ["spam"] for r in found)

            def add_spam() -> int:
                return sandbox.add_wechat_comment(APP_ID, ARTICLE_A, 0, content=SPAM_TEXTS[0],
                                                  openid="oSpammer00000000000000000001")

            daemon = start_daemon(config, log, processes=1, threads=2)
            try:
                first = add_spam()
                wait_for(lambda: spam_decided(first), timeout=60, what="the first spam",
                         child=daemon)
                (tmp_path / "rules" / "rules.yaml").write_text(ALIAS_BOMB, encoding="utf-8")
                wait_for(lambda: "rules_reload_failed" in daemon.log(), timeout=60,
                         what="the reload to fail", child=daemon)
                second = add_spam()
                wait_for(lambda: spam_decided(second), timeout=60,
                         what="spam after the broken reload", child=daemon)
            finally:
                assert daemon.stop() == 0

            # A restart with the file still broken starts from the last good rules.
            daemon = start_daemon(config, log, processes=1, threads=2)
            try:
                third = add_spam()
                wait_for(lambda: spam_decided(third), timeout=60,
                         what="spam after a restart on a broken file", child=daemon)
            finally:
                assert daemon.stop() == 0
            events = [json.loads(line) for line in log.read_text(encoding="utf-8").splitlines()
                      if line.startswith("{")]
            failed = [e for e in events if e.get("event") == "rules_reload_failed"]
            assert {e["kept"] for e in failed} == {"running", "last_good_snapshot"}
            assert all("aliases (*name) are not allowed" in " ".join(e["problems"])
                       for e in failed)
            client.close()
    finally:
        server.stop()
