"""Per-rule counters for ``modworker stats``: which rules never fire, which fire too much.

One hash per rule: ``hits:enforce``, ``hits:shadow`` (of which ``hits:after_stop`` matched after
an enforced rule's ``stop``), ``last_hit`` (the latest hit time, kept
as a maximum so out-of-order records cannot move it back) and ``out:<action>:<outcome>``. A
set indexes the rules that have counters; ``since`` is when counting started (first record
after a reset).

Counters are statistics, not ledgers: a redelivered message is counted again.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any, Literal

import redis

from worker.pipeline._redis import Clock, LuaScript, text, text_hash, wall_clock
from worker.pipeline.keys import Keys

Mode = Literal["enforce", "shadow"]
MODES: tuple[Mode, ...] = ("enforce", "shadow")

# KEYS: index, since, then one rule hash per hit. ARGV: four per hit: rule id, mode field,
# at, after_stop ("1" or "0"). For each hit: increments the mode's hit counter (and
# hits:after_stop), raises last_hit to at if later, indexes the rule and sets since once.
_RECORD_HITS = """
for i = 3, #KEYS do
  local a = (i - 3) * 4
  redis.call('HINCRBY', KEYS[i], ARGV[a + 2], 1)
  if ARGV[a + 4] == '1' then
    redis.call('HINCRBY', KEYS[i], 'hits:after_stop', 1)
  end
  local last = redis.call('HGET', KEYS[i], 'last_hit')
  if not last or tonumber(last) < tonumber(ARGV[a + 3]) then
    redis.call('HSET', KEYS[i], 'last_hit', ARGV[a + 3])
  end
  redis.call('SADD', KEYS[1], ARGV[a + 1])
  redis.call('SET', KEYS[2], ARGV[a + 3], 'NX')
end
return #KEYS - 2
"""


@dataclass(frozen=True, slots=True)
class Hit:
    """One rule matching one comment, at ``at``."""

    rule_id: str
    mode: Mode
    at: float
    after_stop: bool = False


class RuleStats:
    def __init__(
        self, *, redis: redis.Redis, keys: Keys | None = None, clock: Clock = wall_clock
    ) -> None:
        self._redis = redis
        self._keys = keys or Keys()
        self._clock = clock
        self._record_hits = LuaScript(redis, _RECORD_HITS)

    def record_hit(
        self, rule_id: str, mode: Mode, at: float | None = None, *, after_stop: bool = False
    ) -> None:
        when = self._clock() if at is None else at
        self.record_hits([Hit(rule_id, mode, when, after_stop)])

    def record_hits(self, hits: Sequence[Hit]) -> None:
        """Count several hits (a page's) in one round trip, as many :meth:`record_hit` would."""
        for hit in hits:
            if hit.mode not in MODES:
                raise ValueError(f"mode must be one of {MODES}, got {hit.mode!r}")
        if not hits:
            return
        k = self._keys
        self._record_hits(
            [k.rulestats_index(), k.rulestats_since(), *(k.rulestats(h.rule_id) for h in hits)],
            [part for h in hits
             for part in (h.rule_id, f"hits:{h.mode}", repr(h.at), "1" if h.after_stop else "0")],
        )

    def record_outcome(self, rule_id: str, action: str, outcome: str) -> None:
        pipe = self._redis.pipeline(transaction=True)
        self.queue_outcome(pipe, rule_id, action, outcome)
        pipe.execute()

    def queue_outcome(self, pipe: Any, rule_id: str, action: str, outcome: str) -> None:
        """:meth:`record_outcome` queued on the caller's pipeline (sent with its commands)."""
        k = self._keys
        pipe.hincrby(k.rulestats(rule_id), f"out:{action}:{outcome}", 1)
        pipe.sadd(k.rulestats_index(), rule_id)
        pipe.set(k.rulestats_since(), repr(self._clock()), nx=True)

    def snapshot(self, rule_ids: Iterable[str] | None = None) -> dict[str, Any]:
        """``{"since": t | None, "rules": {rule_id: {...}}}``.

        Each rule: ``{"hits": {"enforce": n, "shadow": n}, "after_stop": n, "total": n,
        "last_hit": t | None, "actions": {action: {outcome: n}}}`` (``after_stop``: the shadow
        hits that came after an enforced rule's ``stop``). ``rule_ids`` (the loaded rules) are
        listed even with no counters, so a dead rule shows zero hits; rules with counters that are
        no longer loaded are listed too.
        """
        k = self._keys
        known = {text(r) for r in self._redis.smembers(k.rulestats_index())}
        wanted = sorted(known | set(rule_ids or ()))
        pipe = self._redis.pipeline(transaction=True)
        pipe.get(k.rulestats_since())
        for rule_id in wanted:
            pipe.hgetall(k.rulestats(rule_id))
        since_raw, *hashes = pipe.execute()
        rules: dict[str, Any] = {}
        for rule_id, raw in zip(wanted, hashes, strict=True):
            rules[rule_id] = _rule_entry(text_hash(raw))
        return {"since": None if since_raw is None else float(text(since_raw)), "rules": rules}

    def reset(self) -> None:
        k = self._keys
        rule_ids = [text(r) for r in self._redis.smembers(k.rulestats_index())]
        self._redis.delete(
            k.rulestats_index(), k.rulestats_since(), *(k.rulestats(r) for r in rule_ids)
        )


def _rule_entry(fields: dict[str, str]) -> dict[str, Any]:
    hits = {mode: int(fields.get(f"hits:{mode}", 0)) for mode in MODES}
    actions: dict[str, dict[str, int]] = {}
    for name, value in fields.items():
        if name.startswith("out:"):
            action, _, outcome = name[4:].rpartition(":")
            actions.setdefault(action, {})[outcome] = int(value)
    last = fields.get("last_hit")
    return {
        "hits": hits,
        "after_stop": int(fields.get("hits:after_stop", 0)),
        "total": sum(hits.values()),
        "last_hit": None if last is None else float(last),
        "actions": actions,
    }
