"""Small helpers shared by the state modules: typed Lua scripts and reply decoding.

The state modules accept a ``redis.Redis`` built either way (``decode_responses`` False, the
default, or True) and always hand back ``str``: replies go through :func:`text`.

Lua gotchas these modules avoid: a Lua number returned from a script is truncated to an
integer reply, and a Lua number passed to ``redis.call`` is formatted with 14 significant
digits. So times are computed in Python, passed as ``ARGV`` strings, compared in Lua with
``tonumber`` only, and returned as strings.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Sequence
from typing import Any

import redis

Clock = Callable[[], float]
ScriptArg = str | int | float | bytes


# KEYS[1] a key owned by a token; ARGV[1] the owner token. Compare-and-delete.
COMPARE_AND_DELETE = """
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('DEL', KEYS[1])
end
return 0
"""

# KEYS[1] a key owned by a token; ARGV[1] the owner token, ARGV[2] ttl (ms). Compare-and-extend.
COMPARE_AND_EXTEND = """
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('PEXPIRE', KEYS[1], ARGV[2])
end
return 0
"""


def text(value: bytes | str) -> str:
    """A reply value as ``str`` (UTF-8), whatever the client's ``decode_responses``."""
    if isinstance(value, bytes):
        return value.decode("utf-8")
    return value


def new_token() -> str:
    """A fresh owner token / batch id: 32 hex characters, unique across hosts."""
    return uuid.uuid4().hex


def wall_clock() -> float:
    return time.time()


class LuaScript:
    """A Lua script registered on one client (EVALSHA, reloaded after a server restart)."""

    def __init__(self, client: redis.Redis, source: str) -> None:
        self._script = client.register_script(source)

    def __call__(self, keys: Sequence[str], args: Sequence[ScriptArg] = ()) -> Any:
        return self._script(keys=list(keys), args=list(args))
