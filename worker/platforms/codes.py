"""The one table of platform error codes: what each code means for each endpoint.

Nothing above ``worker.platforms`` knows an error code. A code is looked up here, by platform
and endpoint, and becomes a :class:`Kind`; :func:`make_error` turns the kind into an exception
of the :mod:`worker.errors` tree. Sources: ``api-notes.md`` §2.4 (token and global WeChat
codes), §3 (comment codes), §5 (blacklist codes), §6.2 (Weibo codes).

A code whose meaning depends on the endpoint (88001, 88004, 88008, 87009, 88009, 20201, and
40001 on the token endpoints) has a per-endpoint override; every other code means the same
on every endpoint. A code in no table is a :class:`PermanentError`: retrying what we cannot
name would burn quota, and the audit shows the code and the platform's message.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType

from worker.errors import (
    ActionDisabledError,
    AlreadyDoneError,
    AuthError,
    PermanentError,
    PlatformError,
    QuotaError,
    RateLimitedError,
    TargetGoneError,
    TransientError,
)


class Kind(enum.Enum):
    """What a platform answer means for the caller."""

    TRANSIENT = "transient"  # retry with backoff
    RATE_LIMITED = "rate_limited"  # per-minute limit: retry from the next minute
    AUTH = "auth"  # token dead: drop it, fetch a fresh one, retry once
    QUOTA_DAILY = "quota_daily"  # pause the endpoint until the next local midnight
    QUOTA_HOURLY = "quota_hourly"  # pause the endpoint until the next full hour
    PERMANENT = "permanent"  # no retry
    TARGET_GONE = "target_gone"  # the article / post is gone: stop polling it
    ACTION_DISABLED = "action_disabled"  # the account may not use this API
    ALREADY_DONE = "already_done"  # the effect already holds: success


ERROR_CLASSES: Mapping[Kind, type[PlatformError]] = MappingProxyType(
    {
        Kind.TRANSIENT: TransientError,
        Kind.RATE_LIMITED: RateLimitedError,
        Kind.AUTH: AuthError,
        Kind.QUOTA_DAILY: QuotaError,
        Kind.QUOTA_HOURLY: QuotaError,
        Kind.PERMANENT: PermanentError,
        Kind.TARGET_GONE: TargetGoneError,
        Kind.ACTION_DISABLED: ActionDisabledError,
        Kind.ALREADY_DONE: AlreadyDoneError,
    }
)


@dataclass(frozen=True, slots=True)
class Code:
    """One error code: its kind on every endpoint, or per endpoint where meaning differs."""

    meaning: str
    kind: Kind
    per_endpoint: Mapping[str, Kind] = field(default_factory=dict)

    def kind_for(self, endpoint: str) -> Kind:
        return self.per_endpoint.get(endpoint, self.kind)


# WeChat endpoint names (the path after /cgi-bin/).
W_TOKEN = "token"
W_STABLE_TOKEN = "stable_token"
W_LIST = "comment/list"
W_OPEN = "comment/open"
W_CLOSE = "comment/close"
W_MARKELECT = "comment/markelect"
W_UNMARKELECT = "comment/unmarkelect"
W_DELETE = "comment/delete"
W_REPLY_ADD = "comment/reply/add"
W_REPLY_DELETE = "comment/reply/delete"
W_BLACKLIST = "tags/members/batchblacklist"
W_UNBLACKLIST = "tags/members/batchunblacklist"
W_GETBLACKLIST = "tags/members/getblacklist"
W_ARTICLE_SUMMARY = "datacube/getarticlesummary"  # at /datacube/..., not under /cgi-bin/
W_QUOTA_GET = "openapi/quota/get"
W_LIST_CGI_PATH = "/cgi-bin/comment/list"  # openapi/quota/get's name of the listing
# Not a path: the quota-pause scope of ``stable_token`` calls with ``force_refresh=true``.
# Forced refreshes have their own daily limit (20, api-notes §2.2), so a 45009 answered to
# one pauses forced refreshes only; normal ``stable_token`` fetches go on.
W_STABLE_TOKEN_FORCE = "stable_token/force"

# Weibo endpoint names (the path after /2/, without .json).
B_SHOW = "comments/show"
B_DESTROY = "comments/destroy_batch/own/biz"
B_SHOW_BATCH = "comments/show_batch/biz"
B_TO_ME = "comments/to_me/biz"
# The commercial endpoints (c.api.weibo.com): one limit for all of them, per caller IP
# ("请求所有商业接口：50000次/小时/IP", api-notes §6.3).
WEIBO_COMMERCIAL_ENDPOINTS = frozenset({B_DESTROY, B_SHOW_BATCH, B_TO_ME})
# The endpoints whose success answer may be a JSON array (every other answer is an object).
WEIBO_ARRAY_ANSWERS = frozenset({B_DESTROY, B_SHOW_BATCH})

_BAD_CREDENTIALS_ON_TOKEN = {W_TOKEN: Kind.PERMANENT, W_STABLE_TOKEN: Kind.PERMANENT}

WECHAT_CODES: Mapping[int, Code] = MappingProxyType(
    {
        -1: Code("system busy", Kind.TRANSIENT),
        # 40001 on a token endpoint means the AppSecret is wrong: a refresh cannot fix that.
        40001: Code("invalid credential / access_token", Kind.AUTH, _BAD_CREDENTIALS_ON_TOKEN),
        40014: Code("invalid access_token", Kind.AUTH, _BAD_CREDENTIALS_ON_TOKEN),
        42001: Code("access_token expired", Kind.AUTH, _BAD_CREDENTIALS_ON_TOKEN),
        41001: Code("missing access_token parameter", Kind.PERMANENT),
        40002: Code("invalid grant_type", Kind.PERMANENT),
        40013: Code("invalid appid", Kind.PERMANENT),
        40125: Code("invalid appsecret", Kind.PERMANENT),
        41002: Code("missing appid", Kind.PERMANENT),
        41004: Code("missing secret", Kind.PERMANENT),
        40164: Code("caller IP not in the API IP whitelist", Kind.PERMANENT),
        40033: Code("request holds \\uXXXX escapes", Kind.PERMANENT),
        43002: Code("require POST method", Kind.PERMANENT),
        44002: Code("empty post data", Kind.PERMANENT),
        47001: Code("data format error", Kind.PERMANENT),
        40003: Code("invalid openid", Kind.PERMANENT),  # blacklist: bisected by the client
        49003: Code("openid does not belong to this appid", Kind.PERMANENT),  # likewise
        40032: Code("invalid openid list length (max 20)", Kind.PERMANENT),
        45009: Code("daily API quota reached", Kind.QUOTA_DAILY),
        45011: Code("per-minute API quota reached, retry next minute", Kind.RATE_LIMITED),
        48001: Code("api unauthorized", Kind.ACTION_DISABLED),
        50001: Code("user not authorized for this api", Kind.PERMANENT),
        50002: Code("user limited", Kind.PERMANENT),
        61023: Code("component refresh_token invalid", Kind.PERMANENT),
        88000: Code("without comment privilege", Kind.ACTION_DISABLED),
        88001: Code("msg_data is not exists", Kind.PERMANENT, {W_LIST: Kind.TARGET_GONE}),
        88002: Code("the article is limit for safety", Kind.PERMANENT),
        88003: Code("elected comment upper limit", Kind.PERMANENT),
        88004: Code("comment was deleted by user", Kind.PERMANENT, {W_DELETE: Kind.ALREADY_DONE}),
        88005: Code("already reply", Kind.PERMANENT, {W_REPLY_ADD: Kind.ALREADY_DONE}),
        88007: Code("reply content beyond max len or empty", Kind.PERMANENT),
        # The comment is gone: deleting it, un-electing it or deleting its reply is done
        # (seeds 001 and 002 list 88008 for unmarkelect and reply/delete).
        88008: Code(
            "comment is not exists",
            Kind.PERMANENT,
            {
                W_DELETE: Kind.ALREADY_DONE,
                W_UNMARKELECT: Kind.ALREADY_DONE,
                W_REPLY_DELETE: Kind.ALREADY_DONE,
            },
        ),
        88009: Code("reply is not exists", Kind.PERMANENT, {W_REPLY_DELETE: Kind.ALREADY_DONE}),
        # 87009 is "invalid signature" elsewhere; on reply/delete it means the reply is gone.
        87009: Code("reply is not exists", Kind.PERMANENT, {W_REPLY_DELETE: Kind.ALREADY_DONE}),
        88010: Code("count range error (count <= 0 or > 50)", Kind.PERMANENT),
    }
)

WEIBO_CODES: Mapping[int, Code] = MappingProxyType(
    {
        10001: Code("system error", Kind.TRANSIENT),
        10002: Code("service unavailable", Kind.TRANSIENT),
        10003: Code("remote service error", Kind.TRANSIENT),
        10009: Code("too many pending tasks", Kind.TRANSIENT),
        10010: Code("job expired", Kind.TRANSIENT),
        10011: Code("RPC error", Kind.TRANSIENT),
        10014: Code("insufficient app permissions", Kind.ACTION_DISABLED),
        10022: Code("IP requests out of rate limit", Kind.QUOTA_HOURLY),
        10023: Code("user requests out of rate limit", Kind.QUOTA_HOURLY),
        10024: Code("user requests for this API out of rate limit", Kind.QUOTA_HOURLY),
        20003: Code("user does not exist", Kind.PERMANENT),
        20016: Code("out of limit (posting too often)", Kind.RATE_LIMITED),
        20101: Code("target weibo does not exist", Kind.TARGET_GONE),
        20201: Code(
            "target comment does not exist", Kind.PERMANENT, {B_DESTROY: Kind.ALREADY_DONE}
        ),
        20203: Code("not your own comment", Kind.PERMANENT),
        # The official error example (api-notes §6.1, v1 error-code page): "Auth failed!",
        # the token was not accepted; the v2 table's 21301 says the same.
        20502: Code("auth failed", Kind.AUTH),
        21301: Code("auth failed", Kind.AUTH),
        21314: Code("token used", Kind.AUTH),
        21315: Code("token expired", Kind.AUTH),
        21316: Code("token revoked", Kind.AUTH),
        21317: Code("token rejected", Kind.AUTH),
        21319: Code("accessor was revoked", Kind.AUTH),
        21327: Code("expired_token", Kind.AUTH),
        21332: Code("invalid_access_token", Kind.AUTH),
        21337: Code("appkey permission denied", Kind.ACTION_DISABLED),
    }
)

TABLES: Mapping[str, Mapping[int, Code]] = MappingProxyType(
    {"wechat": WECHAT_CODES, "weibo": WEIBO_CODES}
)

# Blacklist answers that mean "some openid in this batch is not acceptable": bisect.
INVALID_OPENID_CODES = frozenset({40003, 49003})

# destroy_batch answers that mean "some comment in this batch is not ours" (20203): bisect.
NOT_OWN_COMMENT = 20203


class Reach(enum.Enum):
    """Whose calls a quota answer stops."""

    ENDPOINT = "endpoint"  # this endpoint of this account
    ACCOUNT = "account"  # every endpoint of this account
    IP = "ip"  # this endpoint (and those sharing its limit) of every account on our IP


# Weibo's rate-limit codes say whose limit was reached (api-notes §6.2): 10022 the caller
# IP's (every account of the daemon), 10023 the user's on every API, 10024 the user's on the
# API it names. Every other quota code stops the endpoint of the account that met it.
QUOTA_REACH: Mapping[tuple[str, int], Reach] = MappingProxyType(
    {("weibo", 10022): Reach.IP, ("weibo", 10023): Reach.ACCOUNT}
)


def quota_reach(platform: str, code: int | None) -> Reach:
    """Whose calls the quota answer ``code`` stops."""
    if code is None:
        return Reach.ENDPOINT
    return QUOTA_REACH.get((platform, code), Reach.ENDPOINT)

# comment/list "count range error": the client's page size exceeds the platform's limit.
COUNT_RANGE_ERROR = 88010


def classify(platform: str, endpoint: str, code: int) -> Kind:
    """The kind of ``code`` answered by ``endpoint``; unknown codes are permanent."""
    entry = TABLES[platform].get(code)
    return entry.kind_for(endpoint) if entry is not None else Kind.PERMANENT


def classify_http_status(status: int) -> Kind:
    """The kind of a failed HTTP answer that carried no platform error code."""
    if status in (408, 429) or status >= 500:
        return Kind.RATE_LIMITED if status == 429 else Kind.TRANSIENT
    return Kind.PERMANENT


def make_error(
    kind: Kind,
    message: str,
    *,
    platform: str,
    endpoint: str,
    account: str | None,
    code: int | None,
    http_status: int | None,
) -> PlatformError:
    """An exception of the class ``kind`` maps to, carrying every field of the call."""
    cls = ERROR_CLASSES[kind]
    return cls(
        message or "(no message)",
        platform=platform,
        endpoint=endpoint,
        account=account,
        code=code,
        http_status=http_status,
    )


#: WeChat answers that say the app's credentials or its caller are not accepted: invalid
#: appid, invalid or missing secret, IP not whitelisted, API unauthorized for the app.
CREDENTIAL_CODES: Mapping[str, frozenset[int]] = MappingProxyType({
    "wechat": frozenset({40013, 40125, 41002, 41004, 40164, 48001}),
})
TOKEN_ENDPOINTS = frozenset({W_STABLE_TOKEN, W_TOKEN})


def refuses_credentials(error: PlatformError) -> bool:
    """Whether ``error`` says the account's credentials are not (or no longer) accepted.

    An :class:`AuthError` reaching a caller is one the client could not fix by fetching a new
    token (for Weibo's configured token, none can); a permanent answer of a token endpoint is
    a wrong secret or app id; some codes say so on any endpoint (:data:`CREDENTIAL_CODES`)."""
    if isinstance(error, AuthError):
        return True
    if isinstance(error, PermanentError) and not isinstance(error, TargetGoneError):
        return (error.endpoint in TOKEN_ENDPOINTS
                or error.code in CREDENTIAL_CODES.get(error.platform, frozenset()))
    return False
