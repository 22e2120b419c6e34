"""Typed configuration: ``config.yaml`` read once into frozen value objects.

The process environment is read here and nowhere else: ``${NAME}`` values are substituted
from it, and a missing variable is an error that names it. Secrets are wrapped in
:class:`Secret`, whose ``repr``/``str`` never show the value.
"""

from __future__ import annotations

import difflib
import ipaddress
import os
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal
from urllib.parse import urlsplit

from worker.errors import ConfigError, Problem
from worker.platform_specs import PLATFORM_NAMES, Platform
from worker.units import parse_duration
from worker.yamlsrc import SourceList, SourceMap, load_yaml_file, load_yaml_text

if TYPE_CHECKING:
    from worker.rules.normalize import NormalizeOptions

PLATFORMS: tuple[str, ...] = PLATFORM_NAMES  # the specs' names (worker.platform_specs)


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


#: Largest WeChat comment/list ``count``: one document says 50 is refused (88010), another
#: says only above 50 is; 49 is safe under both.
WECHAT_MAX_PAGE_SIZE = 49

@dataclass(frozen=True, kw_only=True)
class SentinelConfig:
    """A Redis master found through Sentinel: clients ask the sentinels for its address and
    ask again when it fails over."""

    hosts: tuple[tuple[str, int], ...]  # the sentinels' host, port
    master: str  # the name the sentinels monitor it under
    password: Secret | None = None  # the master's (and its replicas') password
    sentinel_password: Secret | None = None  # the sentinels' own, when they require one
    db: int = 0


@dataclass(frozen=True, kw_only=True)
class RedisConfig:
    url: str | None = None  # None (and no sentinel): an embedded Redis server under state_dir
    sentinel: SentinelConfig | None = None
    key_prefix: str = "mw"

    @property
    def secrets(self) -> tuple[str, ...]:
        """The passwords in this section, to register for redaction."""
        found: list[str] = []
        if self.url is not None:
            password = redis_url_password(self.url)
            if password:
                found.append(password)
        if self.sentinel is not None:
            found.extend(
                s.reveal() for s in (self.sentinel.password, self.sentinel.sentinel_password)
                if s is not None
            )
        return tuple(found)


@dataclass(frozen=True, kw_only=True)
class PollingConfig:
    interval: float = 60.0  # seconds between two polls of one target
    jitter: float = 0.1  # +- fraction of interval
    full_pass_interval: float = 900.0  # WeChat: a full listing pass to catch state changes
    page_size: int = WECHAT_MAX_PAGE_SIZE  # WeChat comment/list count
    max_interval: float = 1800.0  # a cold target's interval (the hot one is ``interval``)
    retire_after: float = 30 * 86400.0  # no new comment for this long: not polled any more
    # No successful poll for this long: the target is stale (stats, /readyz notes). None:
    # 3 of the target's own intervals, at least 60 s (worker.pipeline.freshness.stale_after).
    stale_after: float | None = None


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
    poll_share: float = 0.5  # polling may use this share of the calls left until the reset
    refresh: float = 300.0  # how often the scheduler asks openapi/quota/get (WeChat)


@dataclass(frozen=True, kw_only=True)
class MetricsConfig:
    enabled: bool = False  # opt-in Prometheus exposition
    host: str = "127.0.0.1"
    port: int = 9464


@dataclass(frozen=True, kw_only=True)
class AuditConfig:
    retention: float = 7 * 86400.0  # audit records older than this are dropped


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

#: The target key of a Weibo account's whole listing (``listing: account``): one "target"
#: that lists comments/to_me/biz; each comment is moderated under its own post.
ACCOUNT_LISTING = "*"


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
    # Weibo: "account" lists every comment of the account's posts (comments/to_me/biz);
    # "targets" lists each configured post (comments/show). Default: account without targets.
    listing: Literal["account", "targets"] = "targets"
    # WeChat: watch every article mass-sent in this many seconds back (datacube); None: off
    discover: float | None = None


NotifyType = Literal["wecom", "dingtalk", "feishu", "webhook"]
NOTIFY_TYPES: tuple[NotifyType, ...] = ("wecom", "dingtalk", "feishu", "webhook")
#: Operational events a channel can be told about (``notify.events.on``).
NOTIFY_EVENTS: tuple[str, ...] = (
    "action_failed", "target_gone", "rules_reload_failed", "quota_paused", "worker_died",
    "scheduler_takeover",
)


