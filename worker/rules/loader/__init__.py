"""Rule files -> a compiled :class:`~worker.rules.engine.RuleSet`, or every problem at once.

The loader never stops at the first mistake: it reads every file, resolves every list, compiles
every rule and runs every rule's ``tests``, and raises one :class:`ConfigError` whose problems
each name the file, the line, the rule and what is wrong. A rule set is only ever built from
files with no problem at all, so a reload with a broken file can keep the old rules running.

Its parts, each sharing the load's :class:`~worker.rules.loader.located.Report`:

- :mod:`~worker.rules.loader.located`: the report, values quoted as written, "did you mean";
- :mod:`~worker.rules.loader.files`: rule files and directories read, ``defaults.yaml``;
- :mod:`~worker.rules.loader.lists`: ``lists:``, ``$name`` references, ``{file: path}`` lists;
- :mod:`~worker.rules.loader.options`: ``normalize:`` and the matcher group of each;
- :mod:`~worker.rules.loader.rule`: one rule, through
  :mod:`~worker.rules.loader.conditions` (``when``), :mod:`~worker.rules.loader.actions`
  (``then``) and :mod:`~worker.rules.loader.samples` (``tests``);
- :mod:`~worker.rules.loader.assembly`: :func:`load_rules`, the whole load.
"""

from worker.platform_specs import PLATFORM_NAMES
from worker.rules.loader.assembly import load_rules
from worker.rules.loader.files import source_root

__all__ = ["PLATFORM_NAMES", "load_rules", "source_root"]
