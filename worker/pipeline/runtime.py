"""Everything one daemon process needs, built once: Redis state, clients, rules.

The daemon's main process (the scheduler's) holds one :class:`Runtime`; each worker process
one :class:`WorkerRuntime`, which is a Runtime with its rules, so actors never ask whether
there are rules. Platform clients and batch buffers are created on first use and shared by
the process's threads (httpx clients and redis-py clients are thread-safe).
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import redis as redis_lib

from worker.config import AccountConfig, Config
from worker.logs import register_secret
from worker.notify.notifier import Notifier
from worker.pipeline.audit import AuditLog
from worker.pipeline.batches import BatchBuffer
from worker.pipeline.connect import RedisEndpoint, redis_client
from worker.pipeline.freshness import Freshness
from worker.pipeline.keys import ActionKey, Keys
from worker.pipeline.ledger import ActionLedger
from worker.pipeline.offenses import RedisOffenseCounter
from worker.pipeline.poll_outcomes import PollOutcomes
from worker.pipeline.rules_reload import RulesHolder
from worker.pipeline.rulestats import RuleStats
from worker.pipeline.seen import SeenComments
from worker.platform_specs import platform_spec
from worker.platforms import PlatformClient, make_client
from worker.procutil import release_freed_memory
from worker.waves.redis_state import RedisWaveState


def rules_snapshot_path(config: Config) -> Path:
    """Where the last rule set that loaded is kept, for workers that start while one is broken."""
    return config.state_dir / "rules-last-good.json"


def rules_holder(
    config: Config, *, on_reload_failed: Callable[[list[str], str], object] | None = None,
    after_load: Callable[[], object] | None = None,
) -> RulesHolder:
    """The rules of ``config``, reloaded when their files change; raises ConfigError when they
    do not load and no last good rule set does either."""
    return RulesHolder(
        paths=config.rules,
        accounts={a.name: a.platform for a in config.accounts},
        normalize=config.normalize,
        snapshot=rules_snapshot_path(config),
        channels={c.name for c in config.notify.channels},
        on_reload_failed=on_reload_failed,
        after_load=after_load,
    )


#: Connection options of every state client (the broker's too).
CLIENT_OPTIONS = {
    "socket_timeout": 30, "socket_connect_timeout": 5, "health_check_interval": 10,
    "retry_on_timeout": True,
}


class Runtime:
    """The Redis state and platform clients of one process, without rules (the scheduler's).

    ``endpoint`` says where Redis is; ``redis_url`` is the shorthand for a plain URL.
    """

    def __init__(
        self, *, config: Config, redis_url: str | None = None,
        endpoint: RedisEndpoint | None = None,
    ) -> None:
        self.config = config
        for password in config.redis.secrets:
            register_secret(password)
        self.endpoint = endpoint or RedisEndpoint(url=redis_url)
        self.redis: redis_lib.Redis = redis_client(self.endpoint, **CLIENT_OPTIONS)
        self.keys = Keys(prefix=config.redis.key_prefix)
        self.ledger = ActionLedger(redis=self.redis, keys=self.keys)
        polling = config.polling
        self.seen = SeenComments(
            redis=self.redis, keys=self.keys,
            # Twice the time between two full listings, at least 3 h: an id listed this
            # recently is still on the article's list and never trimmed from the seen set.
            listed_window=max(3 * 3600.0, 2 * (polling.full_pass_interval + polling.interval)),
        )
        self.audit = AuditLog(redis=self.redis, keys=self.keys,
                              retention=config.audit.retention)
        self.offenses = RedisOffenseCounter(redis=self.redis, keys=self.keys)
        self.stats = RuleStats(redis=self.redis, keys=self.keys)
        self.freshness = Freshness(redis=self.redis, keys=self.keys)
        self.poll_outcomes = PollOutcomes(self.freshness, self.audit)
        self.waves = RedisWaveState(redis=self.redis, keys=self.keys)
        self.notifier = Notifier(redis=self.redis, config=config.notify, keys=self.keys,
                                 audit=self.audit.append, outcome_of=self.outcomes)
        self._lock = threading.Lock()
        self._clients: dict[str, PlatformClient] = {}
        self._buffers: dict[tuple[str, str], BatchBuffer] = {}
        for account in config.accounts:
            for secret in (account.app_secret, account.access_token):
                if secret is not None:
                    register_secret(secret.reveal())

    def account(self, name: str) -> AccountConfig:
        return self.config.account(name)

    def outcomes(self, entry: dict[str, Any]) -> dict[str, str]:
        """What the ledger says happened to a notify entry's single actions so far."""
        found: dict[str, str] = {}
        for action in entry.get("actions") or []:
            if action == "notify" or entry.get("dry_run") or entry.get("mode") == "shadow":
                continue
            done = self.ledger.get_done(ActionKey(
                platform=str(entry["platform"]), account=entry.get("account"),
                target=entry.get("target"), comment=str(entry["comment_id"]), action=action,
            ))
            if done is not None:
                found[action] = done.outcome
        return found

    def client(self, account: str) -> PlatformClient:
        with self._lock:
            client = self._clients.get(account)
            if client is None:
                client = make_client(
                    self.account(account), redis=self.redis, quota=self.config.quota,
                    key_prefix=self.config.redis.key_prefix,
                )
                self._clients[account] = client
            return client

    def buffer(self, account: str) -> BatchBuffer:
        """The batch buffer of ``account``'s batched action (its spec's ``batch_kind``)."""
        platform = self.account(account).platform
        kind = platform_spec(platform).batch_kind
        with self._lock:
            buffer = self._buffers.get((account, kind))
            if buffer is None:
                buffer = BatchBuffer(
                    redis=self.redis, platform=platform, account=account, kind=kind,
                    keys=self.keys, max_wait=self.config.actions.batch_max_wait,
                )
                self._buffers[(account, kind)] = buffer
            return buffer

    def close(self) -> None:
        with self._lock:
            for client in self._clients.values():
                client.close()
            self._clients.clear()
        self.redis.close()


class WorkerRuntime(Runtime):
    """A worker process's Runtime: the state and clients, and the rules its actors apply.

    Raises ConfigError when the rules do not load and no last good rule set does either; a
    reload that fails later keeps the running rules and tells ``rules_reload_failed``. After
    every load glibc is asked to give back the memory it kept (tens of MiB for a large set).
    """

    def __init__(
        self, *, config: Config, redis_url: str | None = None,
        endpoint: RedisEndpoint | None = None,
    ) -> None:
        super().__init__(config=config, redis_url=redis_url, endpoint=endpoint)
        try:
            self.rules = rules_holder(config, on_reload_failed=self._tell_reload_failed,
                                      after_load=release_freed_memory)
        except BaseException:
            self.close()
            raise

    def _tell_reload_failed(self, problems: list[str], files: str) -> None:
        """Every worker process fails on the same edit: the channel hears it once."""
        self.notifier.event("rules_reload_failed", once=files, detail="; ".join(problems[:3]))
