"""The command implementations behind :mod:`worker.cli` (which only parses arguments):

- :mod:`~worker.commands.check`: ``modworker check`` (the config and rules validated, online
  credentials tried);
- :mod:`~worker.commands.audit`: ``modworker audit``;
- :mod:`~worker.commands.stats`: ``modworker stats`` (its per-target half:
  :mod:`~worker.commands.freshness_report`);
- :mod:`~worker.commands.targets`: ``modworker targets list|add|remove``;
- :mod:`~worker.commands.operations`: ``modworker health`` and ``modworker tokens drop``;
- :mod:`~worker.commands.unblacklist`: ``modworker unblacklist``;
- :mod:`~worker.commands.replay`: ``modworker replay`` (the replay itself: :mod:`worker.replay`);
- :mod:`~worker.commands.console` and :mod:`~worker.commands.tables`: what they share on the
  console (config problems, the state's provenance, a closed pipe) and the aligned text tables.
"""
