"""The dramatiq actors, one module each: ``poll`` lists, ``moderate`` decides, ``act`` and
``flush`` do, ``notify`` tells the moderators (digests, on its own queue). A
:class:`Pipeline` declares them on a broker and binds them to a Runtime.

Delivery is at least once, so every effect is idempotent:

- ``poll`` marks comments seen only after their ``moderate`` message is enqueued (a crash in
  between re-sends them; the ledger makes that harmless) and moves the cursor last;
- ``act`` takes a lease on the action key (renewed by a heartbeat while the call runs; 30 s
  without one and a dead holder's action is free), checks the done marker, calls, and marks
  done; the platform's own "already done" answers count as done;
- ``flush`` claims batches atomically from Redis; a batch whose sender died is reclaimed whole,
  and ids that may have reached the platform are reconciled by the client first, so no
  openid is sent twice.

What a failure means is one policy for all four, :func:`worker.pipeline.failures.dispose`:
retry with backoff (bounded; the last attempt is audited ``failed``), wait for our own pacing
or a token, defer until a quota pause ends (both burning no retry), or fail for good
(audited; 88000/48001 also disable that action for the account). No actor knows a platform:
what differs between platforms is in their spec and client (:mod:`worker.platform_specs`).
"""

from worker.pipeline.actors.common import DISABLED_DETAIL, polling_marker, polling_marker_ttl
from worker.pipeline.actors.pipeline import Actors, Pipeline

__all__ = ["DISABLED_DETAIL", "Actors", "Pipeline", "polling_marker", "polling_marker_ttl"]
