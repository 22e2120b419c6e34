"""Lua scripts more than one part of the package runs on Redis (each part registers its own).

Here rather than in :mod:`worker.pipeline`, because the platform clients, which never import
the pipeline, take and release locks the same way the pipeline does.
"""

from __future__ import annotations

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
