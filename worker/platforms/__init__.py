"""Platform clients: WeChat Official Account and Weibo comment moderation.

Nothing above this package knows an error code, an access token or a platform quirk. A
client returns platform-neutral :class:`worker.comment.Comment` objects and small results
(:mod:`worker.platforms.results`), and raises the classes of :mod:`worker.errors`:

- TransientError (RateLimitedError with ``retry_at``): retry with backoff;
- AuthError: the token was refused even after the client's own refresh-and-retry;
- QuotaError with ``resume_at``: do not call that endpoint of that account before then;
- PermanentError (TargetGoneError, ActionDisabledError): no retry.

"Already done" answers are results, never exceptions (``ActionResult.already_done``,
``DestroyResult.already_gone``). The code table is :mod:`worker.platforms.codes`.
"""

from __future__ import annotations

import importlib
from typing import cast

import httpx
import redis as redis_lib

from worker.config import AccountConfig, QuotaConfig
from worker.platform_specs import platform_spec
from worker.platforms.protocol import BatchOutcome, PlatformClient, PollSink
from worker.platforms.results import (
    ActionResult,
    BlacklistPage,
    BlacklistResult,
    CommentPage,
    DestroyResult,
    UnblacklistResult,
    WeiboCommentPage,
)
from worker.platforms.wechat import WechatClient
from worker.platforms.weibo import WeiboClient


def make_client(
    account: AccountConfig,
    *,
    redis: redis_lib.Redis,
    quota: QuotaConfig,
    key_prefix: str = "mw",
    http: httpx.Client | None = None,
) -> PlatformClient:
    """The client of ``account``'s platform, the class its spec names (UnknownPlatformError
    for a platform no spec declares). Close it with ``close()`` (it closes the HTTP client
    only when it made it, i.e. when ``http`` is None)."""
    module, _, name = platform_spec(account.platform).client.partition(":")
    cls = getattr(importlib.import_module(module), name)
    return cast(
        PlatformClient,
        cls(account=account, redis=redis, quota=quota, key_prefix=key_prefix, http=http),
    )


__all__ = [
    "ActionResult",
    "BatchOutcome",
    "BlacklistPage",
    "BlacklistResult",
    "CommentPage",
    "DestroyResult",
    "PlatformClient",
    "PollSink",
    "UnblacklistResult",
    "WechatClient",
    "WeiboClient",
    "WeiboCommentPage",
    "make_client",
]
