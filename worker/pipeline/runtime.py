"""Everything one daemon process needs, built once: Redis state, clients, rules.

Each worker process (and the scheduler's process) holds one :class:`Runtime`. Platform clients
and batch buffers are created on first use and shared by the process's threads (httpx clients
and redis-py clients are thread-safe).
"""

from __future__ import annotations

import threading
from typing import Literal

import redis as redis_lib

from worker.config import AccountConfig, Config
from worker.logging import register_secret
from worker.pipeline.audit import AuditLog
from worker.pipeline.batches import BatchBuffer
from worker.pipeline.done import ActionLedger
from worker.pipeline.keys import Keys
from worker.pipeline.offenses import RedisOffenseCounter
from worker.pipeline.rules_holder import RulesHolder
from worker.pipeline.rulestats import RuleStats
from worker.pipeline.seen import SeenComments
from worker.platforms import PlatformClient, make_client

BatchKind = Literal["blacklist", "destroy"]

#: The batched action of each platform: WeChat blacklists openids, Weibo destroys comment ids.
BATCH_KIND = {"wechat": "blacklist", "weibo": "destroy"}


class Runtime:
    def __init__(self, *, config: Config, redis_url: str, load_rules: bool = True) -> None:
        self.config = config
        self.redis = redis_lib.Redis.from_url(
            redis_url, socket_timeout=30, socket_connect_timeout=5, health_check_interval=10,
            retry_on_timeout=True,
        )
        self.keys = Keys(prefix=config.redis.key_prefix)
        self.ledger = ActionLedger(redis=self.redis, keys=self.keys)
        self.seen = SeenComments(redis=self.redis, keys=self.keys)
        self.audit = AuditLog(redis=self.redis, keys=self.keys)
        self.offenses = RedisOffenseCounter(redis=self.redis, keys=self.keys)
        self.stats = RuleStats(redis=self.redis, keys=self.keys)
        self.rules: RulesHolder | None = None
        if load_rules:
            self.rules = RulesHolder(
                paths=config.rules,
                accounts={a.name: a.platform for a in config.accounts},
                normalize=config.normalize,
            )
        self._lock = threading.Lock()
        self._clients: dict[str, PlatformClient] = {}
        self._buffers: dict[tuple[str, str], BatchBuffer] = {}
        for account in config.accounts:
            for secret in (account.app_secret, account.access_token):
                if secret is not None:
                    register_secret(secret.reveal())

    def account(self, name: str) -> AccountConfig:
        return self.config.account(name)

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
        """The batch buffer of ``account``'s batched action (blacklist or destroy)."""
        platform = self.account(account).platform
        kind = BATCH_KIND[platform]
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
