"""The command implementations behind :mod:`worker.cli` (which only parses arguments):

- :mod:`~worker.commands.check`: ``modworker check`` (the config and rules validated, online
  credentials tried);
- :mod:`~worker.commands.audit_stats`: ``modworker audit`` and ``modworker stats``, and the
  table rendering and exit codes the other commands share;
- :mod:`~worker.commands.targets`: ``modworker targets list|add|remove``;
- :mod:`~worker.commands.operations`: ``modworker health`` and ``modworker tokens drop``;
- :mod:`~worker.commands.unblacklist`: ``modworker unblacklist``;
- :mod:`~worker.commands.replay`: ``modworker replay`` (the replay itself: :mod:`worker.replay`).
"""
