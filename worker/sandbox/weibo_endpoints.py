"""The Weibo endpoints: ``GET /2/comments/show.json``,
``POST /2/comments/destroy_batch/own/biz.json``, ``GET /2/comments/show_batch/biz.json`` and
``GET /2/comments/to_me/biz.json``.

Errors have the documented shape ``{"request": "/comments/show.json", "error_code": 20201,
"error": "..."}``; ``error_code`` is a number by default (the destroy_batch page, seed 004)
and a string when ``faults.weibo_error_code_type`` says so (the official error-code page's
example). destroy_batch's success is the single comment object of seed 004 by default; the
array and ``{"result": true}`` shapes are ``faults.destroy_shape``.
HTTP status: 500 for 10001 (system error), 403 for the rate limits 10022-10024, 400 for
every other error.

Choices where the documents are silent:

- no token at all is 10006 (what Weibo answers when neither ``access_token`` nor ``source``
  is given); an unknown token is 21332, an expired one 21327. The token may come as the
  ``access_token`` query/form parameter or an ``Authorization: OAuth2 <token>`` header;
- a missing required parameter is 10016, a malformed one 10017;
- more than 20 ``cids`` is **10017** ("Parameter (cids)'s value invalid, expect (at most 20
  ids) ..."), the documented generic code for a parameter out of range;
- destroy deletes what it can: unknown or already deleted ids are skipped, and so are ids
  of comments under another user's posts. When nothing was deleted the answer is 20203 if
  any id was someone else's, else 20201. With ``faults.destroy_mode = "atomic"`` one such
  id fails the whole batch (20203 first, then 20201) and nothing is deleted; with
  ``"keep"`` nothing is deleted and the answer is ``[]``;
- ``comments/show`` lists comments of any existing post (it is a public API), newest first;
  ``count`` is clamped to 1..200 (default 50), ``page`` starts at 1; ``next_cursor`` is the
  id of the next older comment (use it as ``max_id``), 0 at the end;
- ``comments/show_batch/biz`` (``cids``, at most 50, api-notes §6.3) answers an array of the
  comments that still exist, in the order asked, whoever owns the post; a deleted comment,
  or one under a deleted post, is simply absent, and none found is ``[]``, not an error.
  More than 50 ids is 10017, like destroy_batch.
- ``comments/to_me/biz`` lists the comments on every post of the token's user (not on
  deleted posts), newest first, with ``since_id``/``max_id``/``count``/``page`` as
  ``comments/show`` (api-notes §6.3); each comment's ``status`` names its post.
"""

from __future__ import annotations

from bisect import bisect_right
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl

from worker.sandbox.faults import Faults
from worker.sandbox.protocol import (
    WEIBO_CONTENT_TYPE,
    ApiError,
    CallContext,
    Request,
    Response,
    json_response,
    take_limits,
)
from worker.sandbox.weibo_state import WeiboComment, WeiboState

ENDPOINTS: dict[str, str] = {
    "/2/comments/show.json": "comments/show",
    "/2/comments/destroy_batch/own/biz.json": "comments/destroy_batch/own/biz",
    "/2/comments/show_batch/biz.json": "comments/show_batch/biz",
    "/2/comments/to_me/biz.json": "comments/to_me/biz",
}
_METHODS = {
    "comments/show": "GET",
    "comments/destroy_batch/own/biz": "POST",
    "comments/show_batch/biz": "GET",
    "comments/to_me/biz": "GET",
}

ERRORS: dict[int, str] = {
    10001: "System error",
    10006: "Source paramter (appkey) is missing",
    10008: "Param error, see doc for more info",
    10016: "Miss required parameter ({0}) , see doc for more info",
    10017: "Parameter ({0})'s value invalid, expect ({1}) , but get ({2}) , see doc for more info",
    10021: "HTTP method is not suported for this request",
    10022: "IP requests out of rate limit",
    10023: "User requests out of rate limit",
    10024: "User requests for ({0}) out of rate limit",
    20101: "Target weibo does not exist",
    20201: "Target weibo comment does not exist",
    20203: "Not your own comment",
    20502: "Auth failed!",
    21301: "Auth failed",
    21327: "expired_token",
    21332: "invalid_access_token",
}

SHOW_COUNT_DEFAULT = 50


def http_status(code: int) -> int:
    if code == 10001:
        return 500
    if code in (10022, 10023, 10024):
        return 403
    return 400


