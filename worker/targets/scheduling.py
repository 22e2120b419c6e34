"""The scheduler's side of targets that manage themselves.

:class:`TargetScheduling` answers, at each scheduler tick, which targets to poll now
(:meth:`TargetScheduling.due`). Around the pure :class:`~worker.targets.planner.Planner` it
keeps what needs Redis and the platforms:

- the targets: config.yaml's merged with the store's (added, removed, discovered), re-read
  every :data:`TARGETS_REFRESH` seconds, so ``modworker targets add`` is picked up within
  that; targets the platform said are gone are skipped; a Weibo account with
  ``listing: account`` is polled as one target (:data:`~worker.targets.store.ACCOUNT_LISTING`)
  that covers every post of the account;
- discovery (``discover:``, a client that is a
  :class:`~worker.platforms.protocol.TargetDiscovery`; WeChat: datacube): at start and once
  a day, what it finds in the window replaces the discovered targets;
- the budgets (a client that is a :class:`~worker.platforms.protocol.PollQuota`): its
  listing's limit and use in the quota window, read every ``quota.refresh`` and spread to the
  window's reset (WeChat: ``comment/list``'s daily limit from ``openapi/quota/get``, to the
  next local midnight; Weibo: 50,000 calls an hour per IP, split between the Weibo accounts,
  to the next full hour);
- the poll bookkeeping: when each poll was sent and is next due.

Platform failures (a quota/get or datacube call) are logged and tried again later; polling
goes on with the last budget measured (or none: intervals as the temperatures ask).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Collection
from dataclasses import dataclass
from typing import Any

import structlog

from worker.config import ACCOUNT_LISTING, AccountConfig, Config
from worker.errors import PlatformError
from worker.pipeline.keys import Keys, target_key
from worker.platforms.protocol import PollQuota, TargetDiscovery
from worker.targets.book import PollBook
from worker.targets.budget import Budget
from worker.targets.planner import AccountBudget, Planner, PlanTarget
from worker.targets.policy import PollPolicy
from worker.targets.store import TargetStore, WatchedTarget, watched

log = structlog.get_logger("worker.scheduler")

#: Seconds between two readings of the target store: ``targets add`` takes effect within this.
TARGETS_REFRESH = 2.0
#: A failed discovery is tried again after this many seconds.
DISCOVERY_RETRY = 600.0
DAY = 86400.0


@dataclass(frozen=True, slots=True, kw_only=True)
class DuePoll:
    target: WatchedTarget
    next_poll: float


class TargetScheduling:
    def __init__(
        self,
        *,
        config: Config,
        book: PollBook,
        store: TargetStore,
        client: Callable[[str], object],
        gone: Callable[[], Collection[str]],
    ) -> None:
        self.book = book
        self.store = store
        self._client = client
        self._gone = gone
        self._targets: list[WatchedTarget] = []
        self._targets_read_at = float("-inf")
        self._next_discovery: dict[str, float] = {}
        self._measured_at: dict[str, float] = {}
        self._gone_reported: set[str] = set()
        self.set_config(config)

    @classmethod
    def for_redis(
        cls, *, config: Config, redis: Any, client: Callable[[str], object],
        gone: Callable[[], Collection[str]],
    ) -> TargetScheduling:
        """``client``: an account's platform client; ``gone``: the target keys the platform
        said are gone (:meth:`~worker.pipeline.seen.SeenComments.gone_targets`)."""
        keys = Keys(prefix=config.redis.key_prefix)
        return cls(config=config, book=PollBook(redis=redis, keys=keys),
                   store=TargetStore(redis=redis, keys=keys), client=client, gone=gone)

    def set_config(self, config: Config) -> None:
        """Take a reloaded config (its targets; the rest needs a restart)."""
        self.config = config
        self.policy = PollPolicy.from_config(config.polling)
        self.planner = Planner(self.policy, jitter=config.polling.jitter)
        self._targets_read_at = float("-inf")

    @property
    def targets(self) -> list[WatchedTarget]:
        return list(self._targets)

    # -- one tick ------------------------------------------------------------------------
    def due(self, now: float) -> list[DuePoll]:
        """The polls to send at ``now``, recorded as sent (the caller sends them)."""
        for account in self.config.accounts:
            if account.discover is not None:
                self._maybe_discover(account, now)
        if now - self._targets_read_at >= TARGETS_REFRESH:
            self._targets = self._polled_targets()
            self._targets_read_at = now
        by_account: dict[str, list[WatchedTarget]] = {}
        gone = self._gone()
        for target in self._targets:
            if target.tkey in gone:
                if target.tkey not in self._gone_reported:
                    self._gone_reported.add(target.tkey)
                    log.warning("target_not_polled", account=target.account,
                                target=target.key, detail="the platform said it is gone")
                continue
            by_account.setdefault(target.account, []).append(target)
        due: list[DuePoll] = []
        for account in self.config.accounts:
            targets = by_account.get(account.name)
            if targets:
                due.extend(self._due_for(account, targets, now))
        return due

    def _polled_targets(self) -> list[WatchedTarget]:
        targets = watched(self.config, self.store)
        listing = {a.name for a in self.config.accounts if a.listing == "account"}
        # one account listing covers every post of its account
        return [t for t in targets if t.account not in listing or t.key == ACCOUNT_LISTING]

    def _due_for(
        self, account: AccountConfig, targets: list[WatchedTarget], now: float
    ) -> list[DuePoll]:
        budget = self._budget(account, now)
        statuses = self.book.statuses([t.tkey for t in targets])
        plan: list[PlanTarget] = []
        for target in targets:
            status = statuses[target.tkey]
            temperature = status.temperature
            if temperature is None:
                temperature = self.book.temperature(target.tkey, self.policy, now=now)
            plan.append(PlanTarget(tkey=target.tkey, temperature=temperature,
                                   last_poll=status.sent_at))
        polls = self.planner.plan(plan, budget, now=now)
        by_key = {t.tkey: t for t in targets}
        due = []
        for poll in polls:
            self.book.sent(poll.tkey, now=now, next_poll=poll.next_poll)
            due.append(DuePoll(target=by_key[poll.tkey], next_poll=poll.next_poll))
        if polls and budget is not None:
            self.book.spend(account.name, len(polls))
        return due

    # -- budgets ---------------------------------------------------------------------------
    def _budget(self, account: AccountConfig, now: float) -> AccountBudget | None:
        current = self.book.budget(account.name)
        last = self._measured_at.get(account.name, float("-inf"))
        window_over = current is not None and now >= current.budget.reset_at
        if now - last < self.config.quota.refresh and not window_over:
            return current
        self._measured_at[account.name] = now
        measured = self._measure(account, now)
        if measured is None:
            return current
        budget = self.book.set_budget(account.name, measured, now=now)
        log.info("poll_budget", account=account.name, limit=budget.budget.limit,
                 used=budget.budget.used, polled=budget.budget.polled,
                 poll_calls=round(budget.budget.poll_calls, 1),
                 per_hour=round(budget.budget.rate() * 3600, 1),
                 reset_at=budget.budget.reset_at)
        return budget

    def _measure(self, account: AccountConfig, now: float) -> Budget | None:
        client = self._client(account.name)
        if not isinstance(client, PollQuota):
            return None
        try:
            reading = client.poll_quota(now)
        except PlatformError as exc:
            log.warning("poll_budget_unknown", account=account.name, errcode=exc.code,
                        detail=str(exc), note="polling on with the last budget measured")
            return None
        # a limit several accounts share (Weibo's per-IP hour) is split between them
        sharing = sum(1 for a in self.config.accounts if a.platform == account.platform)
        shared = reading.used == 0 and sharing > 1
        return Budget(limit=reading.limit // sharing if shared else reading.limit,
                      used=reading.used, measured_at=now, reset_at=reading.reset_at,
                      share=self.config.quota.poll_share)

    # -- discovery -------------------------------------------------------------------------
    def _maybe_discover(self, account: AccountConfig, now: float) -> None:
        if now < self._next_discovery.get(account.name, float("-inf")):
            return
        client = self._client(account.name)
        if not isinstance(client, TargetDiscovery) or account.discover is None:
            return
        started = time.perf_counter()
        try:
            found = client.discover_targets(now=now, window=account.discover)
        except PlatformError as exc:
            self._next_discovery[account.name] = now + DISCOVERY_RETRY
            log.warning("discovery_failed", account=account.name, errcode=exc.code,
                        detail=str(exc), retry_in=DISCOVERY_RETRY)
            return
        self._next_discovery[account.name] = now + DAY
        added, dropped = self.store.set_discovered(account.name, found, now=now)
        for key in added:
            tkey = target_key(platform=account.platform, account=account.name, target=key)
            self.book.revive(tkey, self.policy, now=now)
        self._targets_read_at = float("-inf")
        log.info("discovered", account=account.name, articles=len(found), added=added,
                 aged_out=dropped, duration_ms=round((time.perf_counter() - started) * 1000))
