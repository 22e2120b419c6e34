"""The robots' rate limits, shared by every process through Redis.

A sliding log: one sorted set of send times per channel, checked and filled by one Lua
script, so that no window of any of the channel's rates ever holds more sends than the rate
allows (WeCom and DingTalk 20 a minute, Feishu 5 a second and 100 a minute).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import redis

from worker.pipeline._redis import LuaScript, new_token
from worker.pipeline._redis import text as as_text

# KEYS[1] the sends zset. ARGV: now, token, then (limit, window) pairs.
# Returns {1, ""} when a send is granted (and logged), {0, retry_at} when not.
_TAKE = """
local now = tonumber(ARGV[1])
local longest, retry = 0, nil
for i = 3, #ARGV, 2 do
  local limit, window = tonumber(ARGV[i]), tonumber(ARGV[i + 1])
  if window > longest then longest = window end
  local recent = redis.call('ZRANGEBYSCORE', KEYS[1], '(' .. (now - window), '+inf',
                            'WITHSCORES')
  local count = #recent / 2
  if count >= limit then
    local oldest = tonumber(recent[2 * (count - limit) + 2])
    local at = oldest + window
    if retry == nil or at > retry then retry = at end
  end
end
if retry ~= nil then return {0, string.format('%.6f', retry)} end
redis.call('ZADD', KEYS[1], ARGV[1], ARGV[2])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', '(' .. (now - longest))
redis.call('EXPIRE', KEYS[1], math.ceil(longest) + 60)
return {1, ''}
"""


@dataclass(frozen=True, slots=True)
class Rate:
    """``limit`` sends per ``window`` seconds."""

    limit: int
    window: float


class SendLimiter:
    def __init__(self, *, redis: redis.Redis) -> None:
        self._take = LuaScript(redis, _TAKE)

    def take(self, key: str, rates: Sequence[Rate], now: float) -> float | None:
        """Log a send now and return None, or return when one may be sent (nothing logged)."""
        if not rates:
            return None
        args: list[str | int] = [repr(now), new_token()]
        for rate in rates:
            args += [rate.limit, repr(rate.window)]
        granted, retry_at = self._take([key], args)
        return None if int(granted) == 1 else float(as_text(retry_at))
