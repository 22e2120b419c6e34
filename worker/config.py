"""Typed configuration: ``config.yaml`` read once into frozen value objects.

The process environment is read here and nowhere else: ``${NAME}`` values are substituted
from it, and a missing variable is an error that names it. Secrets are wrapped in
:class:`Secret`, whose ``repr``/``str`` never show the value.
"""

from __future__ import annotations

import difflib
import os
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from worker.errors import ConfigError, Problem
from worker.units import parse_duration
from worker.yamlsrc import SourceList, SourceMap, load_yaml_file, load_yaml_text

Platform = Literal["wechat", "weibo"]
PLATFORMS: tuple[Platform, ...] = ("wechat", "weibo")


class Secret:
    """A secret string. It prints as ``'***'``; ``reveal()`` is the only way to read it."""

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        self._value = value

    def reveal(self) -> str:
        return self._value

    def __repr__(self) -> str:
        return "Secret('***')"

    __str__ = __repr__

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Secret) and other._value == self._value

    def __hash__(self) -> int:
        return hash(("Secret", self._value))


@dataclass(frozen=True, kw_only=True)
class RedisConfig:
    url: str | None = None  # None: an embedded Redis server under state_dir
    key_prefix: str = "mw"


@dataclass(frozen=True, kw_only=True)
class PollingConfig:
    interval: float = 60.0  # seconds between two polls of one target
    jitter: float = 0.1  # +- fraction of interval
    full_pass_interval: float = 900.0  # WeChat: a full listing pass to catch state changes
    page_size: int = 49  # WeChat comment/list count (the documents disagree about 50)


@dataclass(frozen=True, kw_only=True)
class ActionsConfig:
    max_retries: int = 8
    min_backoff: float = 1.0
    max_backoff: float = 300.0
    batch_max_wait: float = 5.0  # blacklist / Weibo destroy buffers flush at 20 ids or after this


@dataclass(frozen=True, kw_only=True)
class QuotaConfig:
    reset_timezone: str = "Asia/Shanghai"  # a 45009 pause lasts until the next local midnight here
    pause: float | None = None  # fixed pause length instead of "until midnight" (tests, demos)


@dataclass(frozen=True, kw_only=True)
class MetricsConfig:
    enabled: bool = False  # opt-in Prometheus exposition
    host: str = "127.0.0.1"
    port: int = 9464


@dataclass(frozen=True, kw_only=True)
class WechatTarget:
    msg_data_id: int  # may exceed 32 bits
    index: int = 0  # 0-based article index within a multi-article send

    @property
    def key(self) -> str:
        return f"{self.msg_data_id}:{self.index}"


@dataclass(frozen=True, kw_only=True)
class WeiboTarget:
    status_id: int

    @property
    def key(self) -> str:
        return str(self.status_id)


Target = WechatTarget | WeiboTarget


@dataclass(frozen=True, kw_only=True)
class AccountConfig:
    name: str
    platform: Platform
    targets: tuple[Target, ...] = ()
    api_base: str | None = None  # replaces every platform host (tests, sandbox)
    # WeChat
    app_id: str | None = None
    app_secret: Secret | None = None
    token: Literal["stable", "classic"] = "stable"
    # Weibo
    access_token: Secret | None = None
    # Rate limit per endpoint, calls per minute (None: platform default)
    calls_per_minute: int | None = None


@dataclass(frozen=True, kw_only=True)
class Config:
    path: Path | None = None
    redis: RedisConfig = field(default_factory=RedisConfig)
    state_dir: Path = Path("./var")
    dry_run: bool = False
    rules: tuple[Path, ...] = ()
    polling: PollingConfig = field(default_factory=PollingConfig)
    actions: ActionsConfig = field(default_factory=ActionsConfig)
    quota: QuotaConfig = field(default_factory=QuotaConfig)
    metrics: MetricsConfig = field(default_factory=MetricsConfig)
    accounts: tuple[AccountConfig, ...] = ()
    warnings: tuple[Problem, ...] = ()  # e.g. unset secrets when loaded with require_secrets=False

    def account(self, name: str) -> AccountConfig:
        for account in self.accounts:
            if account.name == name:
                return account
        raise KeyError(name)


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


def load_config(
    path: str | Path,
    environ: Mapping[str, str] | None = None,
    *,
    require_secrets: bool = True,
) -> Config:
    """Read and validate a config file. Raises ConfigError listing every problem.

    ``require_secrets=False`` (``check``, ``replay``: no API is called) turns an unset
    ``${VARIABLE}`` into a warning on ``Config.warnings`` instead of an error.
    """
    path = Path(path)
    data = load_yaml_file(path)
    return parse_config(
        data, filename=str(path), base_dir=path.parent, environ=environ, path=path,
        require_secrets=require_secrets,
    )


