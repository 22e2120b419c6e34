"""Targets that manage themselves: runtime additions, discovery, adaptive polling, budget.

- :mod:`~worker.targets.parse` reads a target the way an operator writes it (ids, links);
- :mod:`~worker.targets.store` keeps the targets added, removed and discovered at runtime;
- :mod:`~worker.targets.book` keeps each target's poll bookkeeping (the read API of
  ``modworker targets list``, ``stats`` and the health endpoint);
- :mod:`~worker.targets.policy` moves a target's interval between hot and cold (pure);
- :mod:`~worker.targets.budget` spreads a daily (WeChat) or hourly (Weibo) call budget (pure);
- :mod:`~worker.targets.discovery` finds mass-sent WeChat articles with datacube.
"""