@dataclass(frozen=True, kw_only=True)
class NotifyChannel:
    """A team-chat robot or plain webhook. The URL (WeCom's key, DingTalk's access_token) and
    the signing secret are secrets: they are never logged."""

    name: str
    type: NotifyType
    url: Secret
    secret: Secret | None = None  # DingTalk and Feishu signing ("加签" / "签名校验")


@dataclass(frozen=True, kw_only=True)
class NotifyConfig:
    interval: float = 60.0  # one digest per channel at most this often
    examples: int = 3  # example comments per rule in a digest
    channels: tuple[NotifyChannel, ...] = ()
    events_channel: str | None = None
    events: frozenset[str] = frozenset()

    def channel(self, name: str) -> NotifyChannel:
        for channel in self.channels:
            if channel.name == name:
                return channel
        raise KeyError(name)


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
    notify: NotifyConfig = field(default_factory=NotifyConfig)
    audit: AuditConfig = field(default_factory=AuditConfig)
    accounts: tuple[AccountConfig, ...] = ()
    normalize: NormalizeOptions | None = None  # defaults for every rule file; None: built-in
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


def _share(value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not 0 < value < 1:
        raise ValueError(
            f"expected a share above 0 and below 1 (actions keep the rest), got {value!r}"
        )
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


_ROOT_KEYS = {
    "redis", "state_dir", "dry_run", "rules", "normalize", "polling", "actions", "quota",
    "metrics", "accounts", "notify", "audit",
}
_REDIS_KEYS = {"url", "sentinel", "key_prefix"}
_SENTINEL_KEYS = {"hosts", "master", "password", "sentinel_password", "db"}
_POLLING_KEYS = {
    "interval", "jitter", "full_pass_interval", "page_size", "max_interval", "retire_after",
    "stale_after",
}
_ACTIONS_KEYS = {"max_retries", "min_backoff", "max_backoff", "batch_max_wait"}
_QUOTA_KEYS = {"reset_timezone", "pause", "poll_share", "refresh"}
_METRICS_KEYS = {"enabled", "host", "port"}
_NOTIFY_KEYS = {"interval", "examples", "events"}  # every other key names a channel
_NOTIFY_CHANNEL_KEYS = {"type", "url", "secret"}
_NOTIFY_EVENTS_KEYS = {"channel", "on"}
_AUDIT_KEYS = {"retention"}
_WECHAT_KEYS = {
    "name", "platform", "app_id", "app_secret", "token", "api_base", "targets", "calls_per_minute",
    "discover",
}
_WEIBO_KEYS = {
    "name", "platform", "access_token", "api_base", "targets", "calls_per_minute", "listing",
}
#: An account's keys, by platform: every platform spec has an entry (a test holds it).
ACCOUNT_KEYS: dict[str, set[str]] = {"wechat": _WECHAT_KEYS, "weibo": _WEIBO_KEYS}
#: Keys of another platform's accounts that get a message of their own instead of "unknown".
_OTHER_PLATFORMS_KEYS: dict[str, set[str]] = {"wechat": {"listing"}, "weibo": {"discover"}}

#: Every key config.yaml may hold, by section (config.example.yaml documents each one).
KNOWN_KEYS: dict[str, frozenset[str]] = {
    "config": frozenset(_ROOT_KEYS),
    "redis": frozenset(_REDIS_KEYS),
    "redis.sentinel": frozenset(_SENTINEL_KEYS),
    "polling": frozenset(_POLLING_KEYS),
    "actions": frozenset(_ACTIONS_KEYS),
    "quota": frozenset(_QUOTA_KEYS),
    "metrics": frozenset(_METRICS_KEYS),
    "notify": frozenset(_NOTIFY_KEYS),
    "notify.channel": frozenset(_NOTIFY_CHANNEL_KEYS),
    "notify.events": frozenset(_NOTIFY_EVENTS_KEYS),
    "audit": frozenset(_AUDIT_KEYS),
    **{f"accounts.{platform}": frozenset(keys) for platform, keys in ACCOUNT_KEYS.items()},
}

DEFAULT_RULES = "rules/"


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
    reader.known_keys(root, _ROOT_KEYS, "config")

    redis = _redis(reader, root)
    polling = _polling(reader, root)
    actions = _actions(reader, root)
    quota = _quota(reader, root)
    metrics = _metrics(reader, root)
    notify = _notify(reader, root)
    audit = _audit(reader, root)
    rule_paths = _rules(reader, root, base_dir)
    normalize = _normalize(reader, root)
    state_dir = reader.get(root, "state_dir", str, "./var", "config")
    dry_run = reader.get(root, "dry_run", _boolean, False, "config")
    accounts = _accounts(reader, root)

    if reader.problems:
        raise ConfigError(reader.problems)
    return Config(
        path=path,
        redis=redis,
        state_dir=(base_dir / state_dir).resolve(),
        dry_run=dry_run,
        rules=rule_paths,
        normalize=normalize,
        polling=polling,
        actions=actions,
        quota=quota,
        metrics=metrics,
        notify=notify,
        audit=audit,
        accounts=accounts,
        warnings=tuple(reader.warnings),
    )


def _redis(reader: _Reader, root: SourceMap) -> RedisConfig:
    node = reader.mapping(root.get("redis"), "redis")
    reader.known_keys(node, _REDIS_KEYS, "redis")
    url = reader.env(node.get("url"), node, "url", "redis")
    if url is not None:
        try:
            _check_redis_url(url)
        except ValueError as exc:
            reader.problem(str(exc), node, "url", "redis.url")
            url = None
    sentinel = _sentinel(reader, node) if node.get("sentinel") is not None else None
    if sentinel is not None and node.get("url") is not None:
        reader.problem("set either redis.url or redis.sentinel, not both", node, "sentinel",
                       "redis.sentinel")
    return RedisConfig(url=url, sentinel=sentinel,
                       key_prefix=reader.get(node, "key_prefix", str, "mw", "redis"))


def _sentinel(reader: _Reader, parent: SourceMap) -> SentinelConfig | None:
    where = "redis.sentinel"
    node = reader.mapping(parent.get("sentinel"), where)
    reader.known_keys(node, _SENTINEL_KEYS, where)
    problems_before = len(reader.problems)
    raw_hosts = node.get("hosts")
    hosts: list[tuple[str, int]] = []
    if not isinstance(raw_hosts, list) or not raw_hosts:
        reader.problem("hosts must list the sentinels as host:port (e.g. [10.0.0.1:26379])",
                       node, "hosts", f"{where}.hosts")
    else:
        for index, item in enumerate(raw_hosts):
            try:
                hosts.append(_host_port(item))
            except ValueError as exc:
                reader.problem(str(exc), raw_hosts, index, f"{where}.hosts[{index}]")
    master = node.get("master")
    if not isinstance(master, str) or not master.strip():
        reader.problem("master must name the master the sentinels monitor (e.g. mymaster)",
                       node, "master", f"{where}.master")
    password = reader.env(node.get("password"), node, "password", where)
    sentinel_password = reader.env(
        node.get("sentinel_password"), node, "sentinel_password", where
    )
    db = reader.get(node, "db", _non_negative_int, 0, where)
    if len(reader.problems) != problems_before or not isinstance(master, str):
        return None
    return SentinelConfig(
        hosts=tuple(hosts), master=master.strip(), db=db,
        password=Secret(password) if password else None,
        sentinel_password=Secret(sentinel_password) if sentinel_password else None,
    )


def _host_port(value: Any) -> tuple[str, int]:
    text = str(value).strip() if isinstance(value, str | int) else ""
    host, _, port = text.rpartition(":")
    host = host.strip("[]")
    if not host or not port.isdigit() or not 1 <= int(port) <= 65535:
        raise ValueError(f"expected host:port (e.g. 10.0.0.1:26379), got {value!r}")
    return host, int(port)


def _polling(reader: _Reader, root: SourceMap) -> PollingConfig:
    node = reader.mapping(root.get("polling"), "polling")
    reader.known_keys(node, _POLLING_KEYS, "polling")
    page_size = reader.get(node, "page_size", _positive_int, 49, "polling")
    if page_size > WECHAT_MAX_PAGE_SIZE:
        reader.problem(
            f"page_size must be at most {WECHAT_MAX_PAGE_SIZE} (WeChat refuses 50 with 88010)",
            node, "page_size", "polling.page_size",
        )
    interval = reader.get(node, "interval", _duration_above_zero, 60.0, "polling")
    max_interval = reader.get(node, "max_interval", _duration_above_zero, 1800.0, "polling")
    if max_interval < interval:
        given = "max_interval" if "max_interval" in node else "interval"
        reader.problem(
            f"polling.max_interval ({_seconds(max_interval)}) is shorter than polling.interval "
            f"({_seconds(interval)}): the cold interval must be at least the hot one",
            node, given, f"polling.{given}",
        )
    return PollingConfig(
        interval=interval,
        jitter=reader.get(node, "jitter", _fraction, 0.1, "polling"),
        full_pass_interval=reader.get(
            node, "full_pass_interval", parse_duration, 900.0, "polling"
        ),
        page_size=page_size,
        max_interval=max_interval,
        retire_after=reader.get(
            node, "retire_after", _duration_above_zero, 30 * 86400.0, "polling"
        ),
        stale_after=reader.get(node, "stale_after", _duration_above_zero, None, "polling"),
    )


def _actions(reader: _Reader, root: SourceMap) -> ActionsConfig:
    node = reader.mapping(root.get("actions"), "actions")
    reader.known_keys(node, _ACTIONS_KEYS, "actions")
    problems_before = len(reader.problems)
    min_backoff = reader.get(node, "min_backoff", _backoff, 1.0, "actions")
    max_backoff = reader.get(node, "max_backoff", _backoff, 300.0, "actions")
    if len(reader.problems) == problems_before and min_backoff > max_backoff:
        given = "min_backoff" if "min_backoff" in node else "max_backoff"
        reader.problem(
            f"actions.min_backoff ({_seconds(min_backoff)}) is longer than actions.max_backoff "
            f"({_seconds(max_backoff)}): raise max_backoff or lower min_backoff",
            node, given, f"actions.{given}",
        )
    return ActionsConfig(
        max_retries=reader.get(node, "max_retries", _non_negative_int, 8, "actions"),
        min_backoff=min_backoff,
        max_backoff=max_backoff,
        batch_max_wait=reader.get(node, "batch_max_wait", parse_duration, 5.0, "actions"),
    )


def _quota(reader: _Reader, root: SourceMap) -> QuotaConfig:
    node = reader.mapping(root.get("quota"), "quota")
    reader.known_keys(node, _QUOTA_KEYS, "quota")
    return QuotaConfig(
        reset_timezone=reader.get(node, "reset_timezone", _timezone, "Asia/Shanghai", "quota"),
        pause=reader.get(node, "pause", _duration_above_zero, None, "quota"),
        poll_share=reader.get(node, "poll_share", _share, 0.5, "quota"),
        refresh=reader.get(node, "refresh", _duration_above_zero, 300.0, "quota"),
    )


def _metrics(reader: _Reader, root: SourceMap) -> MetricsConfig:
    node = reader.mapping(root.get("metrics"), "metrics")
    reader.known_keys(node, _METRICS_KEYS, "metrics")
    return MetricsConfig(
        enabled=reader.get(node, "enabled", _boolean, False, "metrics"),
        host=reader.get(node, "host", str, "127.0.0.1", "metrics"),
        port=reader.get(node, "port", _port, 9464, "metrics"),
    )


def _notify(reader: _Reader, root: SourceMap) -> NotifyConfig:
    """``notify:``: interval, examples, events, and every other key a channel."""
    node = reader.mapping(root.get("notify"), "notify")
    channels: list[NotifyChannel] = []
    for name, raw in node.items():
        if name in _NOTIFY_KEYS:
            continue
        where = f"notify.{name}"
        if not isinstance(raw, SourceMap):
            reader.problem(f"{where} must be a channel mapping (type, url, secret) or one of "
                           f"{', '.join(sorted(_NOTIFY_KEYS))}", node, name, where)
            continue
        reader.known_keys(raw, _NOTIFY_CHANNEL_KEYS, where)
        kind = raw.get("type")
        if kind not in NOTIFY_TYPES:
            reader.problem(f"type must be one of {', '.join(NOTIFY_TYPES)}, got {kind!r}"
                           f"{did_you_mean(str(kind), list(NOTIFY_TYPES))}", raw, "type",
                           f"{where}.type")
            continue
        url = reader.env(raw.get("url"), raw, "url", where)
        if "url" not in raw:
            reader.problem("a channel needs url (write ${VARIABLE} to read it from the "
                           "environment)", raw, None, f"{where}.url")
            continue
        if url is not None and not url.startswith(("http://", "https://")):
            reader.problem("url must be an http(s) URL", raw, "url", f"{where}.url")
            continue
        secret = reader.env(raw.get("secret"), raw, "secret", where)
        if secret is not None and kind in ("wecom", "webhook"):
            reader.problem(f"a {kind} channel has no signing secret (the URL is the secret)",
                           raw, "secret", f"{where}.secret")
        channels.append(NotifyChannel(
            name=str(name), type=kind, url=Secret(url or ""),
            secret=Secret(secret) if secret else None,
        ))
    events_node = node.get("events")
    events_channel: str | None = None
    events: frozenset[str] = frozenset()
    if events_node is not None:
        ev = reader.mapping(events_node, "notify.events")
        # YAML 1.1 reads a bare `on:` key as the boolean true: take it as written.
        for key in ev:
            if key is not True and key not in _NOTIFY_EVENTS_KEYS:
                reader.problem(f"unknown key {key!r}{did_you_mean(str(key), _NOTIFY_EVENTS_KEYS)}",
                               ev, key, f"notify.events.{key}")
        if True in ev and "on" not in ev:
            ev["on"] = ev[True]
            ev.key_lines["on"] = ev.line_of(True)
        events_channel = ev.get("channel")
        names = {c.name for c in channels}
        if events_channel not in names:
            reader.problem(f"notify.events.channel must name a channel of notify: "
                           f"({', '.join(sorted(names)) or 'none configured'}), got "
                           f"{events_channel!r}", ev, "channel", "notify.events.channel")
        on = ev.get("on", list(NOTIFY_EVENTS))
        if not isinstance(on, list) or not all(isinstance(e, str) for e in on):
            reader.problem("notify.events.on takes a list of event names", ev, "on",
                           "notify.events.on")
            on = []
        for index, event in enumerate(on):
            if event not in NOTIFY_EVENTS:
                reader.problem(f"unknown event {event!r}{did_you_mean(event, list(NOTIFY_EVENTS))};"
                               f" events are {', '.join(NOTIFY_EVENTS)}",
                               on if isinstance(on, SourceList) else ev,
                               index if isinstance(on, SourceList) else "on", "notify.events.on")
        events = frozenset(e for e in on if e in NOTIFY_EVENTS)
    return NotifyConfig(
        interval=reader.get(node, "interval", _duration_above_zero, 60.0, "notify"),
        examples=reader.get(node, "examples", _non_negative_int, 3, "notify"),
        channels=tuple(channels), events_channel=events_channel, events=events,
    )


def _audit(reader: _Reader, root: SourceMap) -> AuditConfig:
    node = reader.mapping(root.get("audit"), "audit")
    reader.known_keys(node, _AUDIT_KEYS, "audit")
    return AuditConfig(
        retention=reader.get(node, "retention", _duration_above_zero, 7 * 86400.0, "audit"),
    )


def _rules(reader: _Reader, root: SourceMap, base_dir: Path) -> tuple[Path, ...]:
    """Rule files and directories, resolved against the config's directory; each must exist."""
    if "rules" not in root:
        default = (base_dir / DEFAULT_RULES).resolve()
        if not default.exists():
            reader.problem(
                f"rules is not set and the default directory {default} does not exist: "
                "write rules: [path/to/rules/] (files or directories)", root, None, "rules",
            )
            return ()
        return (default,)
    value = root["rules"]
    if isinstance(value, str):
        return _rule_paths(reader, [value], root, "rules", base_dir)
    if value is not None and not isinstance(value, list):
        reader.problem("rules must be a list of files or directories", root, "rules", "rules")
        return ()
    if not value:
        reader.problem(
            "rules must name at least one file or directory (e.g. rules: [rules/])",
            root, "rules", "rules",
        )
        return ()
    return _rule_paths(reader, value, value, None, base_dir)


def _normalize(reader: _Reader, root: SourceMap) -> NormalizeOptions | None:
    """``normalize:``: the normalisation defaults of every rule file (rules-spec.md v1.2)."""
    if root.get("normalize") is None:
        return None
    # Imported here: worker.rules imports this module.
    from worker.rules.normalize import NormalizeOptions
    from worker.rules.steps import STEPS, read_steps

    node = reader.mapping(root["normalize"], "normalize")
    reader.known_keys(node, set(STEPS), "normalize")
    options, problems = read_steps(node, NormalizeOptions())
    for key, message in problems:
        reader.problem(message, node, key, f"normalize.{key}")
    return options


def _rule_paths(
    reader: _Reader, items: list[Any], node: object, key: object, base_dir: Path
) -> tuple[Path, ...]:
    paths: list[Path] = []
    for index, item in enumerate(items):
        where = f"rules[{index}]"
        at = index if key is None else key
        if not isinstance(item, str) or not item.strip():
            reader.problem(
                f"expected the path of a rule file or directory, got {item!r}", node, at, where
            )
            continue
        path = (base_dir / item).resolve()
        if not path.exists():
            reader.problem(f"no such file or directory: {item} ({path})", node, at, where)
            continue
        paths.append(path)
    return tuple(paths)


_REDIS_SCHEMES = ("redis://", "rediss://", "unix://")


def _check_redis_url(url: str) -> None:
    """Raise ValueError, naming what is wrong, unless redis-py can connect with ``url``.

    The message never holds the URL's password: the URL is shown redacted, and parts of it
    (a port or database that does not parse may be a piece of a password holding ``/`` or
    ``:``) are never echoed on their own.
    """
    shown = _redact_url(url)
    if not url.startswith(_REDIS_SCHEMES):
        hint = f" (for a TCP server write redis://{shown})" if "://" not in url else ""
        raise ValueError(
            f"must start with redis://, rediss:// (TLS) or unix:// (a socket path), got "
            f"{shown!r}{hint}"
        )
    parts = urlsplit(url)
    if parts.scheme == "unix":
        if not parts.path:
            raise ValueError("a unix:// URL needs the socket path, e.g. unix:///run/redis.sock")
    else:
        try:
            port = parts.port
        except ValueError:
            raise ValueError(
                f"invalid port in {shown!r}: expected a number from 1 to 65535 after the host"
            ) from None
        if port == 0:
            raise ValueError("the port must be from 1 to 65535, got 0")
        database = parts.path.strip("/")
        if database and not database.isdigit():
            raise ValueError(f"the database after the host must be a number, in {shown!r}")
    import redis  # here: ``check`` and ``replay`` need no Redis client unless a URL is set

    try:
        redis.ConnectionPool.from_url(url)  # its ValueError names the bad query argument
    except ValueError as exc:
        message = str(exc)
        password = redis_url_password(url)
        if password:
            message = message.replace(password, "***")
        raise ValueError(message) from None


def redis_url_password(url: str) -> str | None:
    """The password in a Redis URL (``redis://[user]:password@host``), if any."""
    try:
        return urlsplit(url).password
    except ValueError:
        match = re.match(r"^[A-Za-z][A-Za-z0-9+.-]*://[^/@]*:([^/@]*)@", url)
        return match.group(1) if match else None


def redact_url(url: str) -> str:
    """``url`` with any ``user:password@`` replaced by ``***@``, for messages and logs."""
    return _redact_url(url)


def _redact_url(url: str) -> str:
    """``url`` with any ``user:password@`` replaced by ``***@``: it goes into error messages."""
    # up to the last @: a password may hold / or @ itself
    return re.sub(r"^([A-Za-z][A-Za-z0-9+.-]*://)?.*@", r"\1***@", url, flags=re.DOTALL)


def _seconds(value: float) -> str:
    return f"{value:g}s"


def _timezone(value: Any) -> str:
    from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

    try:
        ZoneInfo(str(value))
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise ValueError(f"unknown time zone {value!r}") from exc
    return str(value)


def _check_api_base(url: str) -> None:
    """An https URL, or http only to this host: tokens and secrets travel in its queries."""
    if url.startswith("https://"):
        return
    if not url.startswith("http://"):
        raise ValueError(f"api_base must be an https:// URL, got {_redact_url(url)!r}")
    try:
        host = urlsplit(url).hostname or ""
    except ValueError:
        host = ""
    if not _is_loopback(host):
        raise ValueError(
            f"api_base must use https:// (plain http:// would send access tokens and app "
            f"secrets unencrypted); http:// is only accepted for a loopback host such as "
            f"127.0.0.1, got {_redact_url(url)!r}"
        )


def _is_loopback(host: str) -> bool:
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


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
        # discover on Weibo and listing on WeChat get their own message below
        allowed = ACCOUNT_KEYS[platform] | _OTHER_PLATFORMS_KEYS.get(platform, set())
        reader.known_keys(node, allowed, where)
        api_base = node.get("api_base")
        if api_base is not None:
            try:
                _check_api_base(str(api_base))
            except ValueError as exc:
                reader.problem(str(exc), node, "api_base", f"{where}.api_base")
        calls_per_minute = reader.get(node, "calls_per_minute", _positive_int, None, where)
        targets = _targets(reader, node, platform, where)
        discover = _discover(reader, node, platform, where)
        listing = _listing(reader, node, platform, where, targets)
        if platform == "wechat":
            app_id = node.get("app_id")
            if not app_id:
                reader.problem("a WeChat account needs app_id", node, "app_id", f"{where}.app_id")
            secret = reader.secret(node.get("app_secret"), node, "app_secret", where)
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
                    token=token_mode, calls_per_minute=calls_per_minute, discover=discover,
                )
            )
        elif platform == "weibo":
            token = reader.secret(node.get("access_token"), node, "access_token", where)
            if "access_token" not in node:
                reader.problem(
                    "a Weibo account needs access_token (write ${VARIABLE} to read it from the "
                    "environment)", node, "access_token", f"{where}.access_token",
                )
            accounts.append(
                AccountConfig(
                    name=name, platform="weibo", targets=targets, api_base=api_base,
                    access_token=Secret(token) if token is not None else None,
                    calls_per_minute=calls_per_minute, listing=listing,
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
        before = len(targets)
        if platform == "wechat":
            reader.known_keys(tnode, {"msg_data_id", "index"}, twhere)
            if "msg_data_id" not in tnode:
                reader.problem("a WeChat target needs msg_data_id", tnode, None, twhere)
                continue
            msg_data_id = reader.get(tnode, "msg_data_id", _id_number, None, twhere)
            article = reader.get(tnode, "index", _non_negative_int, 0, twhere)
            if msg_data_id is not None:
                targets.append(WechatTarget(msg_data_id=msg_data_id, index=article))
        elif platform == "weibo":
            reader.known_keys(tnode, {"status_id"}, twhere)
            if "status_id" not in tnode:
                reader.problem("a Weibo target needs status_id", tnode, None, twhere)
                continue
            status_id = reader.get(tnode, "status_id", _id_number, None, twhere)
            if status_id is not None:
                targets.append(WeiboTarget(status_id=status_id))
        if len(targets) > before and targets[-1] in targets[:-1]:
            reader.problem(f"target {targets[-1].key} is listed twice (polled once)",
                           raw_targets, index, twhere)
            reader.warnings.append(reader.problems.pop())
            targets.pop()
    return tuple(targets)


def _discover(reader: _Reader, node: SourceMap, platform: str, where: str) -> float | None:
    if "discover" not in node:
        return None
    if platform != "wechat":
        reader.problem(
            "discover finds mass-sent WeChat articles (datacube); a Weibo account lists every "
            "post's comments with listing: account", node, "discover", f"{where}.discover",
        )
        return None
    value = reader.get(node, "discover", _duration_above_zero, None, where)
    if value is not None and value < 86400:
        reader.problem(
            f"discover must be at least 1d (datacube counts whole days), got {node['discover']!r}",
            node, "discover", f"{where}.discover",
        )
        return None
    return value  # type: ignore[no-any-return]


def _listing(
    reader: _Reader, node: SourceMap, platform: str, where: str, targets: tuple[Target, ...]
) -> Literal["account", "targets"]:
    if platform != "weibo":
        if "listing" in node:
            reader.problem(
                "listing is a Weibo key (comments/to_me/biz); a WeChat account lists each "
                "article (targets:, discover:)", node, "listing", f"{where}.listing",
            )
        return "targets"
    if "listing" not in node:
        return "targets" if targets else "account"
    value = node["listing"]
    if value not in ("account", "targets"):
        reader.problem(
            f"listing must be account (every comment of the account's posts) or targets "
            f"(the posts under targets:), got {value!r}", node, "listing", f"{where}.listing",
        )
        return "targets"
    return "account" if value == "account" else "targets"
