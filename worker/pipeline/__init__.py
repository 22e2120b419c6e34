"""The daemon's pipeline: Redis state (this package's state modules), the actors
(:mod:`~worker.pipeline.actors`, one module each, bound to a Runtime by a ``Pipeline``), their
one failure policy (:mod:`~worker.pipeline.failures`) and the scheduler. Nothing here knows a
platform: that is in :mod:`worker.platform_specs` and the clients.

State modules, one job each, all keyed under :class:`~worker.pipeline.keys.Keys`:

- :mod:`~worker.pipeline.keys`: every key name;
- :mod:`~worker.pipeline.seen`: seen comments, cursors and gone targets per polled target;
- :mod:`~worker.pipeline.ledger`: done markers, in-progress leases, disabled actions;
- :mod:`~worker.pipeline.batches`: blacklist / Weibo destroy buffers and in-flight batches;
- :mod:`~worker.pipeline.audit`: the audit stream, trimmed by age;
- :mod:`~worker.pipeline.offenses`: author offense counts for ``author.offenses``;
- :mod:`~worker.pipeline.rulestats`: per-rule counters for ``modworker stats``;
- :mod:`~worker.pipeline.freshness`: each target's last good poll, each account's credentials;
- :mod:`~worker.pipeline.lock`: the renewable lock of the one scheduler.

Around them: :mod:`~worker.pipeline.runtime` builds one process's state, clients and rules
(:mod:`~worker.pipeline.rules_reload`, :mod:`~worker.pipeline.rules_snapshot`);
:mod:`~worker.pipeline.poll_outcomes` tells how a poll ended; :mod:`~worker.pipeline.heartbeat`
keeps a lease alive while its holder works; :mod:`~worker.pipeline.connect`,
:mod:`~worker.pipeline.broker` and :mod:`~worker.pipeline.durable_broker` are the Redis
clients and the dramatiq broker.
"""
