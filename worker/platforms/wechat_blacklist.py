"""WeChat (un)blacklist batches: a batch refused for a bad openid is split until it stands alone."""

from __future__ import annotations

from collections.abc import Callable, Iterable

import structlog

from worker.errors import BatchTooLargeError, PermanentError
from worker.platforms import codes as c

_log = structlog.get_logger()

MAX_BATCH = 20  # openids per (un)blacklist call


def send_openid_batch(
    call: Callable[[list[str]], object], endpoint: str, openids: Iterable[str | None], *,
    account: str,
) -> tuple[list[str], list[str], int, int]:
    """Send a batch through ``call``; a batch rejected for a bad openid (40003, 49003) is split
    in halves until every good openid went through and every bad one stands alone.

    Returns (done, invalid, skipped, calls). Empty/None/duplicate openids are skipped, never
    sent. More than 20 distinct openids: BatchTooLargeError before any call. Any other failure
    propagates (re-sending the whole batch later is safe: (un)blacklisting is idempotent).
    """
    given = list(openids)
    batch: list[str] = []
    for openid in given:
        if isinstance(openid, str) and openid.strip() and openid not in batch:
            batch.append(openid)
    if len(batch) > MAX_BATCH:
        raise BatchTooLargeError(
            f"{endpoint}: {len(batch)} openids, at most {MAX_BATCH} per call"
        )
    done: list[str] = []
    invalid: list[str] = []
    calls = 0

    def send(part: list[str]) -> None:
        nonlocal calls
        calls += 1
        try:
            call(part)
        except PermanentError as err:
            if err.code not in c.INVALID_OPENID_CODES:
                raise
            if len(part) == 1:
                _log.info(
                    "wechat.invalid_openid", account=account, endpoint=endpoint,
                    errcode=err.code,
                )
                invalid.append(part[0])
                return
            middle = len(part) // 2
            send(part[:middle])
            send(part[middle:])
            return
        done.extend(part)

    if batch:
        send(batch)
    return done, invalid, len(given) - len(batch), calls
