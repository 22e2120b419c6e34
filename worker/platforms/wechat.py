"""The WeChat Official Account client: comments, replies, elect, open/close, blacklist.

Synchronous (callers are dramatiq worker threads); thread-safe; one instance per account.

Conventions:

- Targets are a :class:`~worker.config.WechatTarget` or its key ``"<msg_data_id>:<index>"``;
  ``msg_data_id`` may be of any size and ``index`` (0-based) is always sent. Comment ids are
  ints or decimal strings (``Comment.id``).
- Bodies are raw UTF-8 JSON (``ensure_ascii=False``): WeChat refuses ``\\uXXXX`` (40033).
- **Already done is a result, never an exception.** Every action returns an
  :class:`ActionResult`; when the platform answers that the effect already holds (88008 or
  88004 on delete, 88005 on reply/add, 87009 or 88009 on reply/delete), the result has
  ``already_done=True`` and the code. :class:`~worker.errors.AlreadyDoneError` never leaves
  this module.
- Every other failure is raised as a :class:`~worker.errors.PlatformError` subclass (see
  :mod:`worker.platforms.codes`), carrying platform, account, endpoint, code, the platform's
  message and the HTTP status.
- Access tokens: see :mod:`worker.platforms.tokens`; a call whose token is refused is
  retried as :mod:`worker.platforms.wechat_auth` says, then AuthError.
- A call while its endpoint is paused for quota raises QuotaError without touching the
  network; a 45009 answer starts such a pause (shared through Redis).
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Iterator, Mapping
from typing import Any, Literal

import httpx
import redis as redis_lib
import structlog

from worker.config import (
    WECHAT_MAX_PAGE_SIZE,
    AccountConfig,
    PollingConfig,
    QuotaConfig,
    WechatTarget,
)
from worker.errors import (
    AlreadyDoneError,
    ConfigError,
    PermanentError,
)
from worker.logs import register_secret
from worker.platform_specs import WECHAT, Action
from worker.platforms import codes as c
from worker.platforms.account_client import AccountClient
from worker.platforms.http import Answer
from worker.platforms.parsing import as_int, wechat_comment_list
from worker.platforms.protocol import BatchOutcome, PollSink, QuotaReading
from worker.platforms.quota import next_local_midnight
from worker.platforms.results import (
    ActionResult,
    BlacklistPage,
    BlacklistResult,
    CommentPage,
    UnblacklistResult,
)
from worker.platforms.wechat_auth import TokenCalls
from worker.platforms.wechat_blacklist import send_openid_batch
from worker.platforms.wechat_poll import poll_article
from worker.targets.discovery import discover

_log = structlog.get_logger()


DEFAULT_API_BASE = "https://api.weixin.qq.com"
# comment/list ``count``: the Chinese doc says ">= 50 is refused" (88010), the English one
# "> 50"; 49 is the largest count both accept (api-notes §1.3). Larger counts are clamped.
MAX_PAGE_SIZE = WECHAT_MAX_PAGE_SIZE
DEFAULT_PAGE_SIZE = MAX_PAGE_SIZE
CommentType = Literal[0, 1, 2]  # 0 all, 1 normal only, 2 elected only


def wechat_code(body: Any) -> tuple[int | None, str]:
    """``(errcode, errmsg)`` of a WeChat answer; ``(None, "")`` when it carries none."""
    if not isinstance(body, Mapping):
        return None, ""
    message = body.get("errmsg")
    message = message if isinstance(message, str) else ""
    if "errcode" not in body:
        return None, message
    code = as_int(body["errcode"])
    return (code if code is not None else -1), message


def parse_target(target: WechatTarget | str) -> tuple[int, int]:
    """``(msg_data_id, index)`` from a target or its key ``"<msg_data_id>:<index>"``."""
    if isinstance(target, WechatTarget):
        return target.msg_data_id, target.index
    msg, sep, index = str(target).partition(":")
    msg_id, idx = as_int(msg), as_int(index) if sep else 0
    if msg_id is None or idx is None or idx < 0:
        raise ValueError(f"not a WeChat target key: {target!r}")
    return msg_id, idx


def _comment_id(comment_id: int | str) -> int:
    value = as_int(comment_id)
    if value is None:
        raise ValueError(f"not a WeChat comment id: {comment_id!r}")
    return value


class WechatClient(AccountClient):
    """The WeChat comment and blacklist APIs of one account (see the module docstring)."""

    platform = "wechat"
    spec = WECHAT

    def __init__(
        self,
        *,
        account: AccountConfig,
        redis: redis_lib.Redis,
        quota: QuotaConfig,
        key_prefix: str = "mw",
        http: httpx.Client | None = None,
        max_wait: float = 10.0,
        page_size: int = DEFAULT_PAGE_SIZE,
    ) -> None:
        if account.platform != "wechat" or not account.app_id or account.app_secret is None:
            raise ConfigError(
                f"account {account.name!r} is not a WeChat account with app_id and app_secret"
            )
        super().__init__(
            platform="wechat", account=account, redis=redis, quota=quota,
            key_prefix=key_prefix, http=http, max_wait=max_wait, read_code=wechat_code,
        )
        self.base = (account.api_base or DEFAULT_API_BASE).rstrip("/")
        self.page_size = self._page_count(page_size)
        register_secret(account.app_secret.reveal())
        self._calls = TokenCalls(
            account=account, base=self.base, guard=self._guard, transport=self._transport,
            redis=redis, key_prefix=key_prefix, timezone=quota.reset_timezone,
        )
        self.token_mode = account.token
        self.tokens = self._calls.tokens

    # --- the one way every API call goes -----------------------------------------------------

    def _call(self, endpoint: str, body: Mapping[str, Any], path: str | None = None) -> Answer:
        """POST ``body`` to ``/cgi-bin/<endpoint>`` (or ``path``) with the shared token
        (:mod:`worker.platforms.wechat_auth`)."""
        return self._calls.post(endpoint, body, path)

    def _action(self, endpoint: str, body: Mapping[str, Any]) -> ActionResult:
        try:
            self._call(endpoint, body)
        except AlreadyDoneError as err:
            _log.info(
                "wechat.already_done",
                account=self.name,
                endpoint=endpoint,
                errcode=err.code,
                outcome="already_done",
            )
            return ActionResult(already_done=True, code=err.code, message=err.platform_message)
        return ActionResult()

    @staticmethod
    def _comment_body(
        target: WechatTarget | str, comment_id: int | str | None = None
    ) -> dict[str, Any]:
        msg_data_id, index = parse_target(target)
        body: dict[str, Any] = {"msg_data_id": msg_data_id, "index": index}
        if comment_id is not None:
            body["user_comment_id"] = _comment_id(comment_id)
        return body

    # --- the pipeline's protocol (worker.platforms.protocol) ----------------------------------

    def perform(
        self, action: Action, target: str, comment_id: str, text: str | None = None
    ) -> ActionResult:
        """One single action of :data:`~worker.platform_specs.WECHAT` (blacklist is batched)."""
        match action:
            case Action.DELETE:
                return self.delete_comment(target, comment_id)
            case Action.REPLY:
                return self.reply(target, comment_id, text or "")
            case Action.DELETE_REPLY:
                return self.delete_reply(target, comment_id)
            case Action.ELECT:
                return self.elect(target, comment_id)
            case Action.UNELECT:
                return self.unelect(target, comment_id)
            case Action.CLOSE_COMMENTS:
                return self.close_comments(target)
            case Action.OPEN_COMMENTS:
                return self.open_comments(target)
        raise PermanentError(f"{action} is not a single action on WeChat", platform="wechat",
                             endpoint=str(action), account=self.name)

    def effect_holds(self, action: Action, target: str, comment_id: str) -> bool:
        """Whether elect's (unelect's) effect holds: the comment is (not) on the elected list."""
        if action not in self.spec.reconciled:
            raise PermanentError(f"{action} cannot be reconciled on WeChat", platform="wechat",
                                 endpoint=str(action), account=self.name)
        elected = any(
            comment.id == comment_id
            for page in self.iter_comment_pages(target, comment_type=2)
            for comment in page.comments
        )
        return elected == (action is Action.ELECT)

    def poll(self, target: str, sink: PollSink, polling: PollingConfig) -> int:
        """Offset paging that survives deletes (see :mod:`worker.platforms.wechat_poll`)."""
        return poll_article(
            lambda begin, count: self.list_comments(target, begin=begin, count=count),
            sink, polling,
        )

    def verify_credentials(self, target: str | None) -> str | None:
        """``comment/list`` count 1 on ``target``, else ``getblacklist`` (both need a token)."""
        if target is not None:
            self.list_comments(target, begin=0, count=1)
            return c.W_LIST
        self.get_blacklist()
        return c.W_GETBLACKLIST

    def drop_cached_token(self) -> bool:
        return self.tokens.drop()

    def send_batch(
        self, ids: list[str], *, uncertain: Collection[str] = (),
        into: BatchOutcome | None = None,
    ) -> BatchOutcome:
        """Blacklist up to 20 openids. Uncertain ones (an earlier send may have reached the
        platform) are looked up in the blacklist first, so none is sent twice."""
        outcome = into if into is not None else BatchOutcome()
        to_send = ids
        if uncertain:
            already = set(self.iter_blacklist()) & set(uncertain)
            outcome.done.extend(already)
            to_send = [i for i in ids if i not in already]
        if to_send:
            result = self.blacklist(to_send)
            outcome.done.extend(result.blacklisted)
            outcome.fail(result.invalid, "invalid openid (40003/49003)")
        return outcome

    # --- comments ----------------------------------------------------------------------------

    def list_comments(
        self,
        target: WechatTarget | str,
        *,
        begin: int = 0,
        count: int | None = None,
        comment_type: CommentType = 0,
    ) -> CommentPage:
        """One page of comments (``count`` defaults to the page size; a count above
        MAX_PAGE_SIZE, 49, is sent as 49; ``comment_type`` 0 all, 1 normal only, 2 elected
        only).

        Raises TargetGoneError (88001) when the article is gone, PermanentError (88010) naming
        the count if the platform still refuses it (a client bug: MAX_PAGE_SIZE is wrong).
        """
        count = self.page_size if count is None else self._page_count(count)
        body = self._comment_body(target)
        body.update(begin=begin, count=count, type=comment_type)
        try:
            answer = self._call(c.W_LIST, body)
        except PermanentError as err:
            if err.code == c.COUNT_RANGE_ERROR:
                raise self._count_refused(err, count) from None
            raise
        if not isinstance(answer.body, Mapping):
            raise self._transport.malformed(c.W_LIST, answer, "not an object")
        key = f"{body['msg_data_id']}:{body['index']}"
        comments, total, raw_count = wechat_comment_list(answer.body, account=self.name, target=key)
        next_begin = begin + raw_count
        return CommentPage(
            comments=comments,
            total=total,
            begin=begin,
            next_begin=next_begin,
            has_more=raw_count > 0 and next_begin < total,
        )

    def _page_count(self, count: int) -> int:
        """``count`` clamped to MAX_PAGE_SIZE; below 1 is the caller's error."""
        if count < 1:
            raise ValueError(f"count must be 1..{MAX_PAGE_SIZE}, got {count}")
        if count > MAX_PAGE_SIZE:
            _log.debug(
                "wechat.page_size_clamped", account=self.name, asked=count, sent=MAX_PAGE_SIZE
            )
        return min(count, MAX_PAGE_SIZE)

    def _count_refused(self, err: PermanentError, count: int) -> PermanentError:
        """88010 although ``count`` is within MAX_PAGE_SIZE: our limit is wrong (a bug)."""
        _log.error(
            "wechat.page_size_refused", account=self.name, count=count, errcode=err.code,
            max_page_size=MAX_PAGE_SIZE,
        )
        return PermanentError(
            f"client bug: comment/list refused count={count} (88010) although it is within "
            f"MAX_PAGE_SIZE={MAX_PAGE_SIZE}; the platform's limit is lower "
            f"({err.platform_message})",
            platform=err.platform,
            endpoint=err.endpoint,
            account=err.account,
            code=err.code,
            http_status=err.http_status,
        )

    def iter_comment_pages(
        self,
        target: WechatTarget | str,
        *,
        comment_type: CommentType = 0,
        count: int | None = None,
        max_pages: int = 1000,
    ) -> Iterator[CommentPage]:
        """Every page of a target, from ``begin=0`` until a page says there is no more."""
        begin = 0
        for _ in range(max_pages):
            page = self.list_comments(
                target, begin=begin, count=count, comment_type=comment_type
            )
            yield page
            if not page.has_more:
                return
            begin = page.next_begin

    def open_comments(self, target: WechatTarget | str) -> ActionResult:
        return self._action(c.W_OPEN, self._comment_body(target))

    def close_comments(self, target: WechatTarget | str) -> ActionResult:
        return self._action(c.W_CLOSE, self._comment_body(target))

    def elect(self, target: WechatTarget | str, comment_id: int | str) -> ActionResult:
        return self._action(c.W_MARKELECT, self._comment_body(target, comment_id))

    def unelect(self, target: WechatTarget | str, comment_id: int | str) -> ActionResult:
        return self._action(c.W_UNMARKELECT, self._comment_body(target, comment_id))

    def delete_comment(self, target: WechatTarget | str, comment_id: int | str) -> ActionResult:
        return self._action(c.W_DELETE, self._comment_body(target, comment_id))

    def reply(
        self, target: WechatTarget | str, comment_id: int | str, content: str
    ) -> ActionResult:
        """Reply as the account. 88005 (a reply exists, maybe another one) is already_done."""
        body = self._comment_body(target, comment_id)
        body["content"] = content
        return self._action(c.W_REPLY_ADD, body)

    def delete_reply(self, target: WechatTarget | str, comment_id: int | str) -> ActionResult:
        return self._action(c.W_REPLY_DELETE, self._comment_body(target, comment_id))

    # --- blacklist ---------------------------------------------------------------------------

    def blacklist(self, openids: Iterable[str | None]) -> BlacklistResult:
        """Blacklist up to 20 users; see :meth:`_openid_batch` for the rules."""
        done, invalid, skipped, calls = self._openid_batch(c.W_BLACKLIST, openids)
        return BlacklistResult(blacklisted=done, invalid=invalid, skipped=skipped, calls=calls)

    def unblacklist(self, openids: Iterable[str | None]) -> UnblacklistResult:
        done, invalid, skipped, calls = self._openid_batch(c.W_UNBLACKLIST, openids)
        return UnblacklistResult(unblacklisted=done, invalid=invalid, skipped=skipped, calls=calls)

    def _openid_batch(
        self, endpoint: str, openids: Iterable[str | None]
    ) -> tuple[list[str], list[str], int, int]:
        """See :func:`~worker.platforms.wechat_blacklist.send_openid_batch`."""
        return send_openid_batch(
            lambda part: self._call(endpoint, {"openid_list": part}), endpoint, openids,
            account=self.name,
        )

    def get_blacklist(self, begin_openid: str | None = None) -> BlacklistPage:
        """One page of the blacklist (up to 1000 openids), from the start or ``begin_openid``."""
        answer = self._call(c.W_GETBLACKLIST, {"begin_openid": begin_openid or ""})
        body = answer.body
        if not isinstance(body, Mapping):
            raise self._transport.malformed(c.W_GETBLACKLIST, answer, "not an object")
        data = body.get("data")
        raw = data.get("openid") if isinstance(data, Mapping) else None
        openids = [o for o in raw if isinstance(o, str) and o] if isinstance(raw, list) else []
        total = as_int(body.get("total"))
        next_openid = body.get("next_openid")
        return BlacklistPage(
            openids=openids,
            total=total if total is not None else len(openids),
            next_openid=next_openid if isinstance(next_openid, str) and next_openid else None,
        )

    def iter_blacklist(self, max_pages: int = 10_000) -> Iterator[str]:
        """Every blacklisted openid, following ``next_openid`` until ``total`` is reached."""
        seen = 0
        begin: str | None = None
        for _ in range(max_pages):
            page = self.get_blacklist(begin)
            yield from page.openids
            seen += len(page.openids)
            if not page.openids or page.next_openid is None or seen >= page.total:
                return
            begin = page.next_openid

    # --- discovery and budget (worker.targets) ---------------------------------------------

    def article_summary(self, day: str) -> list[Mapping[str, Any]]:
        """``datacube/getarticlesummary`` for one day (``YYYY-MM-DD``, at most yesterday):
        the articles mass-sent that day, each with ``msgid`` ``"<msg_data_id>_<n>"``
        (``n`` from 1). 61500 (bad date) and 61501 (bad range) are permanent errors."""
        answer = self._call(c.W_ARTICLE_SUMMARY, {"begin_date": day, "end_date": day},
                            path="/datacube/getarticlesummary")
        body = answer.body
        if not isinstance(body, Mapping) or not isinstance(body.get("list", []), list):
            raise self._transport.malformed(c.W_ARTICLE_SUMMARY, answer, "no list")
        return [item for item in body.get("list", []) if isinstance(item, Mapping)]

    def poll_quota(self, now: float) -> QuotaReading:
        """``comment/list``'s daily limit and use (``openapi/quota/get``); the day resets at
        midnight in ``quota.reset_timezone``."""
        limit, used = self.api_quota(c.W_LIST_CGI_PATH)
        return QuotaReading(limit=limit, used=used,
                            reset_at=next_local_midnight(now, self.quotas.config.reset_timezone))

    def discover_targets(self, *, now: float, window: float) -> dict[str, float]:
        """The articles mass-sent in the last ``window`` seconds (datacube, one call a day;
        :mod:`worker.targets.discovery`)."""
        return discover(self.article_summary, now=now, window=window)

    def api_quota(self, cgi_path: str) -> tuple[int, int]:
        """``(daily_limit, used)`` of one API today, from ``openapi/quota/get``."""
        answer = self._call(c.W_QUOTA_GET, {"cgi_path": cgi_path})
        body = answer.body
        quota = body.get("quota") if isinstance(body, Mapping) else None
        limit = as_int(quota.get("daily_limit")) if isinstance(quota, Mapping) else None
        used = as_int(quota.get("used")) if isinstance(quota, Mapping) else None
        if limit is None or used is None:
            raise self._transport.malformed(c.W_QUOTA_GET, answer, "no quota{daily_limit,used}")
        return limit, used
