"""The daemon's pipeline: Redis state (this package's state modules) and, later, the actors.

State modules, one job each, all keyed under :class:`~worker.pipeline.keys.Keys`:

- :mod:`~worker.pipeline.keys`: every key name;
- :mod:`~worker.pipeline.seen`: seen comments, cursors and gone targets per polled target;
- :mod:`~worker.pipeline.done`: done markers, in-progress leases, disabled actions;
- :mod:`~worker.pipeline.batches`: blacklist / Weibo destroy buffers and in-flight batches;
- :mod:`~worker.pipeline.audit`: the bounded audit stream;
- :mod:`~worker.pipeline.offenses`: author offense counts for ``author.offenses``;
- :mod:`~worker.pipeline.rulestats`: per-rule counters for ``modworker stats``;
- :mod:`~worker.pipeline.lock`: the renewable lock of the one scheduler.
"""
