"""A client of the sandbox's admin API (``/_sandbox/...``, :mod:`worker.sandbox.admin`), for a
sandbox running as a process: ``modworker demo`` and the benchmarks."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import httpx

from worker.errors import SandboxAdminError


class SandboxAdminClient:
    """Admin calls over loopback HTTP; an answer without ``"ok": true`` is a SandboxAdminError."""

    def __init__(self, url: str, *, timeout: float = 10.0) -> None:
        # trust_env=False: a proxy from the environment must never see loopback traffic.
        self._http = httpx.Client(base_url=f"{url}/_sandbox", timeout=timeout, trust_env=False)

    def close(self) -> None:
        self._http.close()

    def get(self, path: str, **params: str) -> dict[str, Any]:
        return self._answer(self._http.get(f"/{path}", params=params))

    def post(self, path: str, body: Mapping[str, Any]) -> dict[str, Any]:
        return self._answer(self._http.post(f"/{path}", json=dict(body)))

    def calls(self) -> list[dict[str, Any]]:
        """The sandbox's call log, oldest first."""
        calls: list[dict[str, Any]] = self.get("calls")["calls"]
        return calls

    @staticmethod
    def _answer(response: httpx.Response) -> dict[str, Any]:
        try:
            data: Any = response.json()
        except ValueError:
            data = None
        if response.status_code != 200 or not isinstance(data, dict) or not data.get("ok"):
            raise SandboxAdminError(f"sandbox admin {response.request.url.path} answered "
                                    f"{response.status_code}: {response.text[:300]}")
        return data
