"""Text as users wrote it, minus what cannot be stored: lone UTF-16 surrogates.

A JSON answer can carry ``"\\ud83d"`` (an emoji cut in half by UTF-16 truncation); Python
decodes it to a lone surrogate, which no UTF-8 encoder accepts, so Redis, the logs and the
audit all refuse the string. Each lone surrogate becomes U+FFFD; a surrogate pair written as
two code points is joined into its character; everything else is kept as written.
"""

from __future__ import annotations


def without_lone_surrogates(text: str) -> str:
    """``text`` with every lone surrogate replaced by U+FFFD (the same object when it has
    none, which is nearly always)."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return text.encode("utf-16-le", "surrogatepass").decode("utf-16-le", "replace")
    return text


def printable(value: object, limit: int = 300) -> str:
    """A value (an id, an error) as text that can always be stored and logged: its ``str``,
    cut to ``limit`` characters, without lone surrogates."""
    return without_lone_surrogates(str(value)[:limit])
