"""Running the real daemon (`modworker run` in its own process group) against the sandbox:
its config, the comments it must act on and what the sandbox saw (the process itself is
:mod:`worker.subprocesses`'s)."""

from __future__ import annotations

import os
import textwrap
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from worker import subprocesses
from worker.sandbox import Sandbox
from worker.subprocesses import DaemonProcess

APP_ID = "wxdaemontest01"
APP_SECRET = "wx-secret-for-daemon-tests-123"
WEIBO_TOKEN = "2.00weibo-token-for-daemon-tests"
ARTICLE_A = 2247483650
ARTICLE_B = 4294967296123  # beyond 32 bits
STATUS_ID = 4890123456789012
TARGETS = [(ARTICLE_A, 0), (ARTICLE_A, 1), (ARTICLE_B, 0)]

RULES = """
version: 1
rules:
  - id: spam
    priority: 10
    when:
      content: {includes: [加v, 博彩, 百家乐]}
    then: [delete, blacklist]
    stop: true
  - id: praise
    platforms: [wechat]
    when:
      content: {includes: [写得太好了]}
      comment: {elected: false, replied: false}
    then:
      - elect
      - reply: 谢谢你的认可
"""

SPAM_TEXTS = ["加v：abc123456 领资料", "百 家 乐 稳赚不赔", "博-彩 注册就送"]
PRAISE = "写得太好了，逻辑清晰，受益匪浅"
ORDINARY = ["普通留言", "这个观点我不同意", "学习了，谢谢", "期待下一篇文章"]


@dataclass
class World:
    """What was seeded, and so what the daemon must do."""

    spam_wechat: set[tuple[int, int, int]] = field(default_factory=set)
    praise: set[tuple[int, int, int]] = field(default_factory=set)
    ordinary_wechat: set[tuple[int, int, int]] = field(default_factory=set)
    spammers: set[str] = field(default_factory=set)
    spam_weibo: set[int] = field(default_factory=set)
    ordinary_weibo: set[int] = field(default_factory=set)
    next_spammer: int = 0


@contextmanager
def make_sandbox(*, wechat_secret: str = APP_SECRET, **kwargs: Any) -> Iterator[Sandbox]:
    """A started sandbox with the app, three articles, a Weibo token and post. The app's
    secret is ``wechat_secret``: another value than APP_SECRET makes the daemon's wrong."""
    with Sandbox(port=0, seed=7, **kwargs) as sandbox:
        sandbox.add_wechat_app(app_id=APP_ID, app_secret=wechat_secret)
        for msg_data_id, index in TARGETS:
            sandbox.add_article(APP_ID, msg_data_id=msg_data_id, index=index)
        sandbox.add_weibo_token(access_token=WEIBO_TOKEN, uid=1001)
        sandbox.add_weibo_post(WEIBO_TOKEN, status_id=STATUS_ID)
        yield sandbox


def add_wechat(sandbox: Sandbox, world: World, count: int, *, spam_share: float = 0.4,
               praise_share: float = 0.1, spammers: int = 25, start: int = 0) -> None:
    """``count`` comments spread over the three articles: 40 % spam (one in ten without an
    openid), 10 % praise, the rest ordinary."""
    for i in range(start, start + count):
        msg_data_id, index = TARGETS[i % len(TARGETS)]
        kind = i % 10
        if kind < round(spam_share * 10):
            openid: str | None = f"oSpammer{(world.next_spammer % spammers):020d}"
            if world.next_spammer % 10 == 9:
                openid = None  # a commenter under a non-WeChat identity: nobody to blacklist
            world.next_spammer += 1
            cid = sandbox.add_wechat_comment(
                APP_ID, msg_data_id, index, content=SPAM_TEXTS[i % 3], openid=openid
            )
            world.spam_wechat.add((msg_data_id, index, cid))
            if openid:
                world.spammers.add(openid)
        elif kind < round((spam_share + praise_share) * 10):
            cid = sandbox.add_wechat_comment(
                APP_ID, msg_data_id, index, content=PRAISE, openid=f"oFan{i:024d}"
            )
            world.praise.add((msg_data_id, index, cid))
        else:
            cid = sandbox.add_wechat_comment(
                APP_ID, msg_data_id, index, content=ORDINARY[i % 4], openid=f"oReader{i:021d}"
            )
            world.ordinary_wechat.add((msg_data_id, index, cid))


def add_weibo(sandbox: Sandbox, world: World, count: int, start: int = 0) -> None:
    for i in range(start, start + count):
        if i % 10 < 4:
            cid = sandbox.add_weibo_comment(STATUS_ID, text=SPAM_TEXTS[i % 3], uid=5000 + i)
            world.spam_weibo.add(cid)
        else:
            cid = sandbox.add_weibo_comment(STATUS_ID, text=ORDINARY[i % 4], uid=5000 + i)
            world.ordinary_weibo.add(cid)


