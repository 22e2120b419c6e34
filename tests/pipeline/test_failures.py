"""The one failure policy: each kind of exception and the verdict it gets (pure logic)."""

from __future__ import annotations

import time
from typing import TypeVar

import pytest

from worker.errors import (
    ActionDisabledError,
    AuthError,
    PlatformError,
    QuotaError,
    RateLimitedError,
    TargetGoneError,
    TransientError,
)
from worker.pipeline.failures import (
    QUOTA_WAIT_SECONDS,
    RATE_LIMIT_WAIT_SECONDS,
    TOKEN_WAIT_SECONDS,
    Verdict,
    dispose,
)
from worker.platforms.codes import TOKEN_ENDPOINTS

E = TypeVar("E", bound=PlatformError)


def answer(cls: type[E], message: str, code: int) -> E:
    """The platform's answer ``code`` to a delete of account ``oa``, as ``cls``."""
    return cls(message, code=code, platform="wechat", endpoint="comment/delete", account="oa")


def test_what_the_platform_did_not_answer_is_retried_and_not_answered() -> None:
    disposition = dispose(KeyError("data"))
    assert disposition.verdict is Verdict.RETRY
    assert not disposition.answered and disposition.code is None
    assert disposition.reason == "KeyError: 'data'"


@pytest.mark.parametrize("error", [
    answer(TransientError, "system busy", -1),
    answer(AuthError, "invalid credential", 40001),
])
def test_a_transient_or_auth_answer_is_retried(error: PlatformError) -> None:
    disposition = dispose(error)
    assert disposition.verdict is Verdict.RETRY and disposition.answered
    assert (disposition.code, disposition.message) == (error.code, error.platform_message)
    assert disposition.reason == str(error)


def test_a_quota_answer_defers_until_the_quota_resumes() -> None:
    error = answer(QuotaError, "reach max api daily quota limit", 45009)
    error.resume_at = time.time() + 3600
    disposition = dispose(error)
    assert disposition.verdict is Verdict.DEFER and disposition.answered
    assert disposition.resume_at == error.resume_at and disposition.wait == QUOTA_WAIT_SECONDS
    assert 3_500_000 < disposition.delay_ms() <= 3_600_250


def test_our_limiter_waits_and_says_so() -> None:
    error = answer(RateLimitedError, "api freq out of limit", 45011)
    disposition = dispose(error)
    assert disposition.verdict is Verdict.WAIT and disposition.waiting_for == "rate_limit"
    assert disposition.resume_at is None and disposition.wait == RATE_LIMIT_WAIT_SECONDS
    assert disposition.delay_ms() == int(RATE_LIMIT_WAIT_SECONDS * 1000) + 250


def test_a_busy_token_endpoint_waits_for_the_token() -> None:
    endpoint = sorted(TOKEN_ENDPOINTS)[0]
    error = TransientError("system busy", code=-1, platform="wechat", endpoint=endpoint)
    disposition = dispose(error)
    assert disposition.verdict is Verdict.WAIT and disposition.waiting_for == "token"
    assert disposition.wait == TOKEN_WAIT_SECONDS


@pytest.mark.parametrize(("error", "disables", "gone"), [
    (answer(ActionDisabledError, "without comment privilege", 88000), True, False),
    (answer(TargetGoneError, "msg_data_id invalid", 88001), False, True),
])
def test_a_refusal_fails_for_good(error: PlatformError, disables: bool, gone: bool) -> None:
    disposition = dispose(error)
    assert disposition.verdict is Verdict.FAIL and disposition.answered
    assert (disposition.disables, disposition.target_gone) == (disables, gone)
    assert disposition.refusal == f"{error.code}: {error.platform_message}"


def test_a_delay_is_at_least_a_second_even_when_the_resume_time_has_passed() -> None:
    error = answer(QuotaError, "quota", 45009)
    error.resume_at = time.time() - 60
    assert dispose(error).delay_ms() == 1000
