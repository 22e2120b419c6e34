"""Which module serves each platform in the sandbox: one per platform spec, found by name.

Every platform of :data:`worker.platform_specs.SPECS` is served by
``worker.sandbox.<name>_endpoints``, whose ``sandbox_endpoints(faults, limits)`` builds its
:class:`~worker.sandbox.protocol.PlatformEndpoints` (taking the ``limits`` it knows with
:func:`~worker.sandbox.protocol.take_limits`). Adding a platform to the sandbox is adding that
module: neither the dispatcher nor the :class:`~worker.sandbox.Sandbox` facade is edited.
"""

from __future__ import annotations

import importlib
from typing import Any, cast

from worker.platform_specs import PLATFORM_NAMES
from worker.sandbox.faults import Faults
from worker.sandbox.protocol import PlatformEndpoints

ENDPOINT_MODULE = "worker.sandbox.{platform}_endpoints"


def build_platforms(faults: Faults, limits: dict[str, Any]) -> dict[str, PlatformEndpoints]:
    """Every platform's endpoints, by platform name. ``limits``: the sandbox's keyword
    settings of every platform; one no platform takes is a TypeError naming it."""
    left = dict(limits)
    built: dict[str, PlatformEndpoints] = {}
    for name in PLATFORM_NAMES:
        module = importlib.import_module(ENDPOINT_MODULE.format(platform=name))
        built[name] = cast(PlatformEndpoints, module.sandbox_endpoints(faults, left))
    if left:
        raise TypeError(f"Sandbox got unknown settings: {', '.join(sorted(left))}")
    return built
