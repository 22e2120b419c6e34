"""The pipeline benchmark's baseline: a naive single-threaded loop that lists every page,
evaluates each comment and calls the action API right away, one call at a time."""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass

import redis as redis_lib

from bench.bench_processes import SandboxProcess
from bench.pipeline_audit import LIST_ENDPOINTS
from bench.pipeline_world import (
    APP_ID,
    APP_SECRET,
    WECHAT_ACCOUNT,
    WECHAT_PAGE,
    WEIBO_ACCOUNT,
    WEIBO_PAGE,
    WEIBO_TOKEN,
    Target,
)
from worker.comment import Comment
from worker.config import AccountConfig, QuotaConfig, Secret, WechatTarget, WeiboTarget
from worker.platforms import WechatClient, WeiboClient, make_client
from worker.rules import InMemoryOffenseCounter, RuleSet, is_offense


@dataclass
class NaiveResult:
    decided: int
    seconds_to_decided: float
    seconds_total: float
    calls: Counter[str]
    action_calls: int


class NaiveLoop:
    """One thread: every listed comment decided, and acted on at once, one call an action."""

    def __init__(self, rules: RuleSet) -> None:
        self.rules = rules
        self.offenses = InMemoryOffenseCounter()
        self.decided = 0
        self.action_calls = 0
        self.last_decision = 0.0

    def decide(self, comment: Comment) -> list[str]:
        """The enforced actions for ``comment``; its author's offense counted."""
        decision = self.rules.evaluate(comment, offenses=self.offenses, now=time.time())
        self.decided += 1
        self.last_decision = time.time()
        if comment.author and is_offense(decision):
            self.offenses.record(platform=comment.platform, account=comment.account,
                                 author=comment.author,
                                 at=comment.created_at if comment.created_at is not None
                                 else time.time())
        actions: list[str] = [a.type for a in decision.actions if a.mode == "enforce"]
        self.action_calls += len(actions)
        return actions

    def wechat_target(self, wx: WechatClient, target: Target) -> None:
        begin = 0
        while True:
            page = wx.list_comments(target.key, begin=begin, count=WECHAT_PAGE)
            deleted = 0
            for comment in page.comments:
                for action in self.decide(comment):
                    if action == "delete":
                        wx.delete_comment(target.key, comment.id)
                        deleted += 1
                    elif action == "blacklist":
                        wx.blacklist([comment.author])
                    elif action == "elect":
                        wx.elect(target.key, comment.id)
            # Deleted comments leave the listing: the next page starts that much sooner.
            begin = page.next_begin - deleted
            if not page.comments or begin >= page.total - deleted:
                return

    def weibo_target(self, wx: WeiboClient, target: Target) -> None:
        for page in wx.iter_comment_pages(target.key, count=WEIBO_PAGE):
            for comment in page.comments:
                for action in self.decide(comment):
                    if action == "delete":
                        wx.destroy_comments([comment.id])


def run_naive(sandbox: SandboxProcess, redis_url: str, rules: RuleSet,
              targets: Sequence[Target]) -> NaiveResult:
    """List, evaluate and act, one comment and one call at a time, on one thread."""
    client = redis_lib.Redis.from_url(redis_url)
    clients = {
        acc.name: make_client(acc, redis=client, quota=QuotaConfig(), key_prefix="naive")
        for acc in _accounts(sandbox.url, targets)
    }
    loop = NaiveLoop(rules)
    started = time.time()
    try:
        for target in targets:
            wx = clients[target.account]
            if isinstance(wx, WechatClient):
                loop.wechat_target(wx, target)
            elif isinstance(wx, WeiboClient):
                loop.weibo_target(wx, target)
        finished = time.time()
    finally:
        for c in clients.values():
            c.close()
        client.close()
    calls = sandbox.calls()
    first = min(c["time"] for c in calls if c["endpoint"] in LIST_ENDPOINTS)
    return NaiveResult(
        decided=loop.decided,
        seconds_to_decided=loop.last_decision - max(first, started),
        seconds_total=finished - max(first, started),
        calls=Counter(c["endpoint"] for c in calls),
        action_calls=loop.action_calls,
    )


def _accounts(sandbox_url: str, targets: Sequence[Target]) -> tuple[AccountConfig, ...]:
    wechat = AccountConfig(
        name=WECHAT_ACCOUNT, platform="wechat", api_base=sandbox_url, app_id=APP_ID,
        app_secret=Secret(APP_SECRET),
        targets=tuple(WechatTarget(msg_data_id=t.msg_data_id, index=t.index)
                      for t in targets if t.platform == "wechat"))
    weibo = AccountConfig(
        name=WEIBO_ACCOUNT, platform="weibo", api_base=sandbox_url,
        access_token=Secret(WEIBO_TOKEN),
        targets=tuple(WeiboTarget(status_id=t.status_id) for t in targets
                      if t.platform == "weibo"))
    return wechat, weibo
