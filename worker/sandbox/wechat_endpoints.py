"""The WeChat endpoints: tokens, ``/cgi-bin/comment/*`` and ``/cgi-bin/tags/members/*``.

Each handler returns the success payload or raises :class:`ApiError` with a documented
code. Where the documents are silent, the choice made here (and why) is written next to it:

- a missing or ill-typed required field (``msg_data_id``, ``user_comment_id``,
  ``openid_list``), a negative ``begin`` or a ``type`` outside 0-2 is 47001 (data format
  error), as is a body that is not a JSON object; an empty body is 44002;
- numeric fields accept JSON numbers of any size and decimal strings (WxJava sends
  ``msg_data_id`` as a string);
- a wrong secret is 40001 on classic ``/cgi-bin/token`` (what the comment documents say:
  "AppSecret error while getting access_token") and 40125 on ``stable_token``;
- 88002 (article limited for safety) is documented only for ``comment/open``; here it also
  refuses ``markelect`` and ``reply/add``, the other calls that publish something, while
  listing, closing and deleting keep working;
- a comment its author deleted answers 88004 to ``markelect`` (documented) and 88008 to
  every other comment call (it "does not exist" any more);
- ``markelect`` of an elected comment and ``unmarkelect`` of a normal one succeed;
- one reply per comment (88005); reply ``content`` is 1..``reply_max_len`` characters;
- ``getblacklist`` with a ``begin_openid`` not on the blacklist is 40003;
- ``datacube/getarticlesummary`` (api-notes §4) lists the articles mass-sent on one day
  (Asia/Shanghai) as ``msgid`` ``"<msg_data_id>_<index + 1>"``; articles added without
  ``mass_sent_at`` (published otherwise) are never listed. A date not ``YYYY-MM-DD`` is 61500;
  ``begin_date != end_date`` (the span is one day) or an ``end_date`` from today on is 61501;
- ``openapi/quota/get`` answers ``quota{daily_limit, used, remain}`` for a ``cgi_path``
  (``/cgi-bin/comment/list``...): the limit is ``faults.quota`` of that endpoint, or
  ``DEFAULT_DAILY_LIMIT`` (not enforced) when none is set; ``used`` counts today's calls that
  reached the quota check. An unknown ``cgi_path`` is 76021 (the documented "cgi_path not
  found"), a missing one 47001.
"""

from __future__ import annotations

import hmac
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from worker.sandbox.faults import Faults
from worker.sandbox.protocol import (
    WECHAT_CONTENT_TYPE,
    ApiError,
    CallContext,
    Request,
    Response,
    json_response,
    take_limits,
)
from worker.sandbox.tokens import TokenStore, china_day
from worker.sandbox.wechat_body import date_field, int_field, parse_body
from worker.sandbox.wechat_state import (
    LIST_ALL,
    LIST_ELECTED,
    Article,
    Reply,
    WechatApp,
    WechatComment,
    WechatState,
)

ERRMSG: dict[int, str] = {
    -1: "system error",
    0: "ok",
    40001: "invalid credential, access_token is invalid or not latest",
    40002: "invalid grant_type",
    40003: "invalid openid",
    40013: "invalid appid",
    40014: "invalid access_token",
    40032: "invalid openid list size",
    40033: "invalid charset. please check your request, if include \\uxxxx will create fail!",
    40125: "invalid appsecret",
    41001: "access_token missing",
    41002: "appid missing",
    41004: "appsecret missing",
    42001: "access_token expired",
    43002: "require POST method",
    44002: "empty post data",
    45009: "reach max api daily quota limit",
    45011: "api minute-quota reach limit  mustslower  retry next minute",
    47001: "data format error",
    48001: "api unauthorized",
    49003: "not match openid with appid",
    87009: "reply is not exists",
    88000: "without comment privilege",
    88001: "msg_data is not exists",
    88002: "the article is limit for safety",
    88003: "elected comment upper limit",
    88004: "comment was deleted by user",
    88005: "already reply",
    88007: "reply content beyond max len or content len is zero",
    88008: "comment is not exists",
    88010: "count range error. cout <= 0 or count > 50",
    61500: "date format error",
    61501: "date range error",
    76021: "cgi_path not found, please check",
}

