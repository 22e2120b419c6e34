"""config.yaml: typed values, environment substitution, every problem located."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from worker.config import (
    KNOWN_KEYS,
    ActionsConfig,
    Config,
    MetricsConfig,
    PollingConfig,
    QuotaConfig,
    RedisConfig,
    WechatTarget,
    WeiboTarget,
    load_config,
    load_config_text,
)
from worker.errors import ConfigError, Problem

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
    assert config.audit.retention == 7 * 86400


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
    assert "page_size must be at most 49" in joined
    assert "expected a numeric id" in joined
    assert "duplicate account name 'a'" in joined
    assert "unknown key 'tokn'" in joined
    assert "platform must be one of wechat, weibo" in joined
    assert "unknown key 'redis_url'" in joined and "did you mean 'redis'" in joined
    assert len(messages) == 7


def test_a_key_of_the_other_platform_is_explained_where_it_stands() -> None:
    text = """\
accounts:
  - name: w
    platform: wechat
    app_id: wx
    app_secret: ${S}
    listing: account
  - name: b
    platform: weibo
    access_token: ${S}
    discover: 7d
"""
    with pytest.raises(ConfigError) as info:
        load_config_text(text, environ={"S": "x"})
    by_field = {p.field: p for p in info.value.problems}
    assert set(by_field) == {"accounts[w].listing", "accounts[b].discover"}
    assert "listing is a Weibo key" in by_field["accounts[w].listing"].message
    assert by_field["accounts[w].listing"].line == 6
    assert "discover finds mass-sent WeChat articles" in by_field["accounts[b].discover"].message
    assert by_field["accounts[b].discover"].line == 10


def test_big_ids_and_string_ids() -> None:
    config = load_config_text(
        "accounts:\n  - name: a\n    platform: wechat\n    app_id: wx\n    app_secret: s\n"
        "    targets: [{msg_data_id: '99999999999999', index: 2}]\n",
        environ={},
    )
    target = config.accounts[0].targets[0]
    assert isinstance(target, WechatTarget)
    assert target.msg_data_id == 99999999999999 and target.key == "99999999999999:2"


def problems_of(text: str, *, base_dir: Path | None = None, environ: dict[str, str] | None = None,
                ) -> list[Problem]:
    with pytest.raises(ConfigError) as info:
        load_config_text(text, filename="config.yaml", base_dir=base_dir, environ=environ or {})
    return info.value.problems


def only_problem(text: str, *, base_dir: Path | None = None,
                 environ: dict[str, str] | None = None) -> Problem:
    found = problems_of(text, base_dir=base_dir, environ=environ)
    assert len(found) == 1, found
    return found[0]


# -- dry_run ---------------------------------------------------------------------------------

@pytest.mark.parametrize("value", ["'true'", "1", "yes please"])
def test_a_dry_run_that_is_not_a_boolean_is_a_located_problem(value: str) -> None:
    problem = only_problem(f"state_dir: ./var\ndry_run: {value}\n")
    assert (problem.file, problem.line, problem.field) == ("config.yaml", 2, "config.dry_run")
    assert "expected true or false" in problem.message


def test_dry_run_true_is_read() -> None:
    assert load_config_text("dry_run: true\n", environ={}).dry_run is True
    assert load_config_text("dry_run: false\n", environ={}).dry_run is False


# -- redis.url -------------------------------------------------------------------------------

@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("localhost:6379", "write redis://localhost:6379"),
        ("http://cache:6379", "must start with redis://, rediss:// (TLS) or unix://"),
        ("REDIS://cache:6379", "must start with redis://"),
        ("redis://cache:99999/0", "invalid port"),
        ("redis://cache:0", "the port must be from 1 to 65535"),
        ("redis://cache:6379/zero", "the database after the host must be a number"),
        ("unix://", "a unix:// URL needs the socket path"),
        ("unix:///run/redis.sock?db=x", "Invalid value for 'db'"),
    ],
)
def test_a_redis_url_redis_py_cannot_use_is_a_located_problem(url: str, expected: str) -> None:
    problem = only_problem(f"redis:\n  key_prefix: mw\n  url: '{url}'\n")
    assert (problem.file, problem.line, problem.field) == ("config.yaml", 3, "redis.url")
    assert expected in problem.message


def test_a_bad_redis_url_from_the_environment_keeps_its_password_out_of_the_message() -> None:
    problem = only_problem(
        "redis: {url: '${REDIS_URL}'}\n", environ={"REDIS_URL": "user:hunter2@cache:6379"}
    )
    assert problem.field == "redis.url" and problem.line == 1
    assert "hunter2" not in str(problem) and "redis://***@cache:6379" in problem.message


@pytest.mark.parametrize(
    "url",
    ["redis://cache:6379/0", "redis://:pw@cache", "rediss://cache:6380/2",
     "unix:///run/redis.sock", "unix:///run/redis.sock?db=3"],
)
def test_redis_urls_redis_py_accepts_load(url: str) -> None:
    import redis

    assert load_config_text(f"redis: {{url: '{url}'}}\n", environ={}).redis.url == url
    redis.ConnectionPool.from_url(url)  # and redis-py agrees


# -- numeric bounds --------------------------------------------------------------------------

@pytest.mark.parametrize(
    ("text", "line", "field", "expected"),
    [
        ("polling:\n  interval: 0\n", 2, "polling.interval", "expected a duration above 0"),
        ("polling:\n  interval: 0s\n", 2, "polling.interval", "expected a duration above 0"),
        ("polling:\n  interval: -5\n", 2, "polling.interval", "cannot be negative"),
        ("quota:\n  pause: 0\n", 2, "quota.pause", "expected a duration above 0"),
        ("actions:\n  min_backoff: 0\n", 2, "actions.min_backoff", "at least 1ms"),
        ("actions:\n  max_backoff: 0s\n", 2, "actions.max_backoff", "at least 1ms"),
        ("metrics:\n  port: 0\n", 2, "metrics.port", "from 1 to 65535"),
        ("metrics:\n  port: 70000\n", 2, "metrics.port", "from 1 to 65535"),
        ("metrics:\n  port: '9464'\n", 2, "metrics.port", "from 1 to 65535"),
        ("polling:\n  page_size: 0\n", 2, "polling.page_size", "positive whole number"),
        ("polling:\n  jitter: 1\n", 2, "polling.jitter", "below 1"),
        ("audit:\n  retention: 0\n", 2, "audit.retention", "expected a duration above 0"),
    ],
)
def test_out_of_range_numbers_are_located_problems(
    text: str, line: int, field: str, expected: str
) -> None:
    problem = only_problem(text)
    assert (problem.file, problem.line, problem.field) == ("config.yaml", line, field)
    assert expected in problem.message


def test_min_backoff_above_max_backoff_names_both() -> None:
    problem = only_problem("actions:\n  min_backoff: 10m\n  max_backoff: 1m\n")
    assert (problem.line, problem.field) == (2, "actions.min_backoff")
    assert "actions.min_backoff (600s)" in problem.message
    assert "actions.max_backoff (60s)" in problem.message


def test_min_backoff_above_the_default_max_backoff_is_a_problem() -> None:
    problem = only_problem("actions:\n  min_backoff: 1h\n")
    assert problem.field == "actions.min_backoff" and "max_backoff (300s)" in problem.message
    problem = only_problem("actions:\n  max_backoff: 500ms\n")
    assert problem.field == "actions.max_backoff" and "min_backoff (1s)" in problem.message


def test_boundary_values_load() -> None:
    config = load_config_text(
        "polling: {interval: 1ms, full_pass_interval: 0, page_size: 49}\n"
        "actions: {max_retries: 0, min_backoff: 2s, max_backoff: 2s, batch_max_wait: 0}\n"
        "quota: {pause: 1s}\nmetrics: {port: 65535}\n",
        environ={},
    )
    assert config.polling.interval == 0.001 and config.actions.min_backoff == 2.0
    assert config.metrics.port == 65535 and config.quota.pause == 1.0


# -- rules -----------------------------------------------------------------------------------

def test_a_missing_rules_path_is_located_at_its_entry(tmp_path: Path) -> None:
    (tmp_path / "rules").mkdir()
    (tmp_path / "extra.yaml").write_text("version: 1\n", encoding="utf-8")
    problem = only_problem(
        "state_dir: ./var\nrules:\n  - rules/\n  - extra.yaml\n  - missing/\n", base_dir=tmp_path
    )
    assert (problem.file, problem.line, problem.field) == ("config.yaml", 5, "rules[2]")
    assert "no such file or directory: missing/" in problem.message
    assert str(tmp_path / "missing") in problem.message


def test_a_single_missing_rules_path_written_as_a_string_is_located(tmp_path: Path) -> None:
    problem = only_problem("state_dir: ./var\nrules: nowhere/\n", base_dir=tmp_path)
    assert (problem.line, problem.field) == (2, "rules[0]")
    assert "no such file or directory: nowhere/" in problem.message


@pytest.mark.parametrize("value", ["[]", "", "null"])
def test_rules_must_name_at_least_one_path(tmp_path: Path, value: str) -> None:
    problem = only_problem(f"state_dir: ./var\nrules: {value}\n", base_dir=tmp_path)
    assert (problem.line, problem.field) == (2, "rules")
    assert "rules must name at least one file or directory" in problem.message


def test_a_rules_entry_that_is_not_a_path_is_a_problem(tmp_path: Path) -> None:
    problem = only_problem("rules:\n  - {path: rules/}\n", base_dir=tmp_path)
    assert (problem.line, problem.field) == (2, "rules[0]")
    assert "expected the path of a rule file or directory" in problem.message


def test_rules_default_to_an_existing_rules_directory(tmp_path: Path) -> None:
    problem = only_problem("state_dir: ./var\n", base_dir=tmp_path)
    assert problem.field == "rules" and "rules is not set" in problem.message
    (tmp_path / "rules").mkdir()
    config = load_config_text("state_dir: ./var\n", base_dir=tmp_path, environ={})
    assert config.rules == ((tmp_path / "rules").resolve(),)


def test_rule_files_and_directories_resolve_against_the_config(tmp_path: Path) -> None:
    (tmp_path / "rules" / "more").mkdir(parents=True)
    (tmp_path / "one.yaml").write_text("version: 1\n", encoding="utf-8")
    config_file = tmp_path / "config.yaml"
    config_file.write_text("rules: [rules/more, one.yaml]\n", encoding="utf-8")
    config = load_config(config_file, environ={})
    assert config.rules == (
        (tmp_path / "rules" / "more").resolve(), (tmp_path / "one.yaml").resolve()
    )


# -- the example documents every key ---------------------------------------------------------

def _example_blocks(text: str) -> dict[str, str]:
    """Top-level section name -> its text (the lines up to the next top-level key)."""
    blocks: dict[str, str] = {}
    current = ""
    for line in text.splitlines():
        match = re.match(r"([a-z_]+):", line)
        if match:
            current = match.group(1)
        blocks[current] = blocks.get(current, "") + line + "\n"
    return blocks


def test_the_example_documents_every_key_config_reads(repo_root: Path) -> None:
    text = (repo_root / "config.example.yaml").read_text(encoding="utf-8")
    blocks = _example_blocks(text)
    assert set(blocks) - {""} == set(KNOWN_KEYS["config"])
    missing = [
        f"{section}.{key}"
        for section, keys in KNOWN_KEYS.items() if section != "config"
        for key in keys
        if not re.search(rf"^[ #]*-? ?{key}:", blocks[section.split(".")[0]], re.MULTILINE)
    ]
    assert missing == []
    assert "pause:" in blocks["quota"] and "port: 9464" in blocks["metrics"]


def test_the_example_shows_the_defaults(repo_root: Path) -> None:
    config = load_config(repo_root / "config.example.yaml", environ=ENV)
    assert config.redis == RedisConfig()
    assert config.polling == PollingConfig()
    assert config.actions == ActionsConfig()
    assert config.quota == QuotaConfig()
    assert config.metrics == MetricsConfig()
    assert config.dry_run is False


# -- Redis Sentinel, passwords, api_base ----------------------------------------------------

def test_a_sentinel_section_is_read_with_its_passwords_from_the_environment() -> None:
    config = load_config_text(
        "redis:\n"
        "  sentinel:\n"
        "    hosts: [10.0.0.1:26379, 'sentinel-b:26380']\n"
        "    master: mymaster\n"
        "    password: ${REDIS_PASSWORD}\n"
        "    sentinel_password: ${SENTINEL_PASSWORD}\n"
        "    db: 2\n",
        environ={"REDIS_PASSWORD": "redis-pass-1", "SENTINEL_PASSWORD": "sentinel-pass-2"},
    )
    sentinel = config.redis.sentinel
    assert sentinel is not None and config.redis.url is None
    assert sentinel.hosts == (("10.0.0.1", 26379), ("sentinel-b", 26380))
    assert (sentinel.master, sentinel.db) == ("mymaster", 2)
    assert sentinel.password is not None and sentinel.password.reveal() == "redis-pass-1"
    assert "redis-pass-1" not in repr(config)
    assert set(config.redis.secrets) == {"redis-pass-1", "sentinel-pass-2"}


@pytest.mark.parametrize(
    ("text", "line", "field", "expected"),
    [
        ("redis:\n  sentinel:\n    master: m\n", 3, "redis.sentinel.hosts", "hosts must list"),
        ("redis:\n  sentinel:\n    hosts: [a:1]\n", 3, "redis.sentinel.master",
         "master must name"),
        ("redis:\n  sentinel:\n    master: m\n    hosts:\n      - a:1\n      - b\n", 6,
         "redis.sentinel.hosts[1]", "expected host:port"),
        ("redis:\n  sentinel:\n    master: m\n    hosts: [a:1]\n    passwd: x\n", 5,
         "redis.sentinel.passwd", "unknown key 'passwd' (did you mean 'password'?)"),
        ("redis:\n  url: redis://h:6379\n  sentinel: {master: m, hosts: [a:1]}\n", 3,
         "redis.sentinel", "either redis.url or redis.sentinel"),
    ],
)
def test_sentinel_mistakes_are_located(text: str, line: int, field: str, expected: str) -> None:
    problem = only_problem(text)
    assert (problem.line, problem.field) == (line, field)
    assert expected in problem.message


@pytest.mark.parametrize(
    "url",
    ["redis://user:pa/ss@cache:6379/0", "redis://user:pa?ss9@cache:6379/0",
     "redis://:hunter2@cache:6379/zero", "cache:hunter2@host"],
)
def test_no_part_of_a_redis_password_reaches_a_config_error(url: str) -> None:
    with pytest.raises(ConfigError) as caught:
        load_config_text("redis: {url: '${REDIS_URL}'}\n", environ={"REDIS_URL": url})
    text = str(caught.value)
    password = url.split("@")[0].split(":", 2)[-1]
    for piece in re.split(r"[:/]", password):
        if len(piece) > 1:
            assert piece not in text, text


def test_the_redis_url_password_is_a_secret_to_redact() -> None:
    config = load_config_text("redis: {url: 'redis://:hunter22@cache:6379/0'}\n")
    assert config.redis.secrets == ("hunter22",)


@pytest.mark.parametrize(
    "api_base",
    ["https://api.weixin.qq.com", "http://127.0.0.1:8900", "http://localhost:8900/",
     "http://[::1]:8900", "http://127.3.2.1"],
)
def test_api_base_https_or_loopback_http_loads(api_base: str) -> None:
    config = load_config_text(
        "accounts:\n  - name: wb\n    platform: weibo\n    access_token: t0ken\n"
        f"    api_base: '{api_base}'\n"
    )
    assert config.accounts[0].api_base == api_base


@pytest.mark.parametrize(
    ("api_base", "expected"),
    [("http://api.weibo.com", "must use https://"), ("http://10.0.0.8:8900", "must use https://"),
     ("ftp://example.com", "must be an https:// URL")],
)
def test_api_base_over_plain_http_to_another_host_is_refused(api_base: str,
                                                            expected: str) -> None:
    problem = only_problem(
        "accounts:\n  - name: wb\n    platform: weibo\n    access_token: t0ken\n"
        f"    api_base: '{api_base}'\n"
    )
    assert (problem.line, problem.field) == (5, "accounts[wb].api_base")
    assert expected in problem.message


# -- notify --------------------------------------------------------------------------------

def _notify_config(tmp_path: Path, text: str, environ: dict[str, str] | None = None) -> Config:
    (tmp_path / "rules").mkdir(exist_ok=True)
    (tmp_path / "config.yaml").write_text("rules: [rules/]\n" + text, encoding="utf-8")
    return load_config(tmp_path / "config.yaml", environ=environ or {})


def test_notify_channels_and_events(tmp_path: Path) -> None:
    config = _notify_config(tmp_path, """
