"""config.yaml's targets reload on a file change or a request; other keys need a restart."""

from __future__ import annotations

from pathlib import Path

from structlog.testing import capture_logs

from worker.config import WechatTarget, load_config
from worker.targets.config_watch import ConfigWatch

BASE = """\
rules: [rules.yaml]
accounts:
  - name: oa
    platform: wechat
    app_id: wx1
    app_secret: s
    targets: [{{msg_data_id: {mid}}}]
polling: {{interval: {interval}}}
"""


def write(path: Path, mid: int, interval: str = "60s") -> None:
    path.write_text(BASE.format(mid=mid, interval=interval), encoding="utf-8")


def test_targets_reload_on_change_and_request(tmp_path: Path) -> None:
    (tmp_path / "rules.yaml").write_text("rules: []\n", encoding="utf-8")
    path = tmp_path / "config.yaml"
    write(path, 100)
    watch = ConfigWatch(load_config(path))
    assert watch.check(0.0) is None  # unchanged
    write(path, 200, interval="90s")
    with capture_logs() as logs:
        reloaded = watch.check(10.0)
    assert reloaded is not None
    assert reloaded.accounts[0].targets == (WechatTarget(msg_data_id=200, index=0),)
    assert reloaded.polling.interval == 60  # not reloaded: logged instead
    events = {e["event"]: e for e in logs}
    assert events["config_change_needs_restart"]["keys"] == ["polling"]
    assert "config_targets_reloaded" in events
    assert watch.check(11.0) is None  # checked again only after CHECK_INTERVAL
    watch.request_reload()
    assert watch.check(11.5) is None  # nothing changed


def test_a_broken_file_keeps_the_running_targets(tmp_path: Path) -> None:
    (tmp_path / "rules.yaml").write_text("rules: []\n", encoding="utf-8")
    path = tmp_path / "config.yaml"
    write(path, 100)
    watch = ConfigWatch(load_config(path))
    path.write_text(BASE.format(mid="-1", interval="60s"), encoding="utf-8")
    with capture_logs() as logs:
        assert watch.check(10.0) is None
    assert [e["event"] for e in logs][-1] == "config_reload_failed"
    assert watch.config.accounts[0].targets == (WechatTarget(msg_data_id=100, index=0),)
