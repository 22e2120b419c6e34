"""Targets that manage themselves, end to end: the real daemon against the sandbox.

Weibo's whole-account listing, WeChat discovery with datacube, `modworker targets add` and
`remove` while the daemon runs and across a restart, and a small daily limit that polling
never exhausts while actions still get quota.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.pipeline.daemon_harness import (
    APP_ID,
    APP_SECRET,
    RULES,
    WEIBO_TOKEN,
    start_daemon,
)
from worker.sandbox import Sandbox
from worker.sandbox.calls import CallRecord
from worker.subprocesses import DaemonProcess, wait_for

UID = 1001
SPAM = "加v：abc123456 领资料"
LINK = "https://mp.weixin.qq.com/s?__biz=MzA3MDM3NjE5NQ==&mid={mid}&idx={idx}&sn=0f&chksm=1#rd"


@pytest.fixture
def sandbox() -> Iterator[Sandbox]:
    with Sandbox(port=0, seed=7) as sb:
        sb.add_wechat_app(app_id=APP_ID, app_secret=APP_SECRET)
        sb.add_weibo_token(access_token=WEIBO_TOKEN, uid=UID)
        yield sb


def write_config(directory: Path, url: str, *, wechat: str | None = "", weibo: str | None = "",
                 polling: str = "interval: 1s", quota: str = "") -> Path:
    rules = directory / "rules"
    rules.mkdir(exist_ok=True)
    (rules / "rules.yaml").write_text(RULES, encoding="utf-8")
    accounts = ""
    if wechat is not None:
        accounts += (
            f"\n  - name: oa\n    platform: wechat\n    app_id: {APP_ID}\n"
            f"    app_secret: ${{TEST_WX_SECRET}}\n    api_base: {url}\n"
            + textwrap.indent(textwrap.dedent(wechat), "    ")
        )
    if weibo is not None:
        accounts += (
            f"\n  - name: wb\n    platform: weibo\n    access_token: ${{TEST_WB_TOKEN}}\n"
            f"    api_base: {url}\n" + textwrap.indent(textwrap.dedent(weibo), "    ")
        )
    config = directory / "config.yaml"
    config.write_text(
        f"redis: {{url: null}}\nstate_dir: {directory / 'var'}\nrules: [rules/]\n"
        f"polling: {{{polling}, full_pass_interval: 2s}}\n"
        "actions: {max_retries: 20, min_backoff: 100ms, max_backoff: 1s, batch_max_wait: 1s}\n"
        + (f"quota: {{{quota}}}\n" if quota else "")
        + "accounts:" + accounts,
        encoding="utf-8",
    )
    return config


def targets_cli(config: Path, *argv: str) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ, TEST_WX_SECRET=APP_SECRET, TEST_WB_TOKEN=WEIBO_TOKEN)
    return subprocess.run(
        [sys.executable, "-m", "worker.cli", "targets", *argv, "-c", str(config)],
        capture_output=True, text=True, env=env, timeout=60, check=False,
    )


def listed_targets(config: Path) -> dict[str, dict[str, object]]:
    result = targets_cli(config, "list")
    assert result.returncode == 0, result.stderr
    return {json.loads(line)["target"]: json.loads(line) for line in result.stdout.splitlines()}


def list_calls(sandbox: Sandbox, msg_data_id: int) -> list[CallRecord]:
    return [c for c in sandbox.calls("comment/list") if int(c.body["msg_data_id"]) == msg_data_id]


def stopped(daemon: DaemonProcess) -> None:
    assert daemon.stop() == 0, daemon.log()[-3000:]


def test_weibo_account_listing_moderates_every_post_none_configured(
    tmp_path: Path, sandbox: Sandbox
) -> None:
    posts = (101, 102, 103)
    for status in posts:
        sandbox.add_weibo_post(WEIBO_TOKEN, status_id=status)
    # 60 new comments before the first poll: more than a page (50), paged back with max_id
    spam = [sandbox.add_weibo_comment(posts[i % 3], text=SPAM, uid=7000 + i) for i in range(60)]
    ordinary = [sandbox.add_weibo_comment(posts[i % 3], text="学习了", uid=8000 + i)
                for i in range(6)]
    config = write_config(tmp_path, sandbox.url, wechat=None, weibo="")
    daemon = start_daemon(config, tmp_path / "daemon.log")
    try:
        wait_for(lambda: all(sandbox.weibo_comment(c)["deleted"] for c in spam),
                 timeout=90, what="every spam comment on three posts destroyed", child=daemon)
        later = [sandbox.add_weibo_comment(posts[i % 3], text=SPAM, uid=9000 + i)
                 for i in range(4)]
        wait_for(lambda: all(sandbox.weibo_comment(c)["deleted"] for c in later),
                 timeout=60, what="later spam destroyed", child=daemon)
        rows = listed_targets(config)
    finally:
        stopped(daemon)
    assert not any(sandbox.weibo_comment(c)["deleted"] for c in ordinary)
    to_me = sandbox.calls("comments/to_me/biz")
    assert not sandbox.calls("comments/show")  # no post configured, none listed one by one
    first_pass = [c for c in to_me if "max_id" in c.query]
    assert first_pass, "the full first page was followed by a page back with max_id"
    since = [int(c.query["since_id"]) for c in to_me if c.query.get("since_id")]
    assert since and since == sorted(since) and since[-1] >= max(spam)  # since_id advances
    destroyed = {cid for call in sandbox.calls("comments/destroy_batch/own/biz")
                 for cid in str(call.body.get("cids", "")).split(",") if cid}
    assert {str(c) for c in spam + later} <= destroyed
    assert rows["account listing"]["source"] == "config"
    assert rows["account listing"]["comments_seen"] == 70


def test_discovery_finds_recent_articles_and_targets_add_watches_todays(
    tmp_path: Path, sandbox: Sandbox
) -> None:
    now = sandbox.now()
    sandbox.publish_articles(APP_ID, msg_data_id=5001, count=2, at=now - 86400)
    sandbox.publish_articles(APP_ID, msg_data_id=5002, at=now - 2 * 86400)
    sandbox.publish_articles(APP_ID, msg_data_id=5003, at=now - 9 * 86400)  # outside 3 days
    second = sandbox.add_wechat_comment(APP_ID, 5001, 1, content=SPAM, openid="oSpam1")
    older = sandbox.add_wechat_comment(APP_ID, 5002, 0, content=SPAM, openid="oSpam2")
    sandbox.add_wechat_comment(APP_ID, 5003, 0, content=SPAM, openid="oSpam3")
    sandbox.add_follower(APP_ID, "oSpam1", "oSpam2", "oSpam3", "oSpam4")
    config = write_config(tmp_path, sandbox.url, wechat="discover: 3d\n", weibo=None)
    daemon = start_daemon(config, tmp_path / "daemon.log")
    try:
        wait_for(lambda: sandbox.wechat_comment(APP_ID, 5001, 1, second)["deleted"]
                 and sandbox.wechat_comment(APP_ID, 5002, 0, older)["deleted"],
                 timeout=60, what="spam on discovered articles deleted (index 1 too)",
                 child=daemon)
        sandbox.publish_articles(APP_ID, msg_data_id=5004, count=1)  # today's mass send
        added = targets_cli(config, "add", "--account", "oa", LINK.format(mid=5004, idx=1))
        assert added.returncode == 0, added.stderr
        today = sandbox.add_wechat_comment(APP_ID, 5004, 0, content=SPAM, openid="oSpam4")
        wait_for(lambda: sandbox.wechat_comment(APP_ID, 5004, 0, today)["deleted"],
                 timeout=30, what="today's article, added by link, moderated", child=daemon)
        rows = listed_targets(config)
    finally:
        stopped(daemon)
    assert not list_calls(sandbox, 5003), "an article older than the window is not polled"
    assert {k: rows[k]["source"] for k in ("5001:0", "5001:1", "5002:0", "5004:0")} == {
        "5001:0": "discovered", "5001:1": "discovered", "5002:0": "discovered",
        "5004:0": "added",
    }
    assert "5003:0" not in rows
    assert len(sandbox.calls("datacube/getarticlesummary")) == 3  # one call a day of the window


def test_targets_add_while_running_survives_a_restart_and_remove_stops_polling(
    tmp_path: Path, sandbox: Sandbox
) -> None:
    sandbox.add_article(APP_ID, msg_data_id=7001)
    sandbox.add_follower(APP_ID, "oSpamA", "oSpamB")
    config = write_config(tmp_path, sandbox.url, wechat="targets: [{msg_data_id: 7001}]\n",
                          weibo=None,
                          polling="interval: 1s, max_interval: 3s")
    daemon = start_daemon(config, tmp_path / "daemon.log")
    try:
        wait_for(lambda: bool(list_calls(sandbox, 7001)), timeout=60, what="first poll",
                 child=daemon)
        sandbox.add_article(APP_ID, msg_data_id=7002)
        assert targets_cli(config, "add", "--account", "oa", "7002").returncode == 0
        added_at = sandbox.now()
        # first poll within 5 s + one interval (1 s); generous for a loaded machine
        wait_for(lambda: bool(list_calls(sandbox, 7002)), timeout=30,
                 what="the added target polled without a restart", child=daemon)
        first = min(c.time for c in list_calls(sandbox, 7002))
        assert first - added_at <= 6 + 10  # 5 s + an interval, with room for a loaded host
    finally:
        stopped(daemon)
    daemon = start_daemon(config, tmp_path / "daemon2.log")
    try:
        spam = sandbox.add_wechat_comment(APP_ID, 7002, 0, content=SPAM, openid="oSpamA")
        wait_for(lambda: sandbox.wechat_comment(APP_ID, 7002, 0, spam)["deleted"],
                 timeout=60, what="the added target still polled after a restart",
                 child=daemon)
        assert targets_cli(config, "remove", "--account", "oa", "7002").returncode == 0
        wait_for(lambda: listed_targets(config)["7002:0"]["state"] == "removed",
                 timeout=10, what="removed in the list")
        # a poll of 7002 sent before the scheduler read the store again (every 2 s) may still
        # run: let three polls of the other target go by first
        before = len(list_calls(sandbox, 7001))
        wait_for(lambda: len(list_calls(sandbox, 7001)) >= before + 3, timeout=60,
                 what="the scheduler past the removal", child=daemon)
        sandbox.reset_calls()
        kept = sandbox.add_wechat_comment(APP_ID, 7002, 0, content=SPAM, openid="oSpamB")
        wait_for(lambda: len(list_calls(sandbox, 7001)) >= 4, timeout=60,
                 what="a few more polls of the other target", child=daemon)
        removed = listed_targets(config)["7002:0"]
    finally:
        stopped(daemon)
    assert not list_calls(sandbox, 7002), "a removed target is not polled"
    assert not sandbox.wechat_comment(APP_ID, 7002, 0, kept)["deleted"]
    assert removed["comments_seen"] == 1 and removed["source"] == "added"  # history kept


def test_a_small_daily_limit_is_never_exhausted_and_actions_still_get_quota(
    tmp_path: Path, sandbox: Sandbox
) -> None:
    for mid in (8001, 8002, 8003):
        sandbox.add_article(APP_ID, msg_data_id=mid)
    sandbox.add_follower(APP_ID, *[f"oQ{i}" for i in range(10)])
    sandbox.faults.quota = {"comment/list": 24, "comment/delete": 24}
    config = write_config(
        tmp_path, sandbox.url,
        wechat="targets: [{msg_data_id: 8001}, {msg_data_id: 8002}, {msg_data_id: 8003}]\n",
        weibo=None,
        quota="poll_share: 0.5, refresh: 1s",
    )
    daemon = start_daemon(config, tmp_path / "daemon.log")
    spam: list[tuple[int, int]] = []
    try:
        for i in range(6):
            mid = 8001 + i % 3
            spam.append((mid, sandbox.add_wechat_comment(APP_ID, mid, 0, content=SPAM,
                                                          openid=f"oQ{i}")))
        # 3 targets at 1 s would be 180 polls a minute: the budget allows 12 for the day
        wait_for(lambda: len(sandbox.calls("comment/list")) >= 12 or all(
            sandbox.wechat_comment(APP_ID, m, 0, c)["deleted"] for m, c in spam),
            timeout=60, what="polls up to the budget", child=daemon)
        wait_for(lambda: "poll_budget" in daemon.log(), timeout=30, what="a budget logged",
                 child=daemon)
    finally:
        stopped(daemon)
    lists = sandbox.calls("comment/list")
    assert lists and all(c.errcode != 45009 for c in lists), "polling never hit the daily limit"
    assert len(lists) <= 12 + 1  # half of 24, and the one quota/get-free first measurement
    deletes = sandbox.calls("comment/delete")
    assert deletes and all(c.errcode == 0 for c in deletes), "actions had quota"


def test_config_targets_reload_on_sighup_other_keys_need_a_restart(
    tmp_path: Path, sandbox: Sandbox
) -> None:
    import signal

    for mid in (9101, 9102):
        sandbox.add_article(APP_ID, msg_data_id=mid)
    config = write_config(tmp_path, sandbox.url, wechat="targets: [{msg_data_id: 9101}]\n",
                          weibo=None)
    daemon = start_daemon(config, tmp_path / "daemon.log")
    try:
        wait_for(lambda: bool(list_calls(sandbox, 9101)), timeout=60, what="first poll",
                 child=daemon)
        text = config.read_text(encoding="utf-8")
        config.write_text(
            text.replace("targets: [{msg_data_id: 9101}]",
                         "targets: [{msg_data_id: 9101}, {msg_data_id: 9102}]")
                .replace("interval: 1s", "interval: 2s"),
            encoding="utf-8",
        )
        daemon.process.send_signal(signal.SIGHUP)
        wait_for(lambda: bool(list_calls(sandbox, 9102)), timeout=30,
                 what="the target added to config.yaml polled without a restart",
                 child=daemon)
        wait_for(lambda: "config_change_needs_restart" in daemon.log(), timeout=10,
                 what="the changed interval logged as needing a restart", child=daemon)
    finally:
        stopped(daemon)
    assert '"keys": ["polling"]' in daemon.log()
