"""The Weibo client: list a post's comments, batch-delete comments under the account's posts.

Synchronous, thread-safe, one instance per account. Hosts: ``https://api.weibo.com`` (public
``comments/show``) and ``https://c.api.weibo.com`` (commercial ``destroy_batch/own/biz`` and
``show_batch/biz``); ``AccountConfig.api_base`` replaces both.

Conventions (the same as :mod:`worker.platforms.wechat`):

- **Already done is a result, never an exception**: 20201 (comment does not exist) on
  destroy puts the id in ``DestroyResult.already_gone``, 20203 (not your own comment) in
  ``not_own``. Ids a destroy answer leaves unconfirmed are checked with
  ``comments/show_batch/biz``: gone ones count as deleted.
- ``error_code`` is read whether the platform sends it as a number or a string.
- The access token is the account's configured one: an auth error (20502, 21301,
  21314-21319, 21327, 21332) raises AuthError; Weibo has no refresh a server could do.
- The commercial endpoints share one limit of 50,000 calls an hour *per caller IP*, whatever
  the account (api-notes §6.3): one daemon is one IP, so every account of every process
  takes its slots from one Redis bucket (``<prefix>:rate:weibo:shared:commercial-ip``).
  ``calls_per_minute`` adds the account's own limit on every endpoint. 10022-10024 pause
  until the next full hour (or ``QuotaConfig.pause``): 10022 (the IP's limit) the endpoint
  (both commercial endpoints, which share one limit) for every account, 10023 (the user's)
  every endpoint of the account, 10024 (the user's, on one API) that endpoint of the account.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Iterator, Mapping
from typing import Any

import httpx
import redis as redis_lib
import structlog

from worker.comment import Comment
from worker.config import ACCOUNT_LISTING, AccountConfig, PollingConfig, QuotaConfig, WeiboTarget
from worker.errors import (
    AuthError,
    BatchTooLargeError,
    ConfigError,
    PermanentError,
    QuotaError,
    TransientError,
)
from worker.logs import register_secret
from worker.platform_specs import WEIBO, Action
from worker.platforms import codes as c
from worker.platforms.account_client import AccountClient
from worker.platforms.http import Answer
from worker.platforms.parsing import as_int, id_string, weibo_comment, weibo_comment_ids
from worker.platforms.protocol import BatchOutcome, PollSink, QuotaReading
from worker.platforms.quota import next_local_hour
from worker.platforms.ratelimit import Rate
from worker.platforms.results import ActionResult, DestroyResult, WeiboCommentPage
from worker.platforms.weibo_destroy import MAX_BATCH, MAX_SHOW_BATCH, BatchDestroy, distinct_cids

_log = structlog.get_logger()

DEFAULT_API_BASE = "https://api.weibo.com"
DEFAULT_BIZ_BASE = "https://c.api.weibo.com"
COMMERCIAL_RATE = Rate(50_000, 3600.0)  # "请求所有商业接口：50000次/小时/IP"
COMMERCIAL_BUCKET = "commercial-ip"  # the shared limiter bucket of COMMERCIAL_RATE
DEFAULT_PAGE_SIZE = 50
GONE_COMMENT = 20201  # "target weibo comment does not exist"


def weibo_code(body: Any) -> tuple[int | None, str]:
    """``(error_code, error)`` of a Weibo answer, the code a number or a string."""
    if not isinstance(body, Mapping) or "error_code" not in body:
        return None, ""
    message = body.get("error")
    message = message if isinstance(message, str) else ""
    code = as_int(body["error_code"])
    return (code if code is not None else -1), message


def parse_status_id(target: WeiboTarget | str | int) -> int:
    if isinstance(target, WeiboTarget):
        return target.status_id
    value = as_int(target)
    if value is None or value <= 0:
        raise ValueError(f"not a Weibo status id: {target!r}")
    return value


class WeiboClient(AccountClient):
    """The Weibo comment APIs of one account (see the module docstring)."""

    platform = "weibo"
    spec = WEIBO

    def __init__(
        self,
        *,
        account: AccountConfig,
        redis: redis_lib.Redis,
        quota: QuotaConfig,
        key_prefix: str = "mw",
        http: httpx.Client | None = None,
        max_wait: float = 10.0,
        commercial_rate: Rate = COMMERCIAL_RATE,
    ) -> None:
        if account.platform != "weibo" or account.access_token is None:
            raise ConfigError(f"account {account.name!r} is not a Weibo account with access_token")
        super().__init__(
            platform="weibo", account=account, redis=redis, quota=quota,
            key_prefix=key_prefix, http=http, max_wait=max_wait, read_code=weibo_code,
            shared_rates={
                endpoint: (COMMERCIAL_BUCKET, commercial_rate)
                for endpoint in c.WEIBO_COMMERCIAL_ENDPOINTS
            },
        )
        self._token = account.access_token.reveal()
        register_secret(self._token)
        self.base = (account.api_base or DEFAULT_API_BASE).rstrip("/")
        self.biz_base = (account.api_base or DEFAULT_BIZ_BASE).rstrip("/")

    # --- the one way every API call goes -----------------------------------------------------

    def _call(
        self,
        method: str,
        url: str,
        endpoint: str,
        *,
        params: Mapping[str, str] | None = None,
        form: Mapping[str, str] | None = None,
    ) -> Answer:
        self._guard.before(endpoint)
        array_ok = endpoint in c.WEIBO_ARRAY_ANSWERS
        try:
            if method == "GET":
                query = {**(params or {}), "access_token": self._token}
                return self._transport.request(
                    "GET", url, endpoint=endpoint, params=query, array_ok=array_ok
                )
            body = {**(form or {}), "access_token": self._token}
            return self._transport.request(
                method, url, endpoint=endpoint, form=body, array_ok=array_ok
            )
        except QuotaError as err:
            raise self._guard.quota_hit(err) from None
        except AuthError as err:
            _log.warning(
                "weibo.token_rejected", account=self.name, endpoint=endpoint, errcode=err.code
            )
            raise

    # --- the pipeline's protocol (worker.platforms.protocol) ----------------------------------

    def perform(
        self, action: Action, target: str, comment_id: str, text: str | None = None
    ) -> ActionResult:
        """Delete one comment (only when the batch path is bypassed); nothing else exists."""
        if action is Action.DELETE:
            return self.delete_comment(comment_id)
        raise PermanentError(f"{action} is not possible on Weibo", platform="weibo",
                             endpoint=str(action), account=self.name)

    def effect_holds(self, action: Action, target: str, comment_id: str) -> bool:
        """No Weibo action needs reconciling: a repeated destroy answers 20201."""
        raise PermanentError(f"{action} is not possible on Weibo", platform="weibo",
                             endpoint=str(action), account=self.name)

    def poll(self, target: str, sink: PollSink, polling: PollingConfig) -> int:
        """Pages newer than the cursor (the highest id enqueued), newest first; the cursor
        moves only after every page went into the sink. ``ACCOUNT_LISTING`` lists every post
        of the account (``comments/to_me/biz``), each comment's target its post."""
        cursor = sink.cursor()
        since = int(cursor) if cursor else None
        highest = since or 0
        sent = 0
        pages = (
            self.iter_comments_to_me(since_id=since) if target == ACCOUNT_LISTING
            else self.iter_comment_pages(target, since_id=since)
        )
        for page in pages:
            sink.keep_alive()
            sent += sink.send(page.comments)
            for comment in page.comments:
                highest = max(highest, int(comment.id))
        if highest and highest != since:
            sink.advance_cursor(highest)
        return sent

    def verify_credentials(self, target: str | None) -> str | None:
        """``comments/show`` count 1 on ``target`` (the configured token); None without one."""
        if target is None:
            return None
        self.list_comments(target, count=1)
        return c.B_SHOW

    def drop_cached_token(self) -> bool:
        """The configured access token is used as is: nothing is cached."""
        return False

    def send_batch(
        self, ids: list[str], *, uncertain: Collection[str] = (),
        into: BatchOutcome | None = None,
    ) -> BatchOutcome:
        """Destroy up to 20 comments (a repeat is harmless: a gone comment answers 20201, so
        ``uncertain`` ids need no reconciling). Comments still there after an answer without
        error are ``kept``."""
        outcome = into if into is not None else BatchOutcome()
        if ids:
            destroyed = self.destroy_comments(ids)
            outcome.done.extend(destroyed.deleted)
            outcome.done.extend(destroyed.already_gone)
            outcome.fail(destroyed.not_own, "not your own comment (20203)")
            outcome.kept.extend(destroyed.not_deleted)
        return outcome

    # --- listing -----------------------------------------------------------------------------

    def list_comments(
        self,
        target: WeiboTarget | str | int,
        *,
        since_id: int | str | None = None,
        max_id: int | str | None = None,
        count: int = DEFAULT_PAGE_SIZE,
    ) -> WeiboCommentPage:
        """One page of a post's comments, newest first: ids above ``since_id`` and at most
        ``max_id``. Raises TargetGoneError (20101) when the post is gone."""
        status_id = parse_status_id(target)
        params = {"id": str(status_id), "count": str(count)}
        if since_id is not None:
            params["since_id"] = str(since_id)
        if max_id is not None:
            params["max_id"] = str(max_id)
        answer = self._call("GET", f"{self.base}/2/comments/show.json", c.B_SHOW, params=params)
        body = answer.body
        if not isinstance(body, Mapping):
            raise self._transport.malformed(c.B_SHOW, answer, "not an object")
        items = body.get("comments")
        if not isinstance(items, list):
            items = []
        key = str(status_id)
        comments = [
            comment
            for item in items
            if isinstance(item, Mapping)
            and (comment := weibo_comment(item, account=self.name, target=key)) is not None
        ]
        return _page(comments, listed=len(items), count=count, since_id=since_id,
                     total=body.get("total_number"))

    def iter_comment_pages(
        self,
        target: WeiboTarget | str | int,
        *,
        since_id: int | str | None = None,
        count: int = DEFAULT_PAGE_SIZE,
        max_pages: int = 1000,
    ) -> Iterator[WeiboCommentPage]:
        """Pages of comments newer than ``since_id`` (all when None), newest first, following
        ``max_id`` down until a short page."""
        max_id: int | None = None
        for _ in range(max_pages):
            page = self.list_comments(target, since_id=since_id, max_id=max_id, count=count)
            yield page
            if page.next_max_id is None:
                return
            max_id = page.next_max_id

    def poll_quota(self, now: float) -> QuotaReading:
        """The commercial APIs' hourly limit (listing and destroying share it, per caller
        IP); Weibo has no call that tells the use, so none is assumed: the budget counts the
        polls themselves. The hour resets on the hour in ``quota.reset_timezone``."""
        return QuotaReading(limit=COMMERCIAL_RATE.limit, used=0,
                            reset_at=next_local_hour(now, self.quotas.config.reset_timezone))

    def list_comments_to_me(
        self,
        *,
        since_id: int | str | None = None,
        max_id: int | str | None = None,
        count: int = DEFAULT_PAGE_SIZE,
    ) -> WeiboCommentPage:
        """One page of ``comments/to_me/biz``: the comments on every post of the account,
        newest first, ids above ``since_id`` and at most ``max_id``. Each comment's
        ``target`` is its post (``status.id``)."""
        params = {"count": str(count)}
        if since_id is not None:
            params["since_id"] = str(since_id)
        if max_id is not None:
            params["max_id"] = str(max_id)
        answer = self._call("GET", f"{self.biz_base}/2/comments/to_me/biz.json", c.B_TO_ME,
                            params=params)
        body = answer.body
        if not isinstance(body, Mapping):
            raise self._transport.malformed(c.B_TO_ME, answer, "not an object")
        items = body.get("comments")
        comments = []
        for item in items if isinstance(items, list) else []:
            if not isinstance(item, Mapping):
                continue
            status = item.get("status")
            post = None
            if isinstance(status, Mapping):
                post = id_string(status.get("idstr")) or id_string(status.get("id"))
            comment = weibo_comment(item, account=self.name, target=post or "")
            if comment is not None:
                comments.append(comment)
        return _page(comments, listed=len(items) if isinstance(items, list) else 0,
                     count=count, since_id=since_id, total=body.get("total_number"))

    def iter_comments_to_me(
        self, *, since_id: int | str | None, count: int = DEFAULT_PAGE_SIZE,
        max_pages: int = 1000,
    ) -> Iterator[WeiboCommentPage]:
        """Pages of the account's comments newer than ``since_id``, newest first, paging
        back with ``max_id`` while a page is full (all of it is new: above ``since_id``)."""
        max_id: int | None = None
        for _ in range(max_pages):
            page = self.list_comments_to_me(since_id=since_id, max_id=max_id, count=count)
            yield page
            if page.next_max_id is None:
                return
            max_id = page.next_max_id

    # --- destroy -----------------------------------------------------------------------------

    def destroy_comments(self, cids: Iterable[int | str]) -> DestroyResult:
        """Delete up to 20 comments under the account's posts, carrying the batch through
        partial answers as :mod:`worker.platforms.weibo_destroy` says. More than 20 distinct
        ids: BatchTooLargeError, no call."""
        batch = distinct_cids(cids)
        if len(batch) > MAX_BATCH:
            raise BatchTooLargeError(
                f"{c.B_DESTROY}: {len(batch)} ids, at most {MAX_BATCH} per call"
            )
        return BatchDestroy(
            send=lambda part: self._call(
                "POST", f"{self.biz_base}/2/comments/destroy_batch/own/biz.json", c.B_DESTROY,
                form={"cids": ",".join(part)},
            ),
            find_existing=self.existing_comment_ids,
            malformed=self._transport.malformed,
            account=self.name,
        ).run(batch)

    def delete_comment(self, cid: int | str) -> ActionResult:
        """Delete one comment (``destroy_batch`` with one id): ``already_done`` when it was
        gone (20201). PermanentError (20203) when it is not under the account's posts;
        TransientError when the platform answered without error but kept it (retry)."""
        result = self.destroy_comments([cid])
        if result.deleted:
            return ActionResult()
        if result.already_gone:
            return ActionResult(already_done=True, code=GONE_COMMENT)
        if result.not_own:
            raise PermanentError(
                f"comment {result.not_own[0]} is not under this account's posts",
                platform=self.platform, endpoint=c.B_DESTROY, account=self.name,
                code=c.NOT_OWN_COMMENT,
            )
        raise TransientError(
            f"comment {result.not_deleted[0]} still exists after destroy_batch",
            platform=self.platform, endpoint=c.B_DESTROY, account=self.name,
        )

    def existing_comment_ids(self, cids: Iterable[int | str]) -> list[str]:
        """The ids of ``cids`` (at most 50) whose comments still exist, per
        ``comments/show_batch/biz`` (an array of the comments it finds). More than 50
        distinct ids: BatchTooLargeError, no call."""
        batch = distinct_cids(cids)
        if len(batch) > MAX_SHOW_BATCH:
            raise BatchTooLargeError(
                f"{c.B_SHOW_BATCH}: {len(batch)} ids, at most {MAX_SHOW_BATCH} per call"
            )
        if not batch:
            return []
        answer = self._call(
            "GET",
            f"{self.biz_base}/2/comments/show_batch/biz.json",
            c.B_SHOW_BATCH,
            params={"cids": ",".join(batch)},
        )
        body = answer.body
        if isinstance(body, Mapping) and isinstance(body.get("comments"), list):
            body = body["comments"]
        if not isinstance(body, list):
            raise self._transport.malformed(c.B_SHOW_BATCH, answer, "not an array")
        found = set(weibo_comment_ids(body))
        return [cid for cid in batch if cid in found]


def _page(
    comments: list[Comment], *, listed: int, count: int, since_id: int | str | None,
    total: Any,
) -> WeiboCommentPage:
    """A listing page: a full one (``listed`` items of ``count``) asks for the next older
    page below its lowest id, unless that is at or below ``since_id``."""
    ids = [int(x.id) for x in comments]
    floor = as_int(since_id) if since_id is not None else None
    next_max_id = min(ids) - 1 if listed >= count and ids else None
    if next_max_id is not None and floor is not None and next_max_id <= floor:
        next_max_id = None
    return WeiboCommentPage(comments=comments, total=as_int(total), next_max_id=next_max_id)
