"""Targets that manage themselves: runtime additions, discovery, adaptive polling, budget.

- :mod:`~worker.targets.parse` reads a target the way an operator writes it (ids, links);
- :mod:`~worker.targets.store` keeps the targets added, removed and discovered at runtime
  and merges them with config.yaml's (:func:`~worker.targets.store.watched`);
- :mod:`~worker.targets.book` keeps each target's poll bookkeeping and each account's
  budget (the read API of ``modworker targets list`` and ``stats``);
- :mod:`~worker.targets.policy` moves a target's interval between hot and cold (pure);
- :mod:`~worker.targets.budget` spreads a quota window's calls to its reset (pure);
- :mod:`~worker.targets.planner` decides which targets to poll now (pure: the scheduler and
  ``bench/polling_sim.py`` run it);
- :mod:`~worker.targets.scheduling` is the scheduler's side around it (targets, discovery,
  budgets from the clients), :mod:`~worker.targets.tracking` the poll's side;
- :mod:`~worker.targets.discovery` finds mass-sent WeChat articles with datacube;
- :mod:`~worker.targets.config_watch` reloads config.yaml's targets while the daemon runs;
- ``modworker targets list|add|remove`` on top of them is :mod:`worker.commands.targets`.
"""
