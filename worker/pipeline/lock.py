"""A renewable Redis lock: exactly one scheduler per deployment.

The holder's owner token is the key's value, set with ``NX PX ttl``. Renewal and release are
compare-and-set scripts on the token, so a holder whose lock expired (paused, partitioned) can
neither extend nor delete its successor's lock. A holder that dies stops renewing; the key
expires after ``ttl`` and a waiting process takes over.

:attr:`RenewableLock.held` is conservative: it turns False as soon as the last confirmed
renewal is ``ttl`` old (measured from *before* the renewal was sent, on the monotonic clock),
even while Redis is unreachable, so the scheduler stops scheduling no later than the moment
another process could acquire the lock.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from types import TracebackType

import redis

from worker.logs import get_logger
from worker.pipeline._redis import LuaScript, new_token
from worker.redis_lua import COMPARE_AND_DELETE, COMPARE_AND_EXTEND

log = get_logger(__name__)

# KEYS[1] lock; ARGV[1] token, ARGV[2] ttl (ms). Takes a free lock, or re-arms our own.
_ACQUIRE = """
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('PEXPIRE', KEYS[1], ARGV[2])
end
if redis.call('SET', KEYS[1], ARGV[1], 'NX', 'PX', ARGV[2]) then
  return 1
end
return 0
"""




class RenewableLock:
    """One holder at a time across processes and hosts; renewed in the background.

    ``acquire()`` starts a daemon thread that renews every ``renew_interval`` (default
    ``ttl / 3``) unless ``auto_renew=False``, in which case the owner calls :meth:`renew`
    from its own loop at least that often. ``on_lost`` is called (from the renewing thread)
    when the lock is found taken over or expired.
    """

    def __init__(
        self,
        *,
        redis: redis.Redis,
        key: str,
        ttl: float = 30.0,
        renew_interval: float | None = None,
        auto_renew: bool = True,
        owner: str | None = None,
        poll_interval: float | None = None,
        on_lost: Callable[[], None] | None = None,
    ) -> None:
        if ttl <= 0:
            raise ValueError("ttl must be positive")
        self._redis = redis
        self.key = key
        self.ttl = ttl
        self.renew_interval = renew_interval if renew_interval is not None else ttl / 3
        if not 0 < self.renew_interval < ttl:
            raise ValueError("renew_interval must be positive and shorter than ttl")
        self.auto_renew = auto_renew
        self.owner = owner or new_token()
        self.poll_interval = poll_interval if poll_interval is not None else min(1.0, ttl / 10)
        self._on_lost = on_lost
        self._acquire_script = LuaScript(redis, _ACQUIRE)
        self._renew_script = LuaScript(redis, COMPARE_AND_EXTEND)
        self._release_script = LuaScript(redis, COMPARE_AND_DELETE)
        self._state = threading.Lock()
        self._valid_until = 0.0  # monotonic; 0: not held
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    @property
    def held(self) -> bool:
        with self._state:
            return time.monotonic() < self._valid_until

    def acquire(self, blocking: bool = False, timeout: float | None = None) -> bool:
        """Take the lock. Blocking: wait (up to ``timeout``, None: forever) for it to be free."""
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            sent = time.monotonic()
            if self._acquire_script([self.key], [self.owner, self._ttl_ms()]):
                with self._state:
                    self._valid_until = sent + self.ttl
                if self.auto_renew:
                    self._start_thread()
                return True
            if not blocking:
                return False
            pause = self.poll_interval
            if deadline is not None:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return False
                pause = min(pause, remaining)
            time.sleep(pause)

    def renew(self) -> bool:
        """Extend the lock if still ours; False (and ``held`` False) if it was lost."""
        sent = time.monotonic()
        if self._renew_script([self.key], [self.owner, self._ttl_ms()]):
            with self._state:
                self._valid_until = sent + self.ttl
            return True
        with self._state:
            was_held = self._valid_until > 0
            self._valid_until = 0.0
        if was_held:
            log.warning("scheduler_lock_lost", key=self.key)
        return False

    def release(self) -> bool:
        """Stop renewing and delete the lock if still ours."""
        self._stop_thread()
        with self._state:
            self._valid_until = 0.0
        return bool(self._release_script([self.key], [self.owner]))

    def __enter__(self) -> RenewableLock:
        self.acquire(blocking=True)
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.release()

    # -- background renewal ----------------------------------------------------------------
    def _start_thread(self) -> None:
        if self._thread is not None and self._thread.is_alive():
            return
        self._stop.clear()
        self._thread = threading.Thread(
            target=self._renew_loop, name=f"lock-renew:{self.key}", daemon=True
        )
        self._thread.start()

    def _stop_thread(self) -> None:
        self._stop.set()
        thread, self._thread = self._thread, None
        if thread is not None and thread is not threading.current_thread():
            thread.join(timeout=self.ttl)

    def _renew_loop(self) -> None:
        while not self._stop.wait(self.renew_interval):
            try:
                still_ours = self.renew()
            except redis.RedisError:
                # Redis unreachable: keep trying; ``held`` turns False once the last
                # confirmed renewal is ttl old, which is when another process could take over.
                log.warning("scheduler_lock_renew_failed", key=self.key, exc_info=True)
                if self.held:
                    continue
                still_ours = False
            if not still_ours:
                with self._state:
                    self._valid_until = 0.0
                if self._on_lost is not None:
                    self._on_lost()
                return

    def _ttl_ms(self) -> int:
        return max(1, int(self.ttl * 1000))