def error_payload(path: str, err: ApiError, *, as_string: bool) -> dict[str, Any]:
    """The documented error object; ``request`` is the path without the ``/2`` version."""
    message = err.message if err.message is not None else ERRORS.get(err.code, "error")
    request = path[2:] if path.startswith("/2/") else path
    code: int | str = str(err.code) if as_string else err.code
    return {"request": request, "error_code": code, "error": message}


def _missing(name: str) -> ApiError:
    return ApiError(10016, ERRORS[10016].format(name))


def _invalid(name: str, expect: str, got: str) -> ApiError:
    return ApiError(10017, ERRORS[10017].format(name, expect, got))


def _int_param(params: dict[str, str], name: str, default: int) -> int:
    raw = params.get(name, "")
    if raw == "":
        return default
    if not (raw.isascii() and raw.lstrip("-").isdigit()):
        raise _invalid(name, "int64", raw[:40])
    return int(raw)


@dataclass(frozen=True, slots=True, kw_only=True)
class WeiboLimits:
    """The Weibo settings of a :class:`~worker.sandbox.Sandbox` (its docstring says each)."""

    weibo_destroy_max: int = 20
    weibo_count_max: int = 200
    weibo_show_batch_max: int = 50


def sandbox_endpoints(faults: Faults, limits: dict[str, Any]) -> WeiboApi:
    """The sandbox's Weibo (see :mod:`worker.sandbox.platforms`)."""
    return WeiboApi(state=WeiboState(), faults=faults, limits=take_limits(WeiboLimits, limits))