def write_config(
    directory: Path, sandbox_url: str, *, redis_url: str | None = None,
    interval: str = "1s", extra: str = "",
) -> Path:
    rules = directory / "rules"
    rules.mkdir(exist_ok=True)
    (rules / "rules.yaml").write_text(RULES, encoding="utf-8")
    redis_line = f"redis: {{url: '{redis_url}'}}" if redis_url else "redis: {url: null}"
    config = directory / "config.yaml"
    config.write_text(textwrap.dedent(f"""
        {redis_line}
        state_dir: {directory / 'var'}
        rules: [rules/]
        polling: {{interval: {interval}, full_pass_interval: 2s}}
        actions: {{max_retries: 20, min_backoff: 100ms, max_backoff: 1s, batch_max_wait: 1s}}
        accounts:
          - name: oa
            platform: wechat
            app_id: {APP_ID}
            app_secret: ${{TEST_WX_SECRET}}
            api_base: {sandbox_url}
            targets:
              - {{msg_data_id: {ARTICLE_A}, index: 0}}
              - {{msg_data_id: {ARTICLE_A}, index: 1}}
              - {{msg_data_id: {ARTICLE_B}, index: 0}}
          - name: wb
            platform: weibo
            access_token: ${{TEST_WB_TOKEN}}
            api_base: {sandbox_url}
            targets:
              - {{status_id: {STATUS_ID}}}
    """) + textwrap.dedent(extra), encoding="utf-8")
    return config


def start_daemon(config: Path, log_path: Path, *, processes: int = 1,
                 threads: int = 4) -> DaemonProcess:
    """The real daemon, its own process group, with the sandbox's secrets in its environment."""
    env = dict(os.environ, TEST_WX_SECRET=APP_SECRET, TEST_WB_TOKEN=WEIBO_TOKEN)
    return subprocesses.start_daemon(config, log_path, processes=processes, threads=threads,
                                     env=env)


# -- what the sandbox saw ------------------------------------------------------------------

def ok_calls(sandbox: Sandbox, endpoint: str) -> list[Any]:
    return [c for c in sandbox.calls(endpoint) if c.errcode in (0, None) and c.http_status == 200]


def comment_key(call: Any) -> tuple[int, int, int]:
    body = call.body
    return (int(body["msg_data_id"]), int(body.get("index", 0)), int(body["user_comment_id"]))


def ok_counts(sandbox: Sandbox, endpoint: str) -> Counter[tuple[int, int, int]]:
    return Counter(comment_key(c) for c in ok_calls(sandbox, endpoint))


def blacklisted_in_calls(sandbox: Sandbox) -> tuple[Counter[str], list[int]]:
    """openids in successful batchblacklist calls (with counts), and every call's size."""
    calls = sandbox.calls("tags/members/batchblacklist")
    # A call cut short by a SIGKILLed daemon is logged with no (or a cut) body.
    sizes = [len(c.body.get("openid_list", [])) if isinstance(c.body, dict) else 0
             for c in calls]
    counts: Counter[str] = Counter()
    for call in ok_calls(sandbox, "tags/members/batchblacklist"):
        counts.update(call.body["openid_list"])
    return counts, sizes


def destroy_sizes(sandbox: Sandbox) -> list[int]:
    sizes = []
    for call in sandbox.calls("comments/destroy_batch/own/biz"):
        cids = str(call.body.get("cids", ""))
        sizes.append(len([c for c in cids.split(",") if c]))
    return sizes


def all_done(sandbox: Sandbox, world: World) -> bool:
    deletes = ok_counts(sandbox, "comment/delete")
    if not world.spam_wechat <= set(deletes):
        return False
    if not world.praise <= set(ok_counts(sandbox, "comment/reply/add")):
        return False
    if not world.praise <= set(ok_counts(sandbox, "comment/markelect")):
        return False
    blacklisted, _ = blacklisted_in_calls(sandbox)
    if not world.spammers <= set(blacklisted):
        return False
    return all(sandbox.weibo_comment(cid)["deleted"] for cid in world.spam_weibo)


def assert_exactly_once(sandbox: Sandbox, world: World) -> None:
    deletes = ok_counts(sandbox, "comment/delete")
    assert set(deletes) == world.spam_wechat, "deleted exactly the violating WeChat comments"
    assert max(deletes.values()) == 1, f"a comment deleted twice: {deletes.most_common(3)}"
    for endpoint in ("comment/markelect", "comment/reply/add"):
        counts = ok_counts(sandbox, endpoint)
        assert set(counts) == world.praise, endpoint
        assert max(counts.values()) == 1, f"{endpoint} twice: {counts.most_common(3)}"
    blacklisted, sizes = blacklisted_in_calls(sandbox)
    assert set(blacklisted) == world.spammers
    assert max(blacklisted.values()) == 1, f"an openid sent twice: {blacklisted.most_common(3)}"
    assert sizes and max(sizes) <= 20
    assert sorted(sandbox.blacklist(APP_ID)) == sorted(world.spammers)
    sizes = destroy_sizes(sandbox)
    assert sizes and max(sizes) <= 20
    for cid in world.spam_weibo:
        assert sandbox.weibo_comment(cid)["deleted"], cid
    for cid in world.ordinary_weibo:
        assert not sandbox.weibo_comment(cid)["deleted"], cid
    for msg_data_id, index, cid in world.ordinary_wechat:
        assert not sandbox.wechat_comment(APP_ID, msg_data_id, index, cid)["deleted"]
