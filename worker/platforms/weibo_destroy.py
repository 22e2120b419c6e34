"""Weibo's batch delete: one ``destroy_batch`` batch carried through its partial answers.

Every documented answer shape is accepted: the single comment object of the seed document
(that one deleted), an array of the deleted comments, or ``{"result": true}`` (all deleted).
Ids a successful answer leaves unconfirmed are looked up with one ``comments/show_batch/biz``
call (api-notes §6.3): an id that no longer exists is ``deleted``, one that still exists is
``not_deleted``.

Error answers about some ids of a batch do not stop the others:

- 20201 (some comment does not exist) on several ids: one ``show_batch`` call tells the gone
  ones (``already_gone``) and the rest is sent again in one call (halves, should
  ``show_batch`` fail or contradict the answer);
- 20203 (not your own comment) on several ids: the batch is split in halves until each such
  id stands alone in ``not_own``, every other id going through.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping

import structlog

from worker.errors import (
    AlreadyDoneError,
    AuthError,
    PermanentError,
    PlatformError,
    QuotaError,
)
from worker.platforms import codes as c
from worker.platforms.http import Answer
from worker.platforms.parsing import as_int, weibo_comment_ids
from worker.platforms.results import DestroyResult

_log = structlog.get_logger()

MAX_BATCH = 20  # cids per destroy_batch call
MAX_SHOW_BATCH = 50  # cids per show_batch call

#: Sends one ``destroy_batch`` call for these ids.
SendDestroy = Callable[[list[str]], Answer]
#: The ids of these that ``show_batch`` still finds.
FindExisting = Callable[[list[str]], list[str]]
#: The error for an answer that is not what the endpoint documents.
Malformed = Callable[[str, Answer, str], Exception]


class BatchDestroy:
    """One batch's destroy calls and what they found out (use once: :meth:`run`)."""

    def __init__(
        self, *, send: SendDestroy, find_existing: FindExisting, malformed: Malformed,
        account: str,
    ) -> None:
        self._send = send
        self._find_existing = find_existing
        self._malformed = malformed
        self._account = account
        self.deleted: list[str] = []
        self.gone: list[str] = []
        self.not_own: list[str] = []
        self.unconfirmed: list[str] = []
        self.shapes: set[str] = set()
        self.calls = 0

    def run(self, batch: list[str]) -> DestroyResult:
        """Destroy ``batch`` (distinct ids, at most :data:`MAX_BATCH`)."""
        pending = [batch] if batch else []
        while pending:
            part = pending.pop()
            self.calls += 1
            try:
                answer = self._send(part)
            except AlreadyDoneError as err:
                pending.extend(self._some_gone(part, err))
                continue
            except PermanentError as err:
                if err.code != c.NOT_OWN_COMMENT:
                    raise
                pending.extend(self._some_not_own(part, err))
                continue
            shape, confirmed = self._destroyed(answer, part)
            self.shapes.add(shape)
            self.deleted.extend(confirmed)
            self.unconfirmed.extend(cid for cid in part if cid not in confirmed)
        if self.unconfirmed:
            self.calls += 1
            self.deleted.extend(self._verified_gone(self.unconfirmed))
        return self._result(batch)

    def _some_gone(self, part: list[str], err: AlreadyDoneError) -> list[list[str]]:
        """20201 on ``part``: the gone ids are ``already_gone``; the parts to send again."""
        if len(part) == 1:
            self._log_single(part[0], err, "already_done")
            self.gone.append(part[0])
            self.shapes.add("already_gone")
            return []
        self.calls += 1
        existing = self._existing_or_none(part)
        if existing is None or len(existing) == len(part):
            return _halves(part)  # no check, or the check says all exist
        self.gone.extend(cid for cid in part if cid not in existing)
        self.shapes.add("already_gone")
        return [existing] if existing else []

    def _some_not_own(self, part: list[str], err: PermanentError) -> list[list[str]]:
        """20203 on ``part``: a lone id is ``not_own``; a larger part is sent again in halves."""
        if len(part) == 1:
            self._log_single(part[0], err, "not_own")
            self.not_own.append(part[0])
            return []
        return _halves(part)

    def _result(self, batch: list[str]) -> DestroyResult:
        done = set(self.deleted) | set(self.gone) | set(self.not_own)
        order = {cid: i for i, cid in enumerate(batch)}
        shapes = self.shapes
        return DestroyResult(
            deleted=sorted(set(self.deleted), key=order.__getitem__),
            already_gone=sorted(set(self.gone) - set(self.deleted), key=order.__getitem__),
            not_deleted=[cid for cid in batch if cid not in done],
            not_own=sorted(set(self.not_own), key=order.__getitem__),
            shape=shapes.pop() if len(shapes) == 1 else ("mixed" if shapes else "none"),
            calls=self.calls,
        )

    def _log_single(self, cid: str, err: PlatformError, outcome: str) -> None:
        _log.info(
            "weibo.destroy_refused" if outcome == "not_own" else "weibo.already_done",
            account=self._account, endpoint=c.B_DESTROY, comment_id=cid, errcode=err.code,
            outcome=outcome,
        )

    def _existing_or_none(self, cids: list[str]) -> list[str] | None:
        """The ids of ``cids`` that still exist, or None when that check failed for a reason
        that does not stop destroy calls too (quota and auth errors propagate)."""
        try:
            return self._find_existing(cids)
        except (QuotaError, AuthError):
            raise
        except PlatformError as err:
            _log.warning(
                "weibo.gone_check_failed", account=self._account, endpoint=err.endpoint,
                errcode=err.code, error=type(err).__name__, ids=len(cids),
                detail="splitting the batch instead",
            )
            return None

    def _verified_gone(self, cids: list[str]) -> list[str]:
        """The ids of ``cids`` that ``show_batch`` no longer finds. When the check itself
        fails, none: the ids stay ``not_deleted``, and sending them again is safe (a gone
        comment answers 20201)."""
        try:
            existing = set(self._find_existing(cids))
        except PlatformError as err:
            _log.warning(
                "weibo.destroy_unverified", account=self._account, endpoint=err.endpoint,
                errcode=err.code, error=type(err).__name__, unverified=len(cids),
            )
            return []
        gone = [cid for cid in cids if cid not in existing]
        _log.info(
            "weibo.destroy_verified", account=self._account, endpoint=c.B_SHOW_BATCH,
            unconfirmed=len(cids), gone=len(gone), still_there=len(cids) - len(gone),
        )
        return gone

    def _destroyed(self, answer: Answer, part: list[str]) -> tuple[str, list[str]]:
        """(shape, ids of ``part`` the answer confirms deleted)."""
        body = answer.body
        if isinstance(body, list):
            returned = set(weibo_comment_ids(body))
            return "list", [cid for cid in part if cid in returned]
        if isinstance(body, Mapping):
            if "result" in body:
                result = body["result"]
                ok = result is True or (isinstance(result, str) and result.lower() == "true")
                return "result", list(part) if ok else []
            single = weibo_comment_ids([body])
            if single:
                return "comment", [cid for cid in part if cid in single]
            wrapped = body.get("comments")
            if isinstance(wrapped, list):
                returned = set(weibo_comment_ids(wrapped))
                return "list", [cid for cid in part if cid in returned]
        raise self._malformed(c.B_DESTROY, answer, "not a destroy answer")


def _halves(part: list[str]) -> list[list[str]]:
    """``part`` split in two, the first half last (it is sent first from a stack)."""
    middle = len(part) // 2
    return [part[middle:], part[:middle]]


def distinct_cids(cids: Iterable[int | str]) -> list[str]:
    """Comment ids as decimal strings, first occurrence order; ValueError on a bad one."""
    batch: list[str] = []
    for cid in cids:
        value = as_int(cid)
        if value is None or value <= 0:
            raise ValueError(f"not a Weibo comment id: {cid!r}")
        if str(value) not in batch:
            batch.append(str(value))
    return batch
