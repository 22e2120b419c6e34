"""config.yaml: typed values, environment substitution, every problem located."""

from __future__ import annotations

from pathlib import Path

import pytest

from worker.config import WechatTarget, WeiboTarget, load_config, load_config_text
from worker.errors import ConfigError

ENV = {"WECHAT_APP_SECRET": "s3cr3t-value", "WEIBO_ACCESS_TOKEN": "2.00tokenvalue"}


def test_the_example_config_loads(repo_root: Path) -> None:
    config = load_config(repo_root / "config.example.yaml", environ=ENV)
    wechat, weibo = config.accounts
    assert wechat.platform == "wechat" and wechat.token == "stable"
    assert wechat.app_secret is not None and wechat.app_secret.reveal() == "s3cr3t-value"
    assert wechat.targets == (
        WechatTarget(msg_data_id=2247483650, index=0),
        WechatTarget(msg_data_id=2247483650, index=1),
    )
    assert weibo.targets == (WeiboTarget(status_id=4890123456789012),)
    assert config.polling.interval == 60 and config.polling.page_size == 49
    assert config.rules == ((repo_root / "rules").resolve(),)
    assert config.redis.url is None


def test_secrets_never_print() -> None:
    config = load_config_text(
        "accounts:\n  - {name: a, platform: wechat, app_id: wx1, app_secret: '${S}'}\n",
        environ={"S": "hunter2-secret"},
    )
    assert "hunter2-secret" not in repr(config)
    assert "hunter2-secret" not in str(config.accounts[0])


def test_a_missing_variable_is_named_or_only_warned_when_no_api_is_called() -> None:
    text = "accounts:\n  - {name: a, platform: wechat, app_id: wx1, app_secret: '${MISSING_ONE}'}\n"
    with pytest.raises(ConfigError) as info:
        load_config_text(text, environ={})
    assert "MISSING_ONE is not set" in str(info.value)
    assert info.value.problems[0].line == 2
    config = load_config_text(text, environ={}, require_secrets=False)
    assert "MISSING_ONE" in str(config.warnings[0])


def test_every_problem_is_reported_at_once() -> None:
    text = """
polling:
  interval: often
  page_size: 80
accounts:
  - name: a
    platform: wechat
    app_id: wx1
    app_secret: x
    targets:
      - {msg_data_id: abc}
  - name: a
    platform: weibo
    access_token: t
    tokn: stable
  - name: c
    platform: qq
redis_url: x
"""
    with pytest.raises(ConfigError) as info:
        load_config_text(text, environ={})
    messages = [str(p) for p in info.value.problems]
    joined = "\n".join(messages)
    assert "expected a duration" in joined
    assert "page_size must be at most 50" in joined
    assert "expected a numeric id" in joined
    assert "duplicate account name 'a'" in joined
    assert "unknown key 'tokn'" in joined
    assert "platform must be one of wechat, weibo" in joined
    assert "unknown key 'redis_url'" in joined and "did you mean 'redis'" in joined
    assert len(messages) == 7


def test_big_ids_and_string_ids() -> None:
    config = load_config_text(
        "accounts:\n  - name: a\n    platform: wechat\n    app_id: wx\n    app_secret: s\n"
        "    targets: [{msg_data_id: '99999999999999', index: 2}]\n",
        environ={},
    )
    target = config.accounts[0].targets[0]
    assert isinstance(target, WechatTarget)
    assert target.msg_data_id == 99999999999999 and target.key == "99999999999999:2"
