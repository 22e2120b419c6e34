"""Small helpers shared by the state modules: typed Lua scripts and reply decoding.

The state modules accept a ``redis.Redis`` built either way (``decode_responses`` False, the
default, or True) and always hand back ``str``: replies go through :func:`text` (a hash
through :func:`text_hash`).

Lua gotchas these modules avoid: a Lua number returned from a script is truncated to an
integer reply, and a Lua number passed to ``redis.call`` is formatted with 14 significant
digits. So times are computed in Python, passed as ``ARGV`` strings, compared in Lua with
``tonumber`` only, and returned as strings.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import redis
from redis.sentinel import SentinelConnectionPool

Clock = Callable[[], float]
ScriptArg = str | int | float | bytes


def text(value: bytes | str) -> str:
    """A reply value as ``str`` (UTF-8), whatever the client's ``decode_responses``."""
    if isinstance(value, bytes):
        return value.decode("utf-8")
    return value


def text_hash(raw: Mapping[bytes | str, bytes | str]) -> dict[str, str]:
    """A hash reply (``HGETALL``) as ``str`` fields and values, whatever ``decode_responses``."""
    return {text(field): text(value) for field, value in raw.items()}


def new_token() -> str:
    """A fresh owner token / batch id: 32 hex characters, unique across hosts."""
    return uuid.uuid4().hex


def wall_clock() -> float:
    return time.time()


class LuaScript:
    """A Lua script registered on one client (EVALSHA, reloaded after a server restart).

    A demoted master's READONLY is handled as :class:`FollowingDemotion` says.
    """

    def __init__(self, client: redis.Redis, source: str) -> None:
        self._script = FollowingDemotion(client, client.register_script(source))

    def __call__(self, keys: Sequence[str], args: Sequence[ScriptArg] = ()) -> Any:
        return self._script(keys=list(keys), args=list(args))

    def queue(self, pipe: Any, keys: Sequence[str], args: Sequence[ScriptArg] = ()) -> None:
        """Queue a call on a pipeline (its answer comes with the pipeline's)."""
        self._script(keys=list(keys), args=list(args), client=pipe)


class FollowingDemotion:
    """A registered script that notices its master was demoted (a Sentinel failover).

    A script that writes on a master demoted to a replica fails with ``ERR Error running
    script ... -READONLY``, which redis-py's Sentinel client does not recognise as the
    demotion it is (it does for a plain command's READONLY), so a connection that only runs
    scripts would stay on the old master for good. On a Sentinel-managed client that error
    drops the pool's connections, so that the next command asks the sentinels for the new
    master, and is raised as a ConnectionError, which callers (dramatiq's consumers too)
    treat as "Redis away for a moment".
    """

    def __init__(self, client: redis.Redis, script: Callable[..., Any]) -> None:
        self._client = client
        self._script = script

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        try:
            return self._script(*args, **kwargs)
        except redis.ResponseError as exc:
            pool = self._client.connection_pool
            if "READONLY" not in str(exc) or not isinstance(pool, SentinelConnectionPool):
                raise
            pool.disconnect()
            raise redis.ConnectionError(
                "the master was demoted to a replica (a script met READONLY)"
            ) from exc
