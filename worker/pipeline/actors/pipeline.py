"""The :class:`Pipeline`: one process's actors, declared on its broker, bound to its
:class:`~worker.pipeline.runtime.WorkerRuntime`.

No module-level state: a process makes one Pipeline (a worker with its WorkerRuntime; the
daemon's main process, which only sends messages, without one) and passes it where actors
are sent.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import dramatiq

from worker.errors import PermanentError
from worker.pipeline.actors import act, flush, moderate, notify, poll
from worker.pipeline.runtime import WorkerRuntime


@dataclass(frozen=True)
class Actors:
    """The declared actors, to send messages with (``actors.poll.send(account, target)``)."""

    poll: dramatiq.Actor[..., None]
    moderate: dramatiq.Actor[..., None]
    act: dramatiq.Actor[..., None]
    flush: dramatiq.Actor[..., None]
    notify: dramatiq.Actor[..., None]

    @property
    def queues(self) -> set[str]:
        return {a.queue_name
                for a in (self.poll, self.moderate, self.act, self.flush, self.notify)}


class Pipeline:
    """The actors of one process. ``runtime`` is None in a process that only sends messages;
    running an actor there is a bug (RuntimeError)."""

    def __init__(self, broker: dramatiq.Broker, runtime: WorkerRuntime | None = None) -> None:
        self._runtime = runtime
        self.actors = Actors(
            poll=self._declare(broker, poll.poll, "poll", max_retries=poll.POLL_RETRIES),
            moderate=self._declare(broker, moderate.moderate, "moderate"),
            act=self._declare(broker, act.act, "act"),
            flush=self._declare(broker, flush.flush, "flush"),
            notify=self._declare(broker, notify.notify, "notify", max_retries=0),
        )

    @property
    def runtime(self) -> WorkerRuntime:
        if self._runtime is None:
            raise RuntimeError("this Pipeline only sends messages: it was made without a Runtime")
        return self._runtime

    def _declare(
        self, broker: dramatiq.Broker, fn: Callable[..., None], name: str, **options: Any
    ) -> dramatiq.Actor[..., None]:
        def run(*args: Any) -> None:
            fn(self, *args)

        functools.update_wrapper(run, fn)
        decorator = dramatiq.actor(
            broker=broker, actor_name=name, queue_name=name, throws=(PermanentError,),
            **options,
        )
        return decorator(run)

    # Run an actor's work here and now, as a worker thread would (tests, tools).

    def poll(self, account: str, target: str) -> None:
        poll.poll(self, account, target)

    def moderate(self, account: str, target: str, comments: list[dict[str, Any]]) -> None:
        moderate.moderate(self, account, target, comments)

    def act(self, account: str, target: str, comment_id: str, action: str, text: str | None,
            rule: str) -> None:
        act.act(self, account, target, comment_id, action, text, rule)

    def flush(self, account: str) -> None:
        flush.flush(self, account)

    def notify(self) -> None:
        notify.notify(self)
