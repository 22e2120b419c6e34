"""Fault injection: random failures, rate limits and quotas, all settable while serving.

Every setting may be changed at any time from any thread. Randomness comes from one
``random.Random(seed)``, so a given sequence of requests meets the same faults on every run.
A probability draws from the generator only when it is above zero, so faults that are off
do not consume random numbers.

Deterministic one-shot faults (:meth:`Faults.fail_next`) are checked before the random ones
and are what tests should normally use.

Where each fault strikes, in request order:

1. ``latency`` (sleep), then ``html_5xx`` (an HTML 502 page, nothing happens), before any
   credential check;
2. after the credentials are accepted: ``revoke_api`` (48001, WeChat), ``minute_limit``
   (45011 / Weibo ``weibo_minute_code``), ``quota`` (45009 / Weibo ``weibo_quota_code``),
   an injected error code, ``busy`` (-1 / Weibo 10001); none of these has any effect;
3. ``malformed``: the operation **does** take effect and only its answer is damaged
   (truncated JSON or a non-JSON line), the way a dropped connection looks to a client. The
   one-shot kinds ``bad_utf8``, ``not_object``, ``deep_json`` and ``oversized`` damage it in
   their own way (see :data:`DAMAGE_KINDS`).
"""

from __future__ import annotations

import random
import threading
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

DestroyShape = Literal["array", "result", "single"]
WeiboCodeType = Literal["string", "number", "alternate"]
FaultKind = Literal[
    "busy", "html_5xx", "malformed", "bad_utf8", "not_object", "deep_json", "oversized"
]
Verdict = Literal["minute", "quota"]

DESTROY_SHAPES: tuple[DestroyShape, ...] = ("array", "result", "single")
DestroyMode = Literal["partial", "atomic", "keep"]
DESTROY_MODES: tuple[DestroyMode, ...] = ("partial", "atomic", "keep")
ListOrder = Literal["newest", "oldest"]
LIST_ORDERS: tuple[ListOrder, ...] = ("newest", "oldest")
WEIBO_CODE_TYPES: tuple[WeiboCodeType, ...] = ("string", "number", "alternate")
FAULT_KINDS: tuple[FaultKind, ...] = (
    "busy", "html_5xx", "malformed", "bad_utf8", "not_object", "deep_json", "oversized"
)
#: One-shot damages of an answer whose operation took effect (like ``malformed``): invalid
#: UTF-8, a JSON scalar instead of an object, 100,000 nested arrays, a 9 MiB JSON object.
DAMAGE_KINDS: tuple[FaultKind, ...] = (
    "malformed", "bad_utf8", "not_object", "deep_json", "oversized"
)
WEIBO_RATE_CODES = (10022, 10023, 10024)


@dataclass(slots=True)
class _Injection:
    kind: FaultKind | int
    endpoint: str | None
    remaining: int


@dataclass(frozen=True, slots=True)
class Injected:
    """A one-shot fault taken for the current request: a kind, or an error code to return."""

    kind: FaultKind | int


def _probability(name: str, value: float) -> float:
    value = float(value)
    if not 0.0 <= value <= 1.0:
        raise ValueError(f"{name} must be between 0 and 1, got {value}")
    return value


def _limits(name: str, value: Mapping[str, int] | None) -> dict[str, int]:
    out: dict[str, int] = {}
    for endpoint, limit in (value or {}).items():
        if not isinstance(limit, int) or isinstance(limit, bool) or limit < 0:
            raise ValueError(f"{name}[{endpoint!r}] must be a non-negative int, got {limit!r}")
        out[str(endpoint)] = limit
    return out


