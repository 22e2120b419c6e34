"""The systemd unit under deploy/: hardened, and measured by systemd where it is installed."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest

UNIT = Path(__file__).resolve().parent.parent / "deploy" / "modworker.service"
MAX_EXPOSURE = 3.0


def _settings() -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for line in UNIT.read_text().splitlines():
        if "=" in line and not line.lstrip().startswith(("#", "[")):
            key, _, value = line.partition("=")
            out.setdefault(key.strip(), []).append(value.strip())
    return out


def test_unit_keeps_state_private_and_restarts_only_what_can_recover() -> None:
    s = _settings()
    assert s["UMask"] == ["0077"]
    assert s["StateDirectory"] == ["modworker"] and s["StateDirectoryMode"] == ["0700"]
    assert s["CapabilityBoundingSet"] == [""]
    assert s["SyslogLevelPrefix"] == ["yes"]
    assert s["RestartPreventExitStatus"] == ["1 2"]  # config and usage: a restart cannot help
    assert "@system-service" in s["SystemCallFilter"]


def _analyze_security() -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["systemd-analyze", "security", "--offline=true", "--no-pager", str(UNIT)],
        capture_output=True, text=True, timeout=120, check=False,
    )


@pytest.mark.skipif(shutil.which("systemd-analyze") is None,
                    reason="systemd-analyze is not installed: the exposure cannot be measured")
def test_systemd_analyze_security_exposure_is_at_most_3() -> None:
    result = _analyze_security()
    if "--offline" in result.stderr and result.returncode != 0:
        pytest.skip(f"this systemd-analyze cannot analyse a unit file offline: {result.stderr}")
    found = re.search(r"Overall exposure level for \S+: (\d+(?:\.\d+)?)", result.stdout)
    assert found, result.stdout + result.stderr
    assert float(found.group(1)) <= MAX_EXPOSURE, result.stdout
