"""Where the deployment's Redis is, and clients on it that follow a Sentinel failover.

Three places: a URL (``redis.url``), a master found through Sentinel (``redis.sentinel``), or
the embedded server's unix socket (neither set; the daemon passes its URL). Every client of
the process (the state modules' and the dramatiq broker's) is made by :func:`redis_client`:
with Sentinel it is redis-py's master client, which asks the sentinels for the master's
address whenever it (re)connects, and drops its connections when the server it talks to
answers READONLY (a master demoted to a replica), so it follows the promoted replica.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import redis

from worker.config import RedisConfig, SentinelConfig, redact_url


@dataclass(frozen=True, slots=True)
class RedisEndpoint:
    """A Redis URL or a Sentinel-managed master (exactly one of the two)."""

    url: str | None = None
    sentinel: SentinelConfig | None = None

    def __post_init__(self) -> None:
        if (self.url is None) == (self.sentinel is None):
            raise ValueError("a Redis endpoint is a URL or a sentinel setting, exactly one")

    @classmethod
    def configured(cls, config: RedisConfig) -> RedisEndpoint | None:
        """The endpoint ``config`` names; None when it names none (the embedded Redis)."""
        if config.sentinel is not None:
            return cls(sentinel=config.sentinel)
        if config.url is not None:
            return cls(url=config.url)
        return None

    def describe(self) -> str:
        """For logs and messages: the URL without its password, or the sentinels."""
        if self.url is not None:
            return redact_url(self.url)
        assert self.sentinel is not None
        hosts = ",".join(f"{host}:{port}" for host, port in self.sentinel.hosts)
        return f"sentinel master {self.sentinel.master!r} via {hosts}"


def redis_client(endpoint: RedisEndpoint, **options: Any) -> redis.Redis:
    """A client on ``endpoint``; ``options`` are redis-py connection options (timeouts...)."""
    if endpoint.url is not None:
        return redis.Redis.from_url(endpoint.url, **options)
    sentinel = endpoint.sentinel
    assert sentinel is not None
    from redis.sentinel import Sentinel

    sentinel_options: dict[str, Any] = {
        key: options[key] for key in ("socket_timeout", "socket_connect_timeout")
        if key in options
    }
    if sentinel.sentinel_password is not None:
        sentinel_options["password"] = sentinel.sentinel_password.reveal()
    password = sentinel.password.reveal() if sentinel.password is not None else None
    manager = Sentinel(list(sentinel.hosts), sentinel_kwargs=sentinel_options)
    client: redis.Redis = manager.master_for(
        sentinel.master, password=password, db=sentinel.db, **options
    )
    return client