def load_config_text(
    text: str, *, filename: str = "<config>", base_dir: Path | None = None,
    environ: Mapping[str, str] | None = None, require_secrets: bool = True,
) -> Config:
    data = load_yaml_text(text, filename=filename)
    return parse_config(
        data, filename=filename, base_dir=base_dir or Path.cwd(), environ=environ,
        require_secrets=require_secrets,
    )


def parse_config(
    data: object,
    *,
    filename: str,
    base_dir: Path,
    environ: Mapping[str, str] | None = None,
    path: Path | None = None,
    require_secrets: bool = True,
) -> Config:
    reader = _Reader(filename, os.environ if environ is None else environ, require_secrets)
    if data is None:
        data = SourceMap()
        data.line, data.key_lines = 1, {}
    root = reader.mapping(data, "config")
    reader.known_keys(
        root,
        {
            "redis", "state_dir", "dry_run", "rules", "polling", "actions", "quota", "metrics",
            "accounts",
        },
        "config",
    )

    redis_node = reader.mapping(root.get("redis"), "redis")
    reader.known_keys(redis_node, {"url", "key_prefix"}, "redis")
    redis = RedisConfig(
        url=reader.env(redis_node.get("url"), redis_node, "url", "redis"),
        key_prefix=reader.get(redis_node, "key_prefix", str, "mw", "redis"),
    )

    polling_node = reader.mapping(root.get("polling"), "polling")
    reader.known_keys(
        polling_node, {"interval", "jitter", "full_pass_interval", "page_size"}, "polling"
    )
    page_size = reader.get(polling_node, "page_size", _positive_int, 49, "polling")
    if page_size > 50:
        reader.problem(
            "page_size must be at most 50", polling_node, "page_size", "polling.page_size"
        )
    polling = PollingConfig(
        interval=reader.get(polling_node, "interval", parse_duration, 60.0, "polling"),
        jitter=reader.get(polling_node, "jitter", _fraction, 0.1, "polling"),
        full_pass_interval=reader.get(
            polling_node, "full_pass_interval", parse_duration, 900.0, "polling"
        ),
        page_size=page_size,
    )

    actions_node = reader.mapping(root.get("actions"), "actions")
    reader.known_keys(
        actions_node, {"max_retries", "min_backoff", "max_backoff", "batch_max_wait"}, "actions"
    )
    actions = ActionsConfig(
        max_retries=reader.get(actions_node, "max_retries", _non_negative_int, 8, "actions"),
        min_backoff=reader.get(actions_node, "min_backoff", parse_duration, 1.0, "actions"),
        max_backoff=reader.get(actions_node, "max_backoff", parse_duration, 300.0, "actions"),
        batch_max_wait=reader.get(actions_node, "batch_max_wait", parse_duration, 5.0, "actions"),
    )

    quota_node = reader.mapping(root.get("quota"), "quota")
    reader.known_keys(quota_node, {"reset_timezone", "pause"}, "quota")
    quota = QuotaConfig(
        reset_timezone=reader.get(
            quota_node, "reset_timezone", _timezone, "Asia/Shanghai", "quota"
        ),
        pause=reader.get(quota_node, "pause", parse_duration, None, "quota"),
    )

    metrics_node = reader.mapping(root.get("metrics"), "metrics")
    reader.known_keys(metrics_node, {"enabled", "host", "port"}, "metrics")
    metrics = MetricsConfig(
        enabled=reader.get(metrics_node, "enabled", _boolean, False, "metrics"),
        host=reader.get(metrics_node, "host", str, "127.0.0.1", "metrics"),
        port=reader.get(metrics_node, "port", _positive_int, 9464, "metrics"),
    )

    rules_value = root.get("rules", ["rules/"])
    if isinstance(rules_value, str):
        rules_value = [rules_value]
    rule_paths: list[Path] = []
    if not isinstance(rules_value, list):
        reader.problem("rules must be a list of files or directories", root, "rules", "rules")
    else:
        for item in rules_value:
            rule_paths.append((base_dir / str(item)).resolve())

    state_dir = reader.get(root, "state_dir", str, "./var", "config")
    accounts = _accounts(reader, root)

    if reader.problems:
        raise ConfigError(reader.problems)
    return Config(
        path=path,
        redis=redis,
        state_dir=(base_dir / state_dir).resolve(),
        dry_run=reader.get(root, "dry_run", _boolean, False, "config"),
        rules=tuple(rule_paths),
        polling=polling,
        actions=actions,
        quota=quota,
        metrics=metrics,
        accounts=accounts,
        warnings=tuple(reader.warnings),
    )


def _timezone(value: Any) -> str:
    from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

    try:
        ZoneInfo(str(value))
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise ValueError(f"unknown time zone {value!r}") from exc
    return str(value)


