"""Reading one config file: ``${NAME}`` substitution, every problem collected; value checks."""

from __future__ import annotations

import difflib
import math
import re
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

from worker.errors import Problem
from worker.units import parse_duration
from worker.yamlsrc import SourceList, SourceMap

if TYPE_CHECKING:
    pass


_ENV_REF = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")


class _Reader:
    """Collects every problem of one file instead of stopping at the first."""

    def __init__(self, filename: str, environ: Mapping[str, str], require_secrets: bool) -> None:
        self.filename = filename
        self.environ = environ
        self.require_secrets = require_secrets
        self.problems: list[Problem] = []
        self.warnings: list[Problem] = []

    def problem(
        self, message: str, node: object, key: object = None, fld: str | None = None
    ) -> None:
        line: int | None = None
        if isinstance(node, SourceMap):
            line = node.line_of(key) if key is not None else node.line
        elif isinstance(node, SourceList):
            line = node.line_of(key) if isinstance(key, int) else node.line
        self.problems.append(Problem(message, file=self.filename, line=line, field=fld))

    def mapping(self, node: object, where: str) -> SourceMap:
        if isinstance(node, SourceMap):
            return node
        if node is not None:
            self.problem(f"{where} must be a mapping", node, fld=where)
        empty = SourceMap()
        empty.line, empty.key_lines = getattr(node, "line", 1), {}
        return empty

    def known_keys(self, node: SourceMap, allowed: set[str], where: str) -> None:
        for key in node:
            if key not in allowed:
                hint = did_you_mean(str(key), allowed)
                self.problem(f"unknown key {key!r}{hint}", node, key, f"{where}.{key}")

    def get(
        self,
        node: SourceMap,
        key: str,
        convert: Callable[[Any], Any],
        default: Any,
        where: str,
    ) -> Any:
        if key not in node or node[key] is None:
            return default
        try:
            return convert(node[key])
        except (TypeError, ValueError) as exc:
            self.problem(str(exc), node, key, f"{where}.{key}")
            return default

    def env(self, value: object, node: SourceMap, key: str, where: str) -> str | None:
        """Substitute ``${NAME}`` references from the environment."""
        if value is None:
            return None
        text = str(value)
        missing: list[str] = []

        def substitute(match: re.Match[str]) -> str:
            name = match.group(1)
            if name not in self.environ:
                missing.append(name)
                return ""
            return self.environ[name]

        result = _ENV_REF.sub(substitute, text)
        for name in missing:
            self.problem(f"environment variable {name} is not set", node, key, f"{where}.{key}")
            if not self.require_secrets:
                self.warnings.append(self.problems.pop())
        return result if not missing else None

    def secret(self, value: object, node: SourceMap, key: str, where: str) -> str | None:
        """A secret: from the environment (``${NAME}``); empty is a problem, one written in
        the file a warning (it ends up in backups, diffs and bug reports)."""
        result = self.env(value, node, key, where)
        if value is not None and not _ENV_REF.search(str(value)) and str(value):
            self.problem(f"{key} is written in the file: read it from the environment "
                         "instead (${VARIABLE}, set in the service's environment file)",
                         node, key, f"{where}.{key}")
            self.warnings.append(self.problems.pop())
        if result is not None and not result.strip():
            names = ", ".join(f"${{{n}}}" for n in _ENV_REF.findall(str(value)))
            self.problem(f"{key} is empty" + (f" ({names} is set but empty)" if names else ""),
                         node, key, f"{where}.{key}")
            return None
        return result


def did_you_mean(word: str, choices: set[str] | list[str]) -> str:
    """`` (did you mean 'x'?)`` when a close choice exists, else the empty string."""
    close = difflib.get_close_matches(word, sorted(choices), n=1, cutoff=0.6)
    return f" (did you mean {close[0]!r}?)" if close else ""


def _positive_int(value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
        raise ValueError(f"expected a positive whole number, got {value!r}")
    return value


def _non_negative_int(value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise ValueError(f"expected a whole number >= 0, got {value!r}")
    return value


def _port(value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= 65535:
        raise ValueError(f"expected a TCP port from 1 to 65535, got {value!r}")
    return value


def _duration_above_zero(value: Any) -> float:
    seconds = parse_duration(value)
    if seconds <= 0:
        raise ValueError(f"expected a duration above 0 like 30s or 10m, got {value!r}")
    return seconds


def _backoff(value: Any) -> float:
    """dramatiq counts backoff in whole milliseconds: less than 1ms would retry at once."""
    seconds = parse_duration(value)
    if seconds < 0.001:
        raise ValueError(f"expected a duration of at least 1ms like 500ms or 2s, got {value!r}")
    return seconds


def _id_number(value: Any) -> int:
    """msg_data_id / status_id: a number of any size, or its decimal string."""
    if isinstance(value, bool):
        raise ValueError(f"expected a numeric id, got {value!r}")
    if isinstance(value, int) and value > 0:
        return value
    if isinstance(value, str) and value.strip().isdigit():
        return int(value.strip())
    raise ValueError(f"expected a numeric id, got {value!r}")


def _boolean(value: Any) -> bool:
    if not isinstance(value, bool):
        raise ValueError(f"expected true or false, got {value!r}")
    return value


def _fraction(value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not 0 <= value < 1:
        raise ValueError(f"expected a number from 0 to below 1, got {value!r}")
    return float(value)


def _stretch(value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not 1 <= value < math.inf:
        raise ValueError(
            f"expected a multiple of the even interval, at least 1 (1: no target that still "
            f"gets comments waits longer than under fixed polling), got {value!r}"
        )
    return float(value)


def _share(value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not 0 < value < 1:
        raise ValueError(
            f"expected a share above 0 and below 1 (actions keep the rest), got {value!r}"
        )
    return float(value)
