"""What dramatiq's Redis broker loses when Redis goes away for a moment, and how we keep it.

Two kinds of message dramatiq loses when Redis restarts under a running worker, and with them
the actions they carry, for good: their comments are already marked seen, so no poll brings
them back (the fault suite, ``tests/faults``, restarts Redis under a running daemon).

1. **The retry of a message that fails while Redis is down.** dramatiq's ``Retries``
   enqueues the retry (a delayed copy) from ``after_process_message``; the broker catches
   whatever a middleware raises there ("Unexpected failure in after_process_message") and the
   worker then acknowledges the original, retrying the ack until Redis answers again. So the
   message was acknowledged and its retry never enqueued. :class:`DurableRetries` waits for
   Redis instead, as dramatiq does for the ack: the retry is enqueued when Redis answers, and
   the ack follows. A process killed while it waits never acknowledged the message, which is
   redelivered after the heartbeat timeout.

2. **Delayed messages held in worker memory** (retries in backoff, quota deferrals, "lease
   busy, look again in 5 s"). A worker fetches them from the ``<queue>.DQ`` queue into a
   delay queue in memory, which stays in its "acks" set in Redis until the message is due.
   When a consumer meets a connection error, dramatiq's ``ConsumerThread`` discards that delay
   queue (``self.delay_queue = PriorityQueue()``): the messages stay in this worker's acks
   set, and since the worker lives on and keeps its heartbeat, the maintenance that gives a
   dead worker's messages back never takes them (dramatiq issue #527). Our consumer keeps the
   ids of the delayed messages it handed out and not yet acknowledged; after a connection
   error, the next consumer of that queue in this process first gives them back to their
   queue (dramatiq's own ``requeue``, what a graceful shutdown does with the delay queue).
   The same happens when moving a due message to its queue fails: dramatiq closes the
   consumer and its ``requeue`` (which raised a plain ``redis.ConnectionError`` that ended
   the consumer thread) keeps the ids for the next consumer instead.

Either may deliver a message twice (a Redis command whose answer was lost may have run);
every actor is idempotent, so that is harmless.
"""

from __future__ import annotations

import threading
import time
from typing import Any

import dramatiq
import redis
import structlog
from dramatiq.brokers.redis import RedisBroker, _RedisConsumer
from dramatiq.errors import BrokerConnectionError, ConnectionClosed
from dramatiq.message import Message
from dramatiq.middleware import Retries

log = structlog.get_logger("worker.pipeline")

WAIT_SECONDS = 1.0
_REDIS_DOWN = (redis.ConnectionError, redis.TimeoutError, BrokerConnectionError)


# -- 1. retries ----------------------------------------------------------------------------

class _PatientBroker:
    """The broker as ``Retries`` sees it: ``enqueue`` waits until Redis takes the message."""

    def __init__(self, broker: dramatiq.Broker) -> None:
        self._broker = broker

    def __getattr__(self, name: str) -> Any:
        return getattr(self._broker, name)

    def enqueue(self, message: dramatiq.Message[Any], *, delay: int | None = None) -> Any:
        waiting = False
        while True:
            try:
                enqueued = self._broker.enqueue(message, delay=delay)
            except _REDIS_DOWN as exc:
                if not waiting:
                    waiting = True
                    log.warning("retry_waiting_for_redis", message_id=message.message_id,
                                actor=message.actor_name, detail=str(exc))
                time.sleep(WAIT_SECONDS)
                continue
            if waiting:
                log.info("retry_enqueued_after_outage", message_id=message.message_id,
                         actor=message.actor_name)
            return enqueued


class DurableRetries(Retries):
    """``Retries`` whose re-enqueue of a failed message waits out a Redis outage."""

    def after_process_message(
        self, broker: dramatiq.Broker, message: Any, *, result: Any = None,
        exception: BaseException | None = None,
    ) -> None:
        super().after_process_message(  # type: ignore[no-untyped-call]
            _PatientBroker(broker), message, result=result, exception=exception
        )


