"""config.yaml keys of targets that manage themselves, and a located error for each bad one."""

from __future__ import annotations

import pytest

from worker.config import load_config_text
from worker.errors import ConfigError, Problem
from worker.targets.policy import PollPolicy

ENV = {"S": "secret", "T": "2.00token"}
WECHAT = "  - {name: oa, platform: wechat, app_id: wx1, app_secret: '${S}'"
WEIBO = "  - {name: wb, platform: weibo, access_token: '${T}'"


def load(text: str) -> object:
    return load_config_text(text, filename="config.yaml", environ=ENV)


def problems(text: str) -> list[Problem]:
    with pytest.raises(ConfigError) as info:
        load_config_text(text, filename="config.yaml", environ=ENV)
    return info.value.problems


def test_defaults_and_values() -> None:
    config = load_config_text(
        "polling: {interval: 30s, max_interval: 10m, retire_after: 7d, max_stretch: 1}\n"
        "quota: {poll_share: 0.25, refresh: 1m}\n"
        f"accounts:\n{WECHAT}, discover: 14d}}\n{WEIBO}}}\n"
        f"{WEIBO.replace('wb', 'wb2')}, targets: [{{status_id: 5}}]}}\n",
        environ=ENV,
    )
    assert (config.polling.max_interval, config.polling.retire_after) == (600, 7 * 86400)
    assert config.polling.max_stretch == 1.0
    assert PollPolicy.from_config(config.polling).max_stretch == 1.0  # reaches the planner
    assert load_config_text("", environ=ENV).polling.max_stretch == PollPolicy().max_stretch
    assert (config.quota.poll_share, config.quota.refresh) == (0.25, 60)
    oa, wb, wb2 = config.accounts
    assert oa.discover == 14 * 86400
    assert wb.listing == "account"  # no targets: the whole account
    assert wb2.listing == "targets"


@pytest.mark.parametrize(
    ("text", "field", "needle"),
    [
        ("polling: {retire_after: -5}\n", "polling.retire_after", "negative"),
        ("polling: {max_interval: -1m}\n", "polling.max_interval", "duration"),
        ("polling: {interval: 5m, max_interval: 1m}\n", "polling.max_interval", "shorter"),
        ("quota: {poll_share: 1}\n", "quota.poll_share", "below 1"),
        ("polling: {max_stretch: 0.5}\n", "polling.max_stretch", "at least 1"),
        ("polling: {max_stretch: fast}\n", "polling.max_stretch", "at least 1"),
        (f"accounts:\n{WEIBO}, discover: 14d}}\n", "accounts[wb].discover", "WeChat"),
        (f"accounts:\n{WECHAT}, discover: 12h}}\n", "accounts[oa].discover", "at least 1d"),
        (f"accounts:\n{WECHAT}, discover: -3d}}\n", "accounts[oa].discover", "negative"),
        (f"accounts:\n{WEIBO}, listing: all}}\n", "accounts[wb].listing", "account"),
        (f"accounts:\n{WECHAT}, listing: account}}\n", "accounts[oa].listing", "Weibo"),
    ],
)
def test_bad_values_are_located(text: str, field: str, needle: str) -> None:
    found = problems(text)
    assert len(found) == 1, found
    assert found[0].field == field and needle in found[0].message
    assert found[0].file == "config.yaml" and found[0].line is not None