class Faults:
    """The fault settings of one sandbox, plus the counters the limits need."""

    def __init__(self, *, seed: int | None = None) -> None:
        self._lock = threading.Lock()
        self._rng = random.Random(seed)
        self._busy = 0.0
        self._html_5xx = 0.0
        self._malformed = 0.0
        self._latency = 0.0
        self._quota: dict[str, int] = {}
        self._minute_limit: dict[str, int] = {}
        self._destroy_shape: DestroyShape = "single"
        self._destroy_mode: DestroyMode = "partial"
        self._wechat_list_order: ListOrder = "newest"
        self._weibo_code_type: WeiboCodeType = "number"
        self._weibo_quota_code = 10023
        self._weibo_minute_code = 10022
        self._injections: list[_Injection] = []
        # (scope, endpoint) -> (window, count); scope is a WeChat appid or "weibo:<uid>".
        self._quota_used: dict[tuple[str, str], tuple[int, int]] = {}
        self._minute_used: dict[tuple[str, str], tuple[int, int]] = {}
        self._alternate = 0

    # -- settings ------------------------------------------------------------------------

    @property
    def busy_probability(self) -> float:
        """Chance of WeChat errcode -1 / Weibo 10001 on an authenticated call."""
        return self._busy

    @busy_probability.setter
    def busy_probability(self, value: float) -> None:
        self._busy = _probability("busy_probability", value)

    @property
    def html_5xx_probability(self) -> float:
        """Chance of an HTML 502 page instead of any answer (before authentication)."""
        return self._html_5xx

    @html_5xx_probability.setter
    def html_5xx_probability(self, value: float) -> None:
        self._html_5xx = _probability("html_5xx_probability", value)

    @property
    def malformed_probability(self) -> float:
        """Chance that an answer (of an operation that did happen) is truncated or not JSON."""
        return self._malformed

    @malformed_probability.setter
    def malformed_probability(self, value: float) -> None:
        self._malformed = _probability("malformed_probability", value)

    @property
    def latency(self) -> float:
        """Seconds slept before answering each platform request."""
        return self._latency

    @latency.setter
    def latency(self, value: float) -> None:
        value = float(value)
        if value < 0:
            raise ValueError(f"latency must be >= 0, got {value}")
        self._latency = value

    @property
    def quota(self) -> dict[str, int]:
        """Calls allowed per scope (WeChat app, Weibo user) and endpoint before the quota error.

        The WeChat window is the day (Asia/Shanghai midnight on the sandbox clock), Weibo's
        the hour. Assigning a new mapping restarts the counting; changing the returned dict
        in place changes limits without resetting what was counted.
        """
        return self._quota

    @quota.setter
    def quota(self, value: Mapping[str, int] | None) -> None:
        limits = _limits("quota", value)
        with self._lock:
            self._quota = limits
            self._quota_used.clear()

    @property
    def minute_limit(self) -> dict[str, int]:
        """Calls allowed per scope and endpoint per clock minute before 45011 / Weibo 10022."""
        return self._minute_limit

    @minute_limit.setter
    def minute_limit(self, value: Mapping[str, int] | None) -> None:
        limits = _limits("minute_limit", value)
        with self._lock:
            self._minute_limit = limits
            self._minute_used.clear()

    @property
    def destroy_shape(self) -> DestroyShape:
        """Weibo destroy_batch success answer: ``single``, the first deleted comment object
        (the default: the seed document 004's example), ``array`` of deleted comments or
        ``result`` (``{"result": true}``), the shapes the page's history shows."""
        return self._destroy_shape

    @destroy_shape.setter
    def destroy_shape(self, value: str) -> None:
        if value not in DESTROY_SHAPES:
            raise ValueError(f"destroy_shape must be one of {DESTROY_SHAPES}, got {value!r}")
        self._destroy_shape = value

    @property
    def destroy_mode(self) -> DestroyMode:
        """How Weibo destroy_batch treats a batch with ids it cannot delete (the documents
        are silent): ``partial`` (the default) deletes the others and answers success (an
        error only when none could be deleted); ``atomic`` deletes nothing and answers 20203
        when some id is under another user's post, else 20201 when some id does not exist;
        ``keep`` deletes nothing and answers ``[]`` (the v1 page's answer when none was
        deleted), a platform that quietly keeps comments."""
        return self._destroy_mode

    @destroy_mode.setter
    def destroy_mode(self, value: str) -> None:
        if value not in DESTROY_MODES:
            raise ValueError(f"destroy_mode must be one of {DESTROY_MODES}, got {value!r}")
        self._destroy_mode = value

    @property
    def wechat_list_order(self) -> ListOrder:
        """Order of WeChat ``comment/list`` pages: ``newest`` first (the default) or
        ``oldest`` first; the documents do not say which (api-notes §1.4)."""
        return self._wechat_list_order

    @wechat_list_order.setter
    def wechat_list_order(self, value: str) -> None:
        if value not in LIST_ORDERS:
            raise ValueError(f"wechat_list_order must be one of {LIST_ORDERS}, got {value!r}")
        self._wechat_list_order = value

    @property
    def weibo_error_code_type(self) -> WeiboCodeType:
        """How Weibo errors carry ``error_code``: ``number`` (the seed document 004's error
        shape, the default), ``string`` (the official error-code page's example) or
        ``alternate`` (string, number, ...)."""
        return self._weibo_code_type

    @weibo_error_code_type.setter
    def weibo_error_code_type(self, value: str) -> None:
        if value not in WEIBO_CODE_TYPES:
            raise ValueError(f"weibo_error_code_type must be one of {WEIBO_CODE_TYPES}")
        self._weibo_code_type = value

    @property
    def weibo_quota_code(self) -> int:
        """Weibo error for an exhausted ``quota`` (10022, 10023 default, or 10024)."""
        return self._weibo_quota_code

    @weibo_quota_code.setter
    def weibo_quota_code(self, value: int) -> None:
        if value not in WEIBO_RATE_CODES:
            raise ValueError(f"weibo_quota_code must be one of {WEIBO_RATE_CODES}")
        self._weibo_quota_code = value

    @property
    def weibo_minute_code(self) -> int:
        """Weibo error for an exceeded ``minute_limit`` (10022 default, 10023 or 10024)."""
        return self._weibo_minute_code

    @weibo_minute_code.setter
    def weibo_minute_code(self, value: int) -> None:
        if value not in WEIBO_RATE_CODES:
            raise ValueError(f"weibo_minute_code must be one of {WEIBO_RATE_CODES}")
        self._weibo_minute_code = value

    def fail_next(
        self, kind: FaultKind | int, *, endpoint: str | None = None, times: int = 1
    ) -> None:
        """Make the next ``times`` platform calls (to ``endpoint``, or to any) fail.

        ``kind`` is ``"busy"``, ``"html_5xx"``, one of :data:`DAMAGE_KINDS` or an error
        code to answer with (after authentication), e.g. ``45011``, ``40001`` or Weibo
        ``10023``. Each matching request uses one up, even one that fails earlier (bad
        token) and so never reaches the injected fault. Injections are used in the order
        they were added.
        """
        if isinstance(kind, bool) or not (isinstance(kind, int) or kind in FAULT_KINDS):
            raise ValueError(f"kind must be one of {FAULT_KINDS} or an error code, got {kind!r}")
        if times < 1:
            raise ValueError("times must be >= 1")
        with self._lock:
            self._injections.append(_Injection(kind=kind, endpoint=endpoint, remaining=times))

    def reset(self) -> None:
        """Every fault off, every counter and pending injection cleared (the seed stays)."""
        with self._lock:
            self._busy = self._html_5xx = self._malformed = self._latency = 0.0
            self._quota = {}
            self._minute_limit = {}
            self._destroy_shape = "single"
            self._destroy_mode = "partial"
            self._wechat_list_order = "newest"
            self._weibo_code_type = "number"
            self._weibo_quota_code = 10023
            self._weibo_minute_code = 10022
            self._injections.clear()
            self._quota_used.clear()
            self._minute_used.clear()

    _SETTABLE = (
        "busy_probability",
        "html_5xx_probability",
        "malformed_probability",
        "latency",
        "quota",
        "minute_limit",
        "destroy_shape",
        "destroy_mode",
        "wechat_list_order",
        "weibo_error_code_type",
        "weibo_quota_code",
        "weibo_minute_code",
    )

    def update(self, settings: Mapping[str, Any]) -> None:
        """Apply several settings at once (admin endpoint, seed file). Unknown keys raise.

        ``fail_next`` may be given as a list of ``{"kind", "endpoint", "times"}`` objects and
        ``reset: true`` switches everything off first.
        """
        unknown = set(settings) - {*self._SETTABLE, "fail_next", "reset"}
        if unknown:
            raise ValueError(f"unknown fault settings: {sorted(unknown)}")
        if settings.get("reset"):
            self.reset()
        for name in self._SETTABLE:
            if name in settings:
                setattr(self, name, settings[name])
        for item in settings.get("fail_next") or []:
            self.fail_next(
                item["kind"], endpoint=item.get("endpoint"), times=int(item.get("times", 1))
            )

    def to_dict(self) -> dict[str, Any]:
        with self._lock:
            pending = [
                {"kind": i.kind, "endpoint": i.endpoint, "times": i.remaining}
                for i in self._injections
            ]
        return {
            "busy_probability": self._busy,
            "html_5xx_probability": self._html_5xx,
            "malformed_probability": self._malformed,
            "latency": self._latency,
            "quota": dict(self._quota),
            "minute_limit": dict(self._minute_limit),
            "destroy_shape": self._destroy_shape,
            "destroy_mode": self._destroy_mode,
            "wechat_list_order": self._wechat_list_order,
            "weibo_error_code_type": self._weibo_code_type,
            "weibo_quota_code": self._weibo_quota_code,
            "weibo_minute_code": self._weibo_minute_code,
            "fail_next": pending,
        }

    # -- used by the dispatcher ----------------------------------------------------------

    def take_injection(self, endpoint: str) -> Injected | None:
        """Consume one pending :meth:`fail_next` for ``endpoint`` (first come, first used)."""
        with self._lock:
            for i, inj in enumerate(self._injections):
                if inj.endpoint is None or inj.endpoint == endpoint:
                    inj.remaining -= 1
                    if inj.remaining <= 0:
                        del self._injections[i]
                    return Injected(kind=inj.kind)
        return None

    def roll(self, probability: float) -> bool:
        """True with ``probability``; draws from the seeded generator only when it is > 0."""
        if probability <= 0.0:
            return False
        with self._lock:
            return self._rng.random() < probability

    def choice(self, n: int) -> int:
        """A seeded integer in ``[0, n)``."""
        with self._lock:
            return self._rng.randrange(n)

    def admit(
        self, scope: str, endpoint: str, *, minute_window: int, quota_window: int
    ) -> Verdict | None:
        """Count one call of ``scope`` to ``endpoint``; say which limit it breaks, if any."""
        with self._lock:
            minute_cap = self._minute_limit.get(endpoint)
            if (
                minute_cap is not None
                and self._bump(self._minute_used, (scope, endpoint), minute_window) > minute_cap
            ):
                return "minute"
            used = self._bump(self._quota_used, (scope, endpoint), quota_window)
            quota_cap = self._quota.get(endpoint)
            if quota_cap is not None and used > quota_cap:
                return "quota"
        return None

    def quota_used(self, scope: str, endpoint: str, *, quota_window: int) -> int:
        """Calls ``scope`` made to ``endpoint`` in ``quota_window`` that reached the quota
        check (``openapi/quota/get`` reports them as ``used``)."""
        with self._lock:
            seen_window, count = self._quota_used.get((scope, endpoint), (quota_window, 0))
            return count if seen_window == quota_window else 0

    def strike(
        self,
        scope: str,
        endpoint: str,
        *,
        injected: str | int | None,
        minute_window: int,
        quota_window: int,
    ) -> Verdict | Literal["busy"] | int | None:
        """The post-authentication fault for this call, if any, in the documented order:
        minute limit, quota, an injected error code, busy (injected or random)."""
        verdict = self.admit(
            scope, endpoint, minute_window=minute_window, quota_window=quota_window
        )
        if verdict is not None:
            return verdict
        if isinstance(injected, int):
            return injected
        if injected == "busy" or self.roll(self._busy):
            return "busy"
        return None

    @staticmethod
    def _bump(
        counters: dict[tuple[str, str], tuple[int, int]], key: tuple[str, str], window: int
    ) -> int:
        seen_window, count = counters.get(key, (window, 0))
        count = count + 1 if seen_window == window else 1
        counters[key] = (window, count)
        return count

    def weibo_code_as_string(self) -> bool:
        """Whether the next Weibo error carries ``error_code`` as a string."""
        kind = self._weibo_code_type
        if kind == "alternate":
            with self._lock:
                self._alternate += 1
                return self._alternate % 2 == 1
        return kind == "string"
