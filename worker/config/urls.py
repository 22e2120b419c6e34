"""Redis and API URL checks, and redaction of passwords in URLs for logs."""

from __future__ import annotations

import ipaddress
import re
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

if TYPE_CHECKING:
    pass

_REDIS_SCHEMES = ("redis://", "rediss://", "unix://")


def _check_redis_url(url: str) -> None:
    """Raise ValueError, naming what is wrong, unless redis-py can connect with ``url``.

    The message never holds the URL's password: the URL is shown redacted, and parts of it
    (a port or database that does not parse may be a piece of a password holding ``/`` or
    ``:``) are never echoed on their own.
    """
    shown = _redact_url(url)
    if not url.startswith(_REDIS_SCHEMES):
        hint = f" (for a TCP server write redis://{shown})" if "://" not in url else ""
        raise ValueError(
            f"must start with redis://, rediss:// (TLS) or unix:// (a socket path), got "
            f"{shown!r}{hint}"
        )
    parts = urlsplit(url)
    if parts.scheme == "unix":
        if not parts.path:
            raise ValueError("a unix:// URL needs the socket path, e.g. unix:///run/redis.sock")
    else:
        try:
            port = parts.port
        except ValueError:
            raise ValueError(
                f"invalid port in {shown!r}: expected a number from 1 to 65535 after the host"
            ) from None
        if port == 0:
            raise ValueError("the port must be from 1 to 65535, got 0")
        database = parts.path.strip("/")
        if database and not database.isdigit():
            raise ValueError(f"the database after the host must be a number, in {shown!r}")
    import redis  # here: ``check`` and ``replay`` need no Redis client unless a URL is set

    try:
        redis.ConnectionPool.from_url(url)  # its ValueError names the bad query argument
    except ValueError as exc:
        message = str(exc)
        password = redis_url_password(url)
        if password:
            message = message.replace(password, "***")
        raise ValueError(message) from None


def redis_url_password(url: str) -> str | None:
    """The password in a Redis URL (``redis://[user]:password@host``), if any."""
    try:
        return urlsplit(url).password
    except ValueError:
        match = re.match(r"^[A-Za-z][A-Za-z0-9+.-]*://[^/@]*:([^/@]*)@", url)
        return match.group(1) if match else None


def redact_url(url: str) -> str:
    """``url`` with any ``user:password@`` replaced by ``***@``, for messages and logs."""
    return _redact_url(url)


def _redact_url(url: str) -> str:
    """``url`` with any ``user:password@`` replaced by ``***@``: it goes into error messages."""
    # up to the last @: a password may hold / or @ itself
    return re.sub(r"^([A-Za-z][A-Za-z0-9+.-]*://)?.*@", r"\1***@", url, flags=re.DOTALL)



def _check_api_base(url: str) -> None:
    """An https URL, or http only to this host: tokens and secrets travel in its queries."""
    if url.startswith("https://"):
        return
    if not url.startswith("http://"):
        raise ValueError(f"api_base must be an https:// URL, got {_redact_url(url)!r}")
    try:
        host = urlsplit(url).hostname or ""
    except ValueError:
        host = ""
    if not _is_loopback(host):
        raise ValueError(
            f"api_base must use https:// (plain http:// would send access tokens and app "
            f"secrets unencrypted); http:// is only accepted for a loopback host such as "
            f"127.0.0.1, got {_redact_url(url)!r}"
        )


def _is_loopback(host: str) -> bool:
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False
