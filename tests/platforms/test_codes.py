"""The code table: every documented code maps to the right class, per endpoint."""

from __future__ import annotations

import pickle

import pytest

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
from worker.platforms import codes as c
from worker.platforms.codes import Kind, Reach, classify, make_error, quota_reach

WECHAT_COMMENT_ENDPOINTS = [
    c.W_LIST, c.W_OPEN, c.W_CLOSE, c.W_MARKELECT, c.W_UNMARKELECT, c.W_DELETE, c.W_REPLY_ADD,
    c.W_REPLY_DELETE,
]


def cls(platform: str, endpoint: str, code: int) -> type[PlatformError]:
    return type(
        make_error(
            classify(platform, endpoint, code), "m", platform=platform, endpoint=endpoint,
            account="a", code=code, http_status=200,
        )
    )


@pytest.mark.parametrize(
    ("endpoint", "code", "expected"),
    [
        (c.W_DELETE, 88008, AlreadyDoneError),
        (c.W_DELETE, 88004, AlreadyDoneError),
        (c.W_MARKELECT, 88004, PermanentError),
        (c.W_MARKELECT, 88008, PermanentError),
        (c.W_UNMARKELECT, 88008, AlreadyDoneError),
        (c.W_REPLY_DELETE, 88008, AlreadyDoneError),
        (c.W_REPLY_ADD, 88008, PermanentError),
        (c.W_REPLY_ADD, 88005, AlreadyDoneError),
        (c.W_REPLY_DELETE, 87009, AlreadyDoneError),
        (c.W_REPLY_DELETE, 88009, AlreadyDoneError),
        (c.W_LIST, 87009, PermanentError),
        (c.W_LIST, 88001, TargetGoneError),
        (c.W_DELETE, 88001, PermanentError),
        (c.W_LIST, 88000, ActionDisabledError),
        (c.W_REPLY_ADD, 48001, ActionDisabledError),
        (c.W_MARKELECT, 88003, PermanentError),
        (c.W_REPLY_ADD, 88007, PermanentError),
        (c.W_OPEN, 88002, PermanentError),
        (c.W_LIST, 88010, PermanentError),
        (c.W_LIST, 45009, QuotaError),
        (c.W_LIST, 45011, RateLimitedError),
        (c.W_LIST, -1, TransientError),
        (c.W_LIST, 40001, AuthError),
        (c.W_LIST, 40014, AuthError),
        (c.W_LIST, 42001, AuthError),
        (c.W_STABLE_TOKEN, 40001, PermanentError),
        (c.W_TOKEN, 40001, PermanentError),
        (c.W_STABLE_TOKEN, 40125, PermanentError),
        (c.W_TOKEN, 40164, PermanentError),
        (c.W_BLACKLIST, 40003, PermanentError),
        (c.W_BLACKLIST, 49003, PermanentError),
        (c.W_BLACKLIST, 40032, PermanentError),
        (c.W_LIST, 12345678, PermanentError),  # unknown
    ],
)
def test_wechat_codes(endpoint: str, code: int, expected: type[PlatformError]) -> None:
    assert cls("wechat", endpoint, code) is expected


@pytest.mark.parametrize(
    ("endpoint", "code", "expected"),
    [
        (c.B_SHOW, 10001, TransientError),
        (c.B_DESTROY, 10011, TransientError),
        (c.B_SHOW, 10014, ActionDisabledError),
        (c.B_SHOW, 10022, QuotaError),
        (c.B_DESTROY, 10023, QuotaError),
        (c.B_DESTROY, 10024, QuotaError),
        (c.B_SHOW, 20101, TargetGoneError),
        (c.B_DESTROY, 20201, AlreadyDoneError),
        (c.B_SHOW, 20201, PermanentError),
        (c.B_DESTROY, 20203, PermanentError),
        (c.B_SHOW, 20502, AuthError),
        (c.B_DESTROY, 20502, AuthError),
        (c.B_SHOW_BATCH, 20502, AuthError),
        (c.B_SHOW, 21327, AuthError),
        (c.B_SHOW, 21332, AuthError),
        (c.B_DESTROY, 21337, ActionDisabledError),
        (c.B_SHOW, 99999, PermanentError),
    ],
)
def test_weibo_codes(endpoint: str, code: int, expected: type[PlatformError]) -> None:
    assert cls("weibo", endpoint, code) is expected


def test_quota_kinds_tell_daily_from_hourly() -> None:
    assert classify("wechat", c.W_DELETE, 45009) is Kind.QUOTA_DAILY
    assert classify("weibo", c.B_SHOW, 10023) is Kind.QUOTA_HOURLY


def test_every_comment_endpoint_knows_the_global_codes() -> None:
    for endpoint in WECHAT_COMMENT_ENDPOINTS:
        assert classify("wechat", endpoint, 45009) is Kind.QUOTA_DAILY
        assert classify("wechat", endpoint, 88000) is Kind.ACTION_DISABLED
        assert classify("wechat", endpoint, 42001) is Kind.AUTH


def test_errors_carry_every_field_and_survive_pickling() -> None:
    err = make_error(
        Kind.QUOTA_DAILY, "reach max api daily quota limit", platform="wechat",
        endpoint=c.W_LIST, account="oa", code=45009, http_status=200,
    )
    assert isinstance(err, QuotaError)
    err.resume_at = 123.0
    back = pickle.loads(pickle.dumps(err))
    assert (back.platform, back.account, back.endpoint, back.code, back.http_status) == (
        "wechat", "oa", c.W_LIST, 45009, 200,
    )
    assert back.platform_message == "reach max api daily quota limit"
    assert back.resume_at == 123.0
    assert "code=45009" in str(back)


def test_quota_reach_per_code() -> None:
    assert quota_reach("weibo", 10022) is Reach.IP
    assert quota_reach("weibo", 10023) is Reach.ACCOUNT
    assert quota_reach("weibo", 10024) is Reach.ENDPOINT
    assert quota_reach("wechat", 45009) is Reach.ENDPOINT
    assert quota_reach("weibo", None) is Reach.ENDPOINT
