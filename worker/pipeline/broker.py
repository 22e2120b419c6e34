"""The dramatiq Redis broker, with its middleware chosen on purpose.

- Retries: bounded (``actions.max_retries``) with exponential backoff between
  ``actions.min_backoff`` and ``actions.max_backoff``; dramatiq's default would retry for about
  a month. Permanent platform errors are never retried (``throws``).
- A raised ``maintenance_chance`` and a short heartbeat timeout, so that the unacknowledged
  messages of a worker that died are given back within a minute, not at random much later.
- Every message's processing is logged with the message id and actor bound in the context.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import dramatiq
import structlog
from dramatiq.broker import MessageProxy
from dramatiq.brokers.redis import RedisBroker
from dramatiq.middleware import (
    AgeLimit,
    CurrentMessage,
    Middleware,
    ShutdownNotifications,
    TimeLimit,
)

from worker.config import Config
from worker.pipeline._redis import FollowingDemotion
from worker.pipeline.connect import RedisEndpoint, redis_client
from worker.pipeline.durable_broker import DurableRedisBroker, DurableRetries

MAINTENANCE_CHANCE = 50_000  # per million commands: small deployments recover dead workers fast
HEARTBEAT_TIMEOUT_MS = 15_000
TIME_LIMIT_MS = 5 * 60 * 1000  # no action call takes minutes; a stuck one is interrupted


class LogContext(Middleware):
    """Bind the message id, actor name and process into structlog's context while a message
    runs (worker threads do not inherit the context their process bound at start)."""

    def __init__(self, *, process: str | None = None) -> None:
        self.process = process

    def before_process_message(
        self, broker: dramatiq.Broker, message: MessageProxy
    ) -> None:
        structlog.contextvars.bind_contextvars(
            message_id=message.message_id, actor=message.actor_name,
            attempt=message.options.get("retries", 0) + 1,
        )
        if self.process is not None:
            structlog.contextvars.bind_contextvars(process=self.process)

    def after_process_message(
        self, broker: dramatiq.Broker, message: MessageProxy, *,
        result: Any = None, exception: BaseException | None = None,
    ) -> None:
        structlog.contextvars.clear_contextvars()

    def after_skip_message(self, broker: dramatiq.Broker, message: Any) -> None:
        structlog.contextvars.clear_contextvars()


def make_broker(
    config: Config, redis: str | RedisEndpoint, *, process: str | None = None,
    middleware: Sequence[Middleware] = (),
) -> RedisBroker:
    """The broker on ``redis`` (a URL, or an endpoint: with Sentinel it follows a failover);
    ``middleware`` is added to the pipeline's own (the metrics' message counters)."""
    endpoint = RedisEndpoint(url=redis) if isinstance(redis, str) else redis
    actions = config.actions
    stack = [
        AgeLimit(),
        TimeLimit(time_limit=TIME_LIMIT_MS),
        ShutdownNotifications(),
        CurrentMessage(),
        DurableRetries(  # dramatiq's Retries, waiting out a Redis outage to re-enqueue
            max_retries=actions.max_retries,
            min_backoff=int(actions.min_backoff * 1000),
            max_backoff=int(actions.max_backoff * 1000),
        ),
        LogContext(process=process),
        *middleware,
    ]
    broker = DurableRedisBroker(  # RedisBroker keeping its messages through a Redis outage
        client=redis_client(endpoint),
        middleware=stack,
        namespace=f"{config.redis.key_prefix}:dramatiq",
        maintenance_chance=MAINTENANCE_CHANCE,
        heartbeat_timeout=HEARTBEAT_TIMEOUT_MS,
    )
    # dramatiq runs everything through scripts: make them follow a demoted master too.
    broker.scripts = {
        name: FollowingDemotion(broker.client, script) for name, script in broker.scripts.items()
    }
    dramatiq.set_broker(broker)
    return broker