class WeiboApi:
    """Answers Weibo calls against a :class:`WeiboState` (the caller holds the lock)."""

    paths = ENDPOINTS

    def __init__(
        self,
        *,
        state: WeiboState,
        faults: Faults,
        limits: WeiboLimits,
    ) -> None:
        self.state = state
        self._faults = faults
        self.limits = limits

    def answer(self, req: Request, ctx: CallContext) -> Response:
        """The answer to one call: an error as ``error_code``/``error``/``request`` with the
        HTTP status Weibo gives it (the code a string when the fault says so)."""
        try:
            payload: Any = self.handle(req, ctx)
        except ApiError as err:
            as_string = self._faults.weibo_code_as_string()
            body = error_payload(req.path, err, as_string=as_string)
            status = err.http_status if err.http_status != 200 else http_status(err.code)
            return json_response(
                body, status=status, content_type=WEIBO_CONTENT_TYPE, errcode=err.code
            )
        return json_response(payload, content_type=WEIBO_CONTENT_TYPE, errcode=0)

    def to_state(self) -> dict[str, Any]:
        return self.state.to_state()

    @staticmethod
    def params(req: Request) -> dict[str, str]:
        """Query parameters, overlaid with the form body of a POST."""
        params = dict(req.query)
        if req.method == "POST" and req.body:
            form = parse_qsl(req.body.decode("utf-8", "replace"), keep_blank_values=True)
            params.update(form)
        return params

    def handle(self, req: Request, ctx: CallContext) -> Any:
        if req.method != _METHODS[ctx.endpoint]:
            raise ApiError(10021)
        params = self.params(req)
        uid = self._authenticate(req, params, ctx)
        ctx.scope = f"weibo:{uid}"
        self._guard(ctx.scope, ctx)
        if ctx.endpoint == "comments/show":
            return self._show(params)
        if ctx.endpoint == "comments/to_me/biz":
            return self._to_me(params, uid)
        if ctx.endpoint == "comments/show_batch/biz":
            return self._show_batch(params)
        return self._destroy(params, uid)

    def _authenticate(self, req: Request, params: dict[str, str], ctx: CallContext) -> int:
        value = params.get("access_token", "")
        header = req.headers.get("authorization", "")
        if not value and header.startswith("OAuth2 "):
            value = header[len("OAuth2 ") :].strip()
        if not value:
            raise ApiError(10006)
        token = self.state.tokens.get(value)
        if token is None:
            raise ApiError(21332)
        if token.expires_at is not None and ctx.now >= token.expires_at:
            raise ApiError(21327)
        return token.uid

    def _guard(self, scope: str, ctx: CallContext) -> None:
        strike = self._faults.strike(
            scope,
            ctx.endpoint,
            injected=ctx.injected,
            minute_window=int(ctx.now // 60),
            quota_window=int(ctx.now // 3600),  # Weibo limits are per hour
        )
        if strike == "minute":
            code = self._faults.weibo_minute_code
        elif strike == "quota":
            code = self._faults.weibo_quota_code
        elif strike == "busy":
            code = 10001
        elif isinstance(strike, int):
            code = strike
        else:
            return
        message = ERRORS.get(code, "error").format(ctx.endpoint)
        raise ApiError(code, message, http_status=http_status(code))

    def _show(self, params: dict[str, str]) -> dict[str, Any]:
        if not params.get("id"):
            raise _missing("id")
        status_id = _int_param(params, "id", 0)
        post = self.state.posts.get(status_id)
        if post is None or post.deleted:
            raise ApiError(20101)
        return self._page(post.visible, params)

    def _to_me(self, params: dict[str, str], uid: int) -> dict[str, Any]:
        visible = sorted(
            (
                comment
                for post in self.state.posts.values()
                if post.owner_uid == uid and not post.deleted
                for comment in post.visible
            ),
            key=_id,
        )
        return self._page(visible, params)

    def _page(self, visible: list[WeiboComment], params: dict[str, str]) -> dict[str, Any]:
        """One newest-first page of ``visible`` (sorted by id) by since_id/max_id/count/page."""
        since_id = _int_param(params, "since_id", 0)
        max_id = _int_param(params, "max_id", 0)
        count = _int_param(params, "count", SHOW_COUNT_DEFAULT)
        page = max(1, _int_param(params, "page", 1))
        if count < 1:
            count = SHOW_COUNT_DEFAULT
        count = min(count, self.limits.weibo_count_max)
        lo = bisect_right(visible, since_id, key=_id) if since_id > 0 else 0
        hi = bisect_right(visible, max_id, key=_id) if max_id > 0 else len(visible)
        end = hi - (page - 1) * count
        start = max(lo, end - count)
        chosen = visible[start:end][::-1] if end > lo else []
        return {
            "comments": [self.state.comment_to_api(c) for c in chosen],
            "marks": [],
            "hasvisible": False,
            "previous_cursor": 0,
            "next_cursor": visible[start - 1].id if chosen and start > lo else 0,
            "total_number": len(visible),
        }

    def _show_batch(self, params: dict[str, str]) -> list[dict[str, Any]]:
        found: list[dict[str, Any]] = []
        for cid in _cids(params, self.limits.weibo_show_batch_max):
            comment = self.state.comments.get(cid)
            if comment is None or comment.deleted or self.state.posts[comment.status_id].deleted:
                continue
            found.append(self.state.comment_to_api(comment))
        return found

    def _destroy(self, params: dict[str, str], uid: int) -> Any:
        deletable: list[WeiboComment] = []
        foreign = missing = False
        for cid in _cids(params, self.limits.weibo_destroy_max):
            comment = self.state.comments.get(cid)
            if comment is None or comment.deleted:
                missing = True
                continue
            post = self.state.posts[comment.status_id]
            if post.deleted:
                missing = True
                continue
            if post.owner_uid != uid:
                foreign = True
                continue
            deletable.append(comment)
        mode = self._faults.destroy_mode
        if mode == "keep":
            return []
        atomic = mode == "atomic"
        if not deletable or (atomic and (foreign or missing)):
            raise ApiError(20203 if foreign else 20201)
        deleted: list[WeiboComment] = []
        for comment in deletable:
            self.state.delete_comment(comment)
            deleted.append(comment)
        shape = self._faults.destroy_shape
        if shape == "result":
            return {"result": True}
        if shape == "single":
            return self.state.comment_to_api(deleted[0])
        return [self.state.comment_to_api(c) for c in deleted]


def _id(comment: WeiboComment) -> int:
    return comment.id


def _cids(params: dict[str, str], most: int) -> list[int]:
    """The distinct ids of the ``cids`` parameter (comma-separated int64, at most ``most``)."""
    parts = [p.strip() for p in params.get("cids", "").split(",") if p.strip()]
    if not parts:
        raise _missing("cids")
    if len(parts) > most:
        raise _invalid("cids", f"at most {most} ids", f"{len(parts)} ids")
    for part in parts:
        if not (part.isascii() and part.isdigit()):
            raise _invalid("cids", "int64", part[:40])
    return list(dict.fromkeys(int(p) for p in parts))
