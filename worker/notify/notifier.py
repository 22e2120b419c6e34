"""The notification queue in Redis and its flushing.

Keys, per channel ``<c>`` = ``<p>:notify:<channel>``:

- ``<c>:pending`` list: entries (JSON) not yet digested; capped at ``MAX_PENDING`` newest;
- ``<c>:outbox`` list: digest messages (JSON) not yet taken by the robot, oldest first;
- ``<c>:sends`` zset: send times, for the robot's rate limits (:mod:`worker.notify.limits`);
- ``<c>:due`` string, TTL ``notify.interval``: present while the channel's interval runs;
- ``<c>:flushing`` string, short TTL: the one process flushing the channel;
- ``<c>:once:<event>:<id>`` string, TTL: an event told once whichever process saw it.

Adding an entry is one RPUSH on the moderation path; everything slow (formatting, HTTP, a
robot that fails) happens in :meth:`Notifier.flush_due`, run on its own (an actor on its own
queue in the daemon), so a failing channel never delays or fails a moderation action. A
message the robot refuses stays first in the outbox and is tried again at the next flush, up
to ``MAX_ATTEMPTS``; each try is audited (``kind: notify``) and logged without the URL or the
secret.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from typing import Any

import httpx
import redis
import structlog

from worker.config import NotifyChannel, NotifyConfig
from worker.errors import NotifyError, NotifyRateLimitedError
from worker.logs import register_secret
from worker.notify.digest import Message, OutcomeLookup, digest
from worker.notify.limits import SendLimiter
from worker.notify.robots import RATES, build_request, check_answer, secrets_of
from worker.pipeline._redis import text as as_text
from worker.pipeline.keys import Keys, escape

log = structlog.get_logger()

MAX_PENDING = 10_000
MAX_ATTEMPTS = 10
FLUSH_LEASE_MS = 60_000
HTTP_TIMEOUT = 10.0

AuditSink = Callable[[dict[str, Any]], object]

# KEYS[1] pending. Take every entry at once (LRANGE + DEL): two flushers never share one.
_TAKE_ALL = """
local got = redis.call('LRANGE', KEYS[1], 0, -1)
redis.call('DEL', KEYS[1])
return got
"""


class Notifier:
    def __init__(
        self,
        *,
        redis: redis.Redis,
        config: NotifyConfig,
        keys: Keys | None = None,
        audit: AuditSink | None = None,
        outcome_of: OutcomeLookup | None = None,
        http: httpx.Client | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._redis = redis
        self._keys = keys or Keys()
        self.config = config
        self._audit = audit
        self._outcome_of = outcome_of
        self._http = http
        self._clock = clock
        self._limiter = SendLimiter(redis=redis)
        self._take_all = redis.register_script(_TAKE_ALL)
        for channel in config.channels:
            for secret in secrets_of(channel):
                register_secret(secret)

    def key(self, channel: str, part: str) -> str:
        return f"{self._keys.prefix}:notify:{escape(channel)}:{part}"

    # -- the moderation side: cheap -------------------------------------------------------
    def add(self, channel: str, entry: dict[str, Any], *, client: Any = None) -> None:
        """Queue an entry for the channel's next digest (``client``: a pipeline to queue on)."""
        target = client if client is not None else self._redis
        key = self.key(channel, "pending")
        target.rpush(key, json.dumps(entry, ensure_ascii=False))
        target.ltrim(key, -MAX_PENDING, -1)

    def event(self, event: str, *, once: str | None = None, once_for: float = 86_400.0,
              **fields: Any) -> bool:
        """Queue an operational event if ``notify.events`` asks for it; whether it did.

        ``once``: what makes this event the same one however many processes see it (e.g.
        every worker failing to reload the same files): told by the first, for ``once_for``
        seconds."""
        channel = self.config.events_channel
        if channel is None or event not in self.config.events:
            return False
        try:
            if once is not None and not self._redis.set(
                self.key(channel, f"once:{event}:{once}"), "1", nx=True,
                ex=max(1, int(once_for)),
            ):
                return False  # another process told it already
            self.add(channel, {"kind": "event", "event": event, "at": self._clock(), **fields})
        except redis.RedisError as exc:  # telling must never be why the teller fails
            log.warning("notify_event_lost", event=event, channel=channel, error=str(exc))
            return False
        return True

    # -- the notify side: slow, on its own ------------------------------------------------
    def flush_due(self, *, force: bool = False) -> int:
        """Digest and send every channel whose interval has run out; the messages sent."""
        sent = 0
        for channel in self.config.channels:
            due = force or self._redis.set(
                self.key(channel.name, "due"), "1", nx=True,
                px=max(1, int(self.config.interval * 1000)),
            )
            if due:
                sent += self.flush(channel)
        return sent

    def flush(self, channel: NotifyChannel) -> int:
        lock = self.key(channel.name, "flushing")
        if not self._redis.set(lock, "1", nx=True, px=FLUSH_LEASE_MS):
            return 0  # another process is flushing this channel
        try:
            self._digest_pending(channel)
            return self._send_outbox(channel)
        finally:
            self._redis.delete(lock)

    def _digest_pending(self, channel: NotifyChannel) -> None:
        raw = self._take_all(keys=[self.key(channel.name, "pending")])
        if not raw:
            return
        entries = [json.loads(as_text(r)) for r in raw]
        messages = digest(entries, examples=self.config.examples, outcome_of=self._outcome_of)
        outbox = self.key(channel.name, "outbox")
        pipe = self._redis.pipeline(transaction=False)
        for message in messages:
            pipe.rpush(outbox, json.dumps({
                "title": message.title, "text": message.text, "entries": message.entries,
                "attempt": 0, "samples": entries[:20] if channel.type == "webhook" else [],
            }, ensure_ascii=False))
        pipe.execute()

    def _send_outbox(self, channel: NotifyChannel) -> int:
        outbox = self.key(channel.name, "outbox")
        sent = 0
        while True:
            head = self._redis.lindex(outbox, 0)
            if head is None:
                return sent
            item = json.loads(as_text(head))
            now = self._clock()
            retry_at = self._limiter.take(self.key(channel.name, "sends"), RATES[channel.type],
                                          now)
            if retry_at is not None:
                log.info("notify_waiting", channel=channel.name, type=channel.type,
                         retry_at=retry_at, detail="the robot's rate limit")
                return sent
            attempt = int(item["attempt"]) + 1
            message = Message(item["title"], item["text"], int(item["entries"]))
            try:
                self._post(channel, message, item.get("samples") or [], now)
            except NotifyRateLimitedError as exc:
                self._told(channel, "deferred", message, attempt, str(exc), exc.code)
                item["attempt"] = attempt
                self._redis.lset(outbox, 0, json.dumps(item, ensure_ascii=False))
                return sent
            except NotifyError as exc:
                gave_up = attempt >= MAX_ATTEMPTS
                self._told(channel, "failed" if gave_up else "retry", message, attempt,
                           str(exc), exc.code)
                if gave_up:
                    self._redis.lpop(outbox)
                    continue
                item["attempt"] = attempt
                self._redis.lset(outbox, 0, json.dumps(item, ensure_ascii=False))
                return sent  # tried again at the next flush
            self._redis.lpop(outbox)
            self._told(channel, "ok", message, attempt, None, None)
            sent += 1

    def _post(self, channel: NotifyChannel, message: Message, samples: list[dict[str, Any]],
              now: float) -> None:
        request = build_request(channel, message.title, message.text, entries=samples, now=now)
        client = self._http or httpx.Client(timeout=HTTP_TIMEOUT, follow_redirects=False)
        try:
            answer = client.post(request.url, json=request.body)
        except httpx.HTTPError as exc:
            # The exception's text may hold the URL: say only what kind of failure it was.
            raise NotifyError(f"{channel.type} did not answer: {type(exc).__name__}",
                              channel=channel.name) from None
        finally:
            if self._http is None:
                client.close()
        try:
            body: object = answer.json()
        except ValueError:
            body = None
        check_answer(channel, answer.status_code, body, now=now)

    def _told(self, channel: NotifyChannel, outcome: str, message: Message, attempt: int,
              detail: str | None, code: int | None) -> None:
        fields = {"channel": channel.name, "type": channel.type, "outcome": outcome,
                  "attempt": attempt, "entries": message.entries, "errcode": code,
                  "detail": detail, "title": message.title}
        level = "info" if outcome == "ok" else "error" if outcome == "failed" else "warning"
        getattr(log, level)("notify", **fields)
        if self._audit is not None:
            try:
                self._audit({"kind": "notify", **fields})
            except redis.RedisError as exc:
                log.warning("notify_audit_lost", channel=channel.name, error=str(exc))