#: ``openapi/quota/get``'s ``daily_limit`` for an endpoint ``faults.quota`` does not cap.
DEFAULT_DAILY_LIMIT = 10_000_000  # as good as unlimited: a test or demo sets faults.quota
_LIMITED_OPS = frozenset({"comment/open", "comment/markelect", "comment/reply/add"})

ENDPOINTS: dict[str, str] = {
    "/cgi-bin/token": "token",
    "/cgi-bin/stable_token": "stable_token",
    "/cgi-bin/comment/list": "comment/list",
    "/cgi-bin/comment/open": "comment/open",
    "/cgi-bin/comment/close": "comment/close",
    "/cgi-bin/comment/markelect": "comment/markelect",
    "/cgi-bin/comment/unmarkelect": "comment/unmarkelect",
    "/cgi-bin/comment/delete": "comment/delete",
    "/cgi-bin/comment/reply/add": "comment/reply/add",
    "/cgi-bin/comment/reply/delete": "comment/reply/delete",
    "/cgi-bin/tags/members/batchblacklist": "tags/members/batchblacklist",
    "/cgi-bin/tags/members/batchunblacklist": "tags/members/batchunblacklist",
    "/cgi-bin/tags/members/getblacklist": "tags/members/getblacklist",
    "/datacube/getarticlesummary": "datacube/getarticlesummary",
    "/cgi-bin/openapi/quota/get": "openapi/quota/get",
}

OK: dict[str, Any] = {"errcode": 0, "errmsg": "ok"}


#: The calls :meth:`~worker.sandbox.Sandbox.revoke_api` can make answer 48001.
REVOCABLE = frozenset(ENDPOINTS.values()) - {
    "token", "stable_token", "datacube/getarticlesummary", "openapi/quota/get",
}


@dataclass(frozen=True, slots=True, kw_only=True)
class WechatLimits:
    """The WeChat settings of a :class:`~worker.sandbox.Sandbox` (its docstring says each)."""

    list_count_max: int = 49  # the Chinese doc: ">= 50 is refused"
    reply_max_len: int = 300
    blacklist_batch_max: int = 20
    blacklist_page_size: int = 1000
    token_ttl: float = 7200.0
    token_overlap: float = 300.0
    stable_renew_before: float = 300.0
    stable_force_per_day: int = 20
    stable_force_interval: float = 30.0


Op = Callable[[WechatApp, dict[str, Any], CallContext], dict[str, Any]]


def sandbox_endpoints(faults: Faults, limits: dict[str, Any]) -> WechatApi:
    """The sandbox's WeChat (see :mod:`worker.sandbox.platforms`)."""
    taken = take_limits(WechatLimits, limits)
    tokens = TokenStore(
        ttl=taken.token_ttl,
        overlap=taken.token_overlap,
        renew_before=taken.stable_renew_before,
        force_per_day=taken.stable_force_per_day,
        force_interval=taken.stable_force_interval,
    )
    return WechatApi(state=WechatState(), tokens=tokens, faults=faults, limits=taken)