_WECHAT_KEYS = {
    "name", "platform", "app_id", "app_secret", "token", "api_base", "targets", "calls_per_minute",
}
_WEIBO_KEYS = {"name", "platform", "access_token", "api_base", "targets", "calls_per_minute"}


def _accounts(reader: _Reader, root: SourceMap) -> tuple[AccountConfig, ...]:
    nodes = root.get("accounts") or []
    if not isinstance(nodes, list):
        reader.problem("accounts must be a list", root, "accounts", "accounts")
        return ()
    accounts: list[AccountConfig] = []
    seen: set[str] = set()
    for position, raw in enumerate(nodes):
        where = f"accounts[{position}]"
        node = reader.mapping(raw, where)
        name = node.get("name")
        if not isinstance(name, str) or not name:
            reader.problem("every account needs a name", node, "name", f"{where}.name")
            continue
        where = f"accounts[{name}]"
        if name in seen:
            reader.problem(f"duplicate account name {name!r}", node, "name", f"{where}.name")
        seen.add(name)
        platform = node.get("platform")
        if platform not in PLATFORMS:
            reader.problem(
                f"platform must be one of {', '.join(PLATFORMS)}, got {platform!r}",
                node, "platform", f"{where}.platform",
            )
            continue
        reader.known_keys(node, _WECHAT_KEYS if platform == "wechat" else _WEIBO_KEYS, where)
        api_base = node.get("api_base")
        if api_base is not None and not str(api_base).startswith(("http://", "https://")):
            reader.problem("api_base must be an http(s) URL", node, "api_base", f"{where}.api_base")
        calls_per_minute = reader.get(node, "calls_per_minute", _positive_int, None, where)
        targets = _targets(reader, node, platform, where)
        if platform == "wechat":
            app_id = node.get("app_id")
            if not app_id:
                reader.problem("a WeChat account needs app_id", node, "app_id", f"{where}.app_id")
            secret = reader.env(node.get("app_secret"), node, "app_secret", where)
            if "app_secret" not in node:
                reader.problem(
                    "a WeChat account needs app_secret (write ${VARIABLE} to read it from the "
                    "environment)", node, "app_secret", f"{where}.app_secret",
                )
            token_mode = node.get("token", "stable")
            if token_mode not in ("stable", "classic"):
                reader.problem(
                    f"token must be stable or classic, got {token_mode!r}",
                    node, "token", f"{where}.token",
                )
                token_mode = "stable"
            accounts.append(
                AccountConfig(
                    name=name, platform="wechat", targets=targets, api_base=api_base,
                    app_id=str(app_id) if app_id else None,
                    app_secret=Secret(secret) if secret is not None else None,
                    token=token_mode, calls_per_minute=calls_per_minute,
                )
            )
        else:
            token = reader.env(node.get("access_token"), node, "access_token", where)
            if "access_token" not in node:
                reader.problem(
                    "a Weibo account needs access_token (write ${VARIABLE} to read it from the "
                    "environment)", node, "access_token", f"{where}.access_token",
                )
            accounts.append(
                AccountConfig(
                    name=name, platform="weibo", targets=targets, api_base=api_base,
                    access_token=Secret(token) if token is not None else None,
                    calls_per_minute=calls_per_minute,
                )
            )
    return tuple(accounts)


def _targets(reader: _Reader, node: SourceMap, platform: str, where: str) -> tuple[Target, ...]:
    raw_targets = node.get("targets") or []
    if not isinstance(raw_targets, list):
        reader.problem("targets must be a list", node, "targets", f"{where}.targets")
        return ()
    targets: list[Target] = []
    for index, raw in enumerate(raw_targets):
        twhere = f"{where}.targets[{index}]"
        tnode = reader.mapping(raw, twhere)
        if platform == "wechat":
            reader.known_keys(tnode, {"msg_data_id", "index"}, twhere)
            if "msg_data_id" not in tnode:
                reader.problem("a WeChat target needs msg_data_id", tnode, None, twhere)
                continue
            msg_data_id = reader.get(tnode, "msg_data_id", _id_number, None, twhere)
            article = reader.get(tnode, "index", _non_negative_int, 0, twhere)
            if msg_data_id is not None:
                targets.append(WechatTarget(msg_data_id=msg_data_id, index=article))
        else:
            reader.known_keys(tnode, {"status_id"}, twhere)
            if "status_id" not in tnode:
                reader.problem("a Weibo target needs status_id", tnode, None, twhere)
                continue
            status_id = reader.get(tnode, "status_id", _id_number, None, twhere)
            if status_id is not None:
                targets.append(WeiboTarget(status_id=status_id))
    return tuple(targets)
