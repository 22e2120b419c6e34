"""Reaching the deployment's Redis from a command (audit, stats, health, tokens drop, ...).

- ``redis.url`` or ``redis.sentinel`` set: that Redis.
- The embedded Redis, daemon running: its unix socket under ``state_dir``.
- The embedded Redis, daemon stopped, reading (:func:`open_state` ``write=False``): a private
  ``redis-server`` on a copy of the append-only files in a temporary directory, on its own
  socket, stopped and removed afterwards. The daemon's files are never written, and nothing
  that would act (scheduler, workers) starts: a post-mortem needs no restart.
- The embedded Redis, daemon stopped, writing (``write=True``: ``tokens drop``): the embedded
  Redis itself, started under its lock (so no daemon starts meanwhile) and stopped again.

A daemon that holds the state directory's lock while its Redis does not answer is an error:
its Redis is starting, or stuck; nothing else may open those files.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import shutil
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import redis

from worker.config import Config
from worker.errors import EmbeddedRedisError, StateUnavailableError
from worker.logs import redact, register_secret
from worker.pipeline.connect import RedisEndpoint, redis_client
from worker.redis_server import EmbeddedRedis

#: What an embedded Redis keeps in ``state_dir`` that a copy needs (Redis 6: one AOF file;
#: Redis 7: a directory of them with a manifest).
DATA_FILES = ("appendonly.aof", "appendonlydir", "dump.rdb")

Source = Literal["url", "daemon", "snapshot", "owned"]


@dataclass(frozen=True)
class State:
    client: redis.Redis
    source: Source

    @property
    def note(self) -> str | None:
        """What to tell the reader about where the data came from, if anything."""
        if self.source == "snapshot":
            return ("the daemon is not running: read from a copy of its embedded Redis's "
                    "append-only file (nothing was started that would act)")
        if self.source == "owned":
            return "the daemon is not running: opened its embedded Redis under its lock"
        return None


def _ping(url: str) -> redis.Redis:
    client = redis.Redis.from_url(url, socket_timeout=10, socket_connect_timeout=5)
    try:
        client.ping()
    except (redis.RedisError, OSError):
        client.close()
        raise
    return client


@contextlib.contextmanager
def open_state(config: Config, *, write: bool = False) -> Iterator[State]:
    """The deployment's Redis, as the module docstring says. Raises StateUnavailableError."""
    endpoint = RedisEndpoint.configured(config.redis)
    if endpoint is not None:  # redis.url or redis.sentinel
        for password in config.redis.secrets:
            register_secret(password)
        client = redis_client(endpoint, socket_timeout=10, socket_connect_timeout=5)
        try:
            client.ping()
        except (redis.RedisError, OSError) as exc:
            client.close()
            raise StateUnavailableError(
                f"cannot reach Redis at {endpoint.describe()}: {redact(str(exc))}"
            ) from None
        with contextlib.closing(client):
            yield State(client, "url")
        return
    embedded = EmbeddedRedis(state_dir=config.state_dir)
    if embedded.socket_path.exists():
        try:
            client = _ping(embedded.url)
        except (redis.RedisError, OSError):
            pass  # a socket left by a daemon that died: is the lock free?
        else:
            with contextlib.closing(client):
                yield State(client, "daemon")
            return
    if not embedded.state_dir.is_dir():
        raise StateUnavailableError(
            f"no state under {embedded.state_dir} (state_dir): the daemon never ran with this "
            "config, or state_dir points elsewhere"
        )
    if write:
        with _owned(embedded) as client:
            yield State(client, "owned")
    else:
        with _snapshot(embedded) as client:
            yield State(client, "snapshot")


@contextlib.contextmanager
def _owned(embedded: EmbeddedRedis) -> Iterator[redis.Redis]:
    try:
        embedded.start()
    except EmbeddedRedisError as exc:
        raise StateUnavailableError(_owned_by_daemon(embedded, exc)) from None
    with _client_then_stop(embedded, socket_timeout=10) as client:
        yield client


@contextlib.contextmanager
def _snapshot(embedded: EmbeddedRedis) -> Iterator[redis.Redis]:
    with tempfile.TemporaryDirectory(prefix="modworker-state-") as scratch:
        copy = Path(scratch)
        _copy_data(embedded, copy)
        private = EmbeddedRedis(state_dir=copy, appendonly=True)
        try:
            private.start(timeout=60)
        except EmbeddedRedisError as exc:
            raise StateUnavailableError(
                f"could not read a copy of {embedded.state_dir}'s Redis data: {exc}"
            ) from None
        with _client_then_stop(private, socket_timeout=30) as client:
            yield client


@contextlib.contextmanager
def _client_then_stop(server: EmbeddedRedis, *, socket_timeout: float) -> Iterator[redis.Redis]:
    """A client of ``server``, started by the caller, which stops it when the client is
    done (even if making the client failed)."""
    try:
        client = redis.Redis.from_url(server.url, socket_timeout=socket_timeout)
        with contextlib.closing(client):
            yield client
    finally:
        server.stop()


def _copy_data(embedded: EmbeddedRedis, into: Path) -> None:
    """Copy the data files while holding the state directory's lock (no daemon starts and
    writes them halfway through the copy)."""
    lock_path = embedded.state_dir / "redis.lock"
    try:
        fd = os.open(lock_path, os.O_RDONLY)
    except FileNotFoundError:
        fd = None
    except PermissionError:
        raise StateUnavailableError(
            f"permission denied reading {lock_path}: run as the daemon's user"
        ) from None
    try:
        if fd is not None:
            try:
                fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
            except BlockingIOError:
                raise StateUnavailableError(_owned_by_daemon(embedded, None)) from None
        for name in DATA_FILES:
            source = embedded.state_dir / name
            try:
                if source.is_dir():
                    shutil.copytree(source, into / name)
                elif source.is_file():
                    shutil.copy2(source, into / name)
            except PermissionError:
                raise StateUnavailableError(
                    f"permission denied reading {source}: run as the daemon's user"
                ) from None
    finally:
        if fd is not None:
            os.close(fd)


def _owned_by_daemon(embedded: EmbeddedRedis, exc: Exception | None) -> str:
    return (
        f"a daemon owns {embedded.state_dir} (its lock is held) but its Redis does not answer "
        f"on {embedded.socket_path}: it is starting or stuck; try again, or stop it"
        + (f" ({exc})" if exc is not None else "")
    )
