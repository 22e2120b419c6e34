"""The platform-neutral comment: what the platform clients list, the rules engine judges
and the pipeline carries.

Its one serialisation is derived from the dataclass's fields: :meth:`Comment.to_dict` (a queue
message's comment) and :meth:`Comment.from_dict` (a queue message's or a replay line's), which
checks each field by its declared type and names the field it refuses.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import MISSING, dataclass, field, fields
from typing import Any, get_args, get_type_hints

from worker.errors import CommentFormatError
from worker.platform_specs import Platform

#: Field metadata of an identifier (platform ids are numbers on Weibo): a JSON number given
#: for it is read as its decimal string.
_IDENTIFIER = {"identifier": True}


@dataclass(frozen=True, slots=True, kw_only=True)
class Comment:
    """One listed comment, platform-neutral.

    ``id`` is the platform's comment id as a decimal string (WeChat ``user_comment_id``,
    Weibo comment ``id``); ``target`` is the target key (``"<msg_data_id>:<index>"`` on
    WeChat, the status id on Weibo); ``author`` is the WeChat openid or Weibo uid, None when
    the platform did not give one (WeChat comments under a non-WeChat identity).
    """

    platform: Platform
    id: str = field(metadata=_IDENTIFIER)
    content: str
    account: str | None = field(default=None, metadata=_IDENTIFIER)
    target: str | None = field(default=None, metadata=_IDENTIFIER)
    author: str | None = field(default=None, metadata=_IDENTIFIER)
    created_at: float | None = field(default=None, metadata={"unit": "Unix seconds"})
    elected: bool = False
    replied: bool = False

    @property
    def key(self) -> str:
        """Identity across the whole deployment: platform, account, target and comment id."""
        return f"{self.platform}:{self.account or '-'}:{self.target or '-'}:{self.id}"

    def to_dict(self) -> dict[str, Any]:
        """Every field by its name, as JSON takes it (read back by :meth:`from_dict`)."""
        return {name: getattr(self, name) for name in FIELD_NAMES}

    @classmethod
    def from_dict(
        cls, data: Mapping[str, Any], *, defaults: Mapping[str, Any] | None = None
    ) -> Comment:
        """The comment ``data`` holds, as :meth:`to_dict` writes it. A field it does not hold
        takes its value from ``defaults``, else the dataclass's default; an optional field
        may be null. :class:`CommentFormatError` names the first field that is missing or of
        the wrong type."""
        values: dict[str, Any] = {}
        for name, value in data.items():
            read = _READERS.get(name)
            # null: an optional field's default
            if read is not None and (value is not None or name in _REQUIRED):
                values[name] = read(name, value)
        if defaults is not None:
            for name, value in defaults.items():
                if name not in values:
                    values[name] = _READERS[name](name, value)
        for name in _REQUIRED:
            if name not in values:
                raise CommentFormatError(name, f"no {name!r}")
        return cls(**values)


FIELD_NAMES: tuple[str, ...] = tuple(f.name for f in fields(Comment))


def _shown(value: Any) -> str:
    """A value quoted in a message: its repr, cut, ASCII only (stderr may not take the rest)."""
    shown = ascii(value)
    return shown if len(shown) <= 80 else shown[:77] + "..."


def _text(name: str, value: Any) -> str:
    if type(value) is str:
        return value
    raise CommentFormatError(name, f"{name!r} must be a string, got {_shown(value)}")


def _identifier(name: str, value: Any) -> str | None:
    if type(value) is str:
        return value or None
    if type(value) is int:
        return str(value)
    raise CommentFormatError(name, f"{name!r} must be a string or a whole number, "
                                   f"got {_shown(value)}")


def _required_identifier(name: str, value: Any) -> str:
    read = _identifier(name, value)
    if read is None:
        raise CommentFormatError(name, f"{name!r} is empty")
    return read


def _flag(name: str, value: Any) -> bool:
    if type(value) is bool:
        return value
    raise CommentFormatError(name, f"{name!r} must be true or false, got {_shown(value)}")


def _seconds_reader(unit: str) -> Callable[[str, Any], float]:
    def read(name: str, value: Any) -> float:
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise CommentFormatError(name, f"{name!r} must be {unit}, got {_shown(value)}")
        try:
            seconds = float(value)
        except OverflowError as exc:
            raise CommentFormatError(name, f"{name!r} is too large to be {unit}") from exc
        if not math.isfinite(seconds):
            raise CommentFormatError(name, f"{name!r} must be {unit}, got {seconds}")
        return seconds
    return read


def _choice_reader(choices: tuple[str, ...]) -> Callable[[str, Any], str]:
    def read(name: str, value: Any) -> str:
        if value in choices and type(value) is str:
            return value
        raise CommentFormatError(name, f"{name!r} must be {' or '.join(choices)}, "
                                       f"got {_shown(value)}")
    return read


def _readers() -> tuple[tuple[str, Callable[[str, Any], Any], bool], ...]:
    """(name, reader, required) for each field, chosen by its declared type."""
    hints = get_type_hints(Comment)
    out: list[tuple[str, Callable[[str, Any], Any], bool]] = []
    for f in fields(Comment):
        kind = hints[f.name]
        required = f.default is MISSING and f.default_factory is MISSING
        reader: Callable[[str, Any], Any]
        if kind == Platform:
            reader = _choice_reader(tuple(get_args(Platform)))
        elif f.metadata.get("identifier"):
            reader = _required_identifier if required else _identifier
        elif kind is str:
            reader = _text
        elif kind is bool:
            reader = _flag
        elif kind == float | None:
            reader = _seconds_reader(f.metadata.get("unit", "a number"))
        else:
            raise TypeError(f"Comment.{f.name}: no reader for {kind}")
        out.append((f.name, reader, required))
    return tuple(out)


_READERS = {name: read for name, read, _ in _readers()}
_REQUIRED = tuple(name for name, _, required in _readers() if required)
