"""``notify``: digest and send what the notify channels queued, each channel whose
``notify.interval`` has run out. On its own queue, asked for by the scheduler every second: a
channel that is slow or down holds up no action message (worker/notify/notifier.py)."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from worker.pipeline.actors.pipeline import Pipeline


def notify(p: Pipeline) -> None:
    p.runtime.notifier.flush_due()
