"""Every exit code of the ``modworker`` commands, in one place.

- 0 success (for ``run``: stopped by SIGTERM/SIGINT);
- 1 invalid configuration or rules (every problem printed as
  ``file:line: rule 'id': field: message``), or ``check`` found errors;
- 2 bad command-line usage or unreadable input;
- 3 Redis unavailable or the embedded Redis could not start;
- 4 ``unblacklist`` refused in part;
- 5 ``run``: a runtime resource unavailable (a busy metrics port, no process slot): restart;
- 6 ``health``: unhealthy.

``modworker demo`` still defines its own (the same 0, 1, 2, and 130 when interrupted).
"""

from __future__ import annotations

EXIT_OK = 0
EXIT_CONFIG = 1
EXIT_FAILED = 1  # ``check``: a finding at error severity (or warning, with --strict)
EXIT_USAGE = 2
EXIT_REDIS = 3
EXIT_PARTIAL = 4  # ``unblacklist``: some openids were refused
EXIT_RUNTIME = 5
EXIT_UNHEALTHY = 6