notify:
  interval: 30s
  moderators:
    type: dingtalk
    url: ${DING_URL}
    secret: ${DING_SECRET}
  ops: {type: webhook, url: "https://example.invalid/hook"}
  events: {channel: ops, on: [action_failed, worker_died]}
""", {"DING_URL": "https://oapi.dingtalk.com/robot/send?access_token=t0k3n",
      "DING_SECRET": "SECabc"})
    notify = config.notify
    assert notify.interval == 30.0 and notify.examples == 3
    ding = notify.channel("moderators")
    assert ding.type == "dingtalk" and ding.secret is not None
    assert ding.secret.reveal() == "SECabc" and "t0k3n" not in repr(ding)
    assert notify.events_channel == "ops"
    assert notify.events == frozenset({"action_failed", "worker_died"})


def test_notify_problems_are_located(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as info:
        _notify_config(tmp_path, """
notify:
  moderators: {type: dingtlak, url: "https://x.invalid"}
  ops: {type: wecom, url: "ftp://x", secret: s}
  nourl: {type: feishu}
  events: {channel: moderatros, on: [action_faild]}
""")
    text = str(info.value)
    assert "config.yaml:4: notify.moderators.type: type must be one of" in text
    assert "did you mean 'dingtalk'" in text
    assert "config.yaml:5: notify.ops.url: url must be an http(s) URL" in text
    assert "notify.nourl.url: a channel needs url" in text
    assert "notify.events.channel: notify.events.channel must name a channel" in text
    assert "unknown event 'action_faild' (did you mean 'action_failed'?)" in text