class WechatApi:
    """Answers WeChat calls against a :class:`WechatState` (the caller holds the lock)."""

    paths = ENDPOINTS

    def __init__(
        self, *, state: WechatState, tokens: TokenStore, faults: Faults, limits: WechatLimits
    ) -> None:
        self.state = state
        self.tokens = tokens
        self._faults = faults
        self.limits = limits
        self._rid = 0
        self._ops: dict[str, Op] = {
            "comment/list": self._list,
            "comment/open": self._open,
            "comment/close": self._close,
            "comment/markelect": self._markelect,
            "comment/unmarkelect": self._unmarkelect,
            "comment/delete": self._delete,
            "comment/reply/add": self._reply_add,
            "comment/reply/delete": self._reply_delete,
            "tags/members/batchblacklist": self._blacklist,
            "tags/members/batchunblacklist": self._unblacklist,
            "tags/members/getblacklist": self._getblacklist,
            "datacube/getarticlesummary": self._article_summary,
            "openapi/quota/get": self._quota_get,
        }

    def answer(self, req: Request, ctx: CallContext) -> Response:
        """The answer to one call: HTTP 200 always, an error as ``errcode``/``errmsg`` with
        a request id in the message, as WeChat's."""
        try:
            payload = self.handle(req, ctx)
        except ApiError as err:
            self._rid += 1
            message = err.message if err.message is not None else ERRMSG.get(err.code, "")
            payload = {"errcode": err.code, "errmsg": f"{message} rid: {self._rid:08x}-sandbox"}
            return json_response(payload, content_type=WECHAT_CONTENT_TYPE, errcode=err.code)
        return json_response(payload, content_type=WECHAT_CONTENT_TYPE, errcode=0)

    def to_state(self) -> dict[str, Any]:
        return {
            app_id: app.to_state(tokens_issued=self.tokens.issued.get(app_id, 0))
            for app_id, app in self.state.apps.items()
        }

    def handle(self, req: Request, ctx: CallContext) -> dict[str, Any]:
        if ctx.endpoint == "token":
            return self._classic_token(req, ctx)
        if req.method != "POST":
            raise ApiError(43002)
        if ctx.endpoint == "stable_token":
            return self._stable_token(req, ctx)
        token = self.tokens.check(req.query.get("access_token"), ctx.now)
        app = self.state.app(token.app_id)
        ctx.scope = app.app_id
        if ctx.endpoint in app.revoked:
            raise ApiError(48001)
        self._guard(app.app_id, ctx)
        return self._ops[ctx.endpoint](app, parse_body(req.body), ctx)

    def _guard(self, app_id: str, ctx: CallContext) -> None:
        strike = self._faults.strike(
            app_id,
            ctx.endpoint,
            injected=ctx.injected,
            minute_window=int(ctx.now // 60),
            quota_window=china_day(ctx.now),
        )
        if strike == "minute":
            raise ApiError(45011)
        if strike == "quota":
            raise ApiError(45009)
        if strike == "busy":
            raise ApiError(-1)
        if isinstance(strike, int):
            raise ApiError(strike)

    # -- tokens --------------------------------------------------------------------------

    def _credentials(
        self,
        ctx: CallContext,
        *,
        grant_type: object,
        appid: object,
        secret: object,
        wrong_secret: int,
    ) -> WechatApp:
        if not appid or not isinstance(appid, str):
            raise ApiError(41002)
        if not secret or not isinstance(secret, str):
            raise ApiError(41004)
        if grant_type != "client_credential":
            raise ApiError(40002)
        app = self.state.apps.get(appid)
        if app is None:
            raise ApiError(40013)
        app.token_fetches += 1
        ctx.scope = app.app_id
        if not hmac.compare_digest(secret.encode(), app.app_secret.encode()):
            raise ApiError(wrong_secret)
        self._guard(app.app_id, ctx)
        return app

    def _classic_token(self, req: Request, ctx: CallContext) -> dict[str, Any]:
        q = req.query
        app = self._credentials(
            ctx,
            grant_type=q.get("grant_type"),
            appid=q.get("appid"),
            secret=q.get("secret"),
            wrong_secret=40001,
        )
        token = self.tokens.classic(app.app_id, ctx.now)
        return {"access_token": token.value, "expires_in": token.expires_in(ctx.now)}

    def _stable_token(self, req: Request, ctx: CallContext) -> dict[str, Any]:
        body = parse_body(req.body)
        app = self._credentials(
            ctx,
            grant_type=body.get("grant_type"),
            appid=body.get("appid"),
            secret=body.get("secret"),
            wrong_secret=40125,
        )
        force = body.get("force_refresh", False)
        if not isinstance(force, bool):
            raise ApiError(47001, "data format error hint: [force_refresh invalid]")
        token = self.tokens.stable(app.app_id, ctx.now, force=force)
        return {"access_token": token.value, "expires_in": token.expires_in(ctx.now)}

    # -- comments ------------------------------------------------------------------------

    @staticmethod
    def _article(app: WechatApp, body: dict[str, Any], ctx: CallContext) -> Article:
        msg_data_id = int_field(body, "msg_data_id")
        index = int_field(body, "index", default=0)
        article = app.articles.get((msg_data_id, index))
        if article is None:
            raise ApiError(88001)
        if not article.privilege:
            raise ApiError(88000)
        if article.limited and ctx.endpoint in _LIMITED_OPS:
            raise ApiError(88002)
        return article

    @staticmethod
    def _comment(
        article: Article, body: dict[str, Any], *, user_deleted: int = 88008
    ) -> WechatComment:
        comment = article.get(int_field(body, "user_comment_id"))
        if comment is None or comment.deleted:
            raise ApiError(88008)
        if comment.user_deleted:
            raise ApiError(user_deleted)
        return comment

    def _list(self, app: WechatApp, body: dict[str, Any], ctx: CallContext) -> dict[str, Any]:
        article = self._article(app, body, ctx)
        begin = int_field(body, "begin", default=0)
        count = int_field(body, "count", default=0)
        list_type = int_field(body, "type", default=LIST_ALL)
        if begin < 0 or not LIST_ALL <= list_type <= LIST_ELECTED:
            raise ApiError(47001)
        if not 1 <= count <= self.limits.list_count_max:
            raise ApiError(88010)
        total, comments = article.page(
            list_type, begin, count, oldest_first=self._faults.wechat_list_order == "oldest"
        )
        return {**OK, "total": total, "comment": [c.to_api() for c in comments]}

    def _open(self, app: WechatApp, body: dict[str, Any], ctx: CallContext) -> dict[str, Any]:
        self._article(app, body, ctx).comments_open = True
        return dict(OK)

    def _close(self, app: WechatApp, body: dict[str, Any], ctx: CallContext) -> dict[str, Any]:
        self._article(app, body, ctx).comments_open = False
        return dict(OK)

    def _markelect(self, app: WechatApp, body: dict[str, Any], ctx: CallContext) -> dict[str, Any]:
        article = self._article(app, body, ctx)
        comment = self._comment(article, body, user_deleted=88004)
        if not comment.elected:
            if article.max_elected is not None and article.elected_count >= article.max_elected:
                raise ApiError(88003)
            article.set_elected(comment, True)
        return dict(OK)

    def _unmarkelect(
        self, app: WechatApp, body: dict[str, Any], ctx: CallContext
    ) -> dict[str, Any]:
        article = self._article(app, body, ctx)
        article.set_elected(self._comment(article, body), False)
        return dict(OK)

    def _delete(self, app: WechatApp, body: dict[str, Any], ctx: CallContext) -> dict[str, Any]:
        article = self._article(app, body, ctx)
        comment = self._comment(article, body)
        article.hide(comment)
        comment.deleted = True
        return dict(OK)

    def _reply_add(self, app: WechatApp, body: dict[str, Any], ctx: CallContext) -> dict[str, Any]:
        article = self._article(app, body, ctx)
        comment = self._comment(article, body)
        if comment.reply is not None:
            raise ApiError(88005)
        content = body.get("content")
        if not isinstance(content, str) or not 0 < len(content) <= self.limits.reply_max_len:
            raise ApiError(88007)
        comment.reply = Reply(content=content, create_time=int(ctx.now))
        return dict(OK)

    def _reply_delete(
        self, app: WechatApp, body: dict[str, Any], ctx: CallContext
    ) -> dict[str, Any]:
        comment = self._comment(self._article(app, body, ctx), body)
        if comment.reply is None:
            raise ApiError(87009)
        comment.reply = None
        return dict(OK)

    # -- blacklist -----------------------------------------------------------------------

    def _openid_list(self, app: WechatApp, body: dict[str, Any]) -> list[str]:
        """The batch, refused whole (nothing changes) for one bad openid: the first bad one
        in list order decides between 40003 (unknown) and 49003 (another app's)."""
        openids = body.get("openid_list")
        if not isinstance(openids, list) or not all(isinstance(o, str) for o in openids):
            raise ApiError(47001, "data format error hint: [openid_list invalid]")
        if not 1 <= len(openids) <= self.limits.blacklist_batch_max:
            raise ApiError(40032)
        for openid in openids:
            if openid in app.foreign:
                raise ApiError(49003)
            if openid not in app.followers:
                raise ApiError(40003)
        return openids

    def _blacklist(self, app: WechatApp, body: dict[str, Any], ctx: CallContext) -> dict[str, Any]:
        for openid in self._openid_list(app, body):
            app.blacklist[openid] = None
        return dict(OK)

    def _unblacklist(
        self, app: WechatApp, body: dict[str, Any], ctx: CallContext
    ) -> dict[str, Any]:
        for openid in self._openid_list(app, body):
            app.blacklist.pop(openid, None)
        return dict(OK)

    def _getblacklist(
        self, app: WechatApp, body: dict[str, Any], ctx: CallContext
    ) -> dict[str, Any]:
        begin = body.get("begin_openid") or ""
        if not isinstance(begin, str):
            raise ApiError(47001, "data format error hint: [begin_openid invalid]")
        openids = list(app.blacklist)
        start = 0
        if begin:
            if begin not in app.blacklist:
                raise ApiError(40003)
            start = openids.index(begin) + 1
        page = openids[start : start + self.limits.blacklist_page_size]
        return {
            "total": len(openids),
            "count": len(page),
            "data": {"openid": page},
            "next_openid": page[-1] if page else "",
        }

    # -- datacube and quota ----------------------------------------------------------------

    def _article_summary(
        self, app: WechatApp, body: dict[str, Any], ctx: CallContext
    ) -> dict[str, Any]:
        begin, end = date_field(body, "begin_date"), date_field(body, "end_date")
        if begin != end or end >= china_day(ctx.now):
            raise ApiError(61501)
        found = [
            a for a in app.articles.values()
            if a.mass_sent_at is not None and china_day(a.mass_sent_at) == end
        ]
        found.sort(key=lambda a: (a.mass_sent_at or 0.0, a.msg_data_id, a.index))
        ref_date = str(body["end_date"])
        return {"list": [
            {
                "ref_date": ref_date,
                "msgid": f"{a.msg_data_id}_{a.index + 1}",
                "title": a.title,
                "int_page_read_user": 0,
                "int_page_read_count": 0,
                "ori_page_read_user": 0,
                "ori_page_read_count": 0,
                "share_user": 0,
                "share_count": 0,
                "add_to_fav_user": 0,
                "add_to_fav_count": 0,
            }
            for a in found
        ]}

    def _quota_get(self, app: WechatApp, body: dict[str, Any], ctx: CallContext) -> dict[str, Any]:
        path = body.get("cgi_path")
        if not isinstance(path, str) or not path:
            raise ApiError(47001, "data format error hint: [cgi_path missing]")
        endpoint = ENDPOINTS.get(path)
        if endpoint is None:
            raise ApiError(76021)
        limit = self._faults.quota.get(endpoint, DEFAULT_DAILY_LIMIT)
        used = self._faults.quota_used(
            app.app_id, endpoint, quota_window=china_day(ctx.now)
        )
        used = min(used, limit)
        return {**OK, "quota": {"daily_limit": limit, "used": used, "remain": limit - used}}