# -- 2. delayed messages -------------------------------------------------------------------

class _Consumer(_RedisConsumer):
    """dramatiq's Redis consumer, remembering the delayed messages it hands out."""

    broker: DurableRedisBroker
    queue_name: str
    message_cache: list[bytes | None]

    def __init__(self, broker: DurableRedisBroker, queue_name: str, prefetch: int,
                 timeout: int) -> None:
        super().__init__(broker, queue_name, prefetch, timeout)  # type: ignore[no-untyped-call]
        self._delayed = queue_name.endswith(".DQ")
        self._held: set[str] = set()  # redis message ids handed out, not acked or nacked

    def __next__(self) -> Any:
        try:
            self.broker.requeue_orphans(self.queue_name)
            message = super().__next__()  # type: ignore[no-untyped-call]
        except (ConnectionClosed, redis.ConnectionError, redis.TimeoutError) as exc:
            self._orphan_outstanding()
            if isinstance(exc, ConnectionClosed):
                raise
            raise ConnectionClosed(exc) from None  # type: ignore[no-untyped-call]
        if message is not None and self._delayed:
            self._held.add(message.options["redis_message_id"])
        return message

    def ack(self, message: Any) -> None:
        self._held.discard(message.options.get("redis_message_id"))
        super().ack(message)  # type: ignore[no-untyped-call]

    def nack(self, message: Any) -> None:
        self._held.discard(message.options.get("redis_message_id"))
        super().nack(message)  # type: ignore[no-untyped-call]

    def requeue(self, messages: Any) -> None:
        """Give back ``messages`` (dramatiq's delay queue, when it closes this consumer) and
        whatever else was fetched and not acknowledged: a delayed message whose move to its
        queue failed, messages fetched ahead and never handed out."""
        ids = {m.options.get("redis_message_id") for m in messages}
        self.broker.adopt_orphans(self.queue_name, {i for i in ids if i})
        self._orphan_outstanding()
        try:
            self.broker.requeue_orphans(self.queue_name, after_outage=False)
        except (redis.ConnectionError, redis.TimeoutError) as exc:
            # dramatiq's close() expects this one; the ids stay orphans for the next consumer
            raise ConnectionClosed(exc) from None  # type: ignore[no-untyped-call]

    def _orphan_outstanding(self) -> None:
        cached = {Message.decode(data).options.get("redis_message_id")
                  for data in self.message_cache if data is not None}
        self.message_cache = []
        self.broker.adopt_orphans(self.queue_name, self._held | {i for i in cached if i})
        self._held = set()


class DurableRedisBroker(RedisBroker):
    """dramatiq's Redis broker whose workers give back the delayed messages they held when
    a connection error made dramatiq drop them (see the module docstring)."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)  # type: ignore[no-untyped-call]
        self._orphans: dict[str, set[str]] = {}
        self._orphans_lock = threading.Lock()

    @property
    def consumer_class(self) -> type[_Consumer]:
        return _Consumer

    def adopt_orphans(self, queue_name: str, ids: set[str]) -> None:
        """Delayed messages of ``queue_name`` that dramatiq is about to drop from memory."""
        if ids:
            with self._orphans_lock:
                self._orphans.setdefault(queue_name, set()).update(ids)

    def requeue_orphans(self, queue_name: str, *, after_outage: bool = True) -> None:
        """Give the orphans of ``queue_name`` back to it (they are in this worker's acks)."""
        with self._orphans_lock:
            ids = self._orphans.pop(queue_name, set())
        if not ids:
            return
        try:
            self.do_requeue(queue_name, *sorted(ids))
        except Exception:
            self.adopt_orphans(queue_name, ids)  # Redis still away: the next consumer tries
            raise
        if after_outage:
            log.warning("delayed_messages_requeued", queue=queue_name, count=len(ids),
                        detail="held in memory when the connection to Redis was lost")
