"""Reading an operator's text file (a rule file, a term list) without trusting what it is.

Only a regular file is read: a FIFO would block the reader forever and ``/dev/zero`` would fill
its memory. The file is opened without blocking, checked again on the open descriptor (it may
have been swapped since), and read up to a size cap; anything else is a :class:`ConfigError`
naming the file.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

from worker.errors import ConfigError, Problem

__all__ = ["read_regular_text"]


def read_regular_text(path: Path, *, max_bytes: int, what: str = "file") -> str:
    """The UTF-8 text of the regular file ``path``, at most ``max_bytes`` long."""

    def refuse(message: str) -> ConfigError:
        return ConfigError(Problem(message, file=str(path)))

    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0))
    except OSError as exc:
        raise refuse(f"cannot read {what}: {exc.strerror}") from exc
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            raise refuse(f"{what} is not a regular file (a device, FIFO or socket is refused)")
        if info.st_size > max_bytes:
            raise refuse(f"{what} is {info.st_size:,} bytes; at most {max_bytes:,} are read")
        with os.fdopen(fd, "rb", closefd=True) as stream:
            fd = -1
            data = stream.read(max_bytes + 1)
    except OSError as exc:
        raise refuse(f"cannot read {what}: {exc.strerror}") from exc
    finally:
        if fd >= 0:
            os.close(fd)
    if len(data) > max_bytes:  # grew since fstat
        raise refuse(f"{what} is more than {max_bytes:,} bytes; at most {max_bytes:,} are read")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise refuse(f"{what} is not UTF-8 text (byte {exc.start})") from exc
