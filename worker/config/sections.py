"""Parsing of the config sections other than accounts."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from worker.config.keys import (
    _ACTIONS_KEYS,
    _AUDIT_KEYS,
    _METRICS_KEYS,
    _NOTIFY_CHANNEL_KEYS,
    _NOTIFY_EVENTS_KEYS,
    _NOTIFY_KEYS,
    _POLLING_KEYS,
    _QUOTA_KEYS,
    _REDIS_KEYS,
    _SENTINEL_KEYS,
    DEFAULT_RULES,
)
from worker.config.model import (
    NOTIFY_EVENTS,
    NOTIFY_TYPES,
    WECHAT_MAX_PAGE_SIZE,
    ActionsConfig,
    AuditConfig,
    MetricsConfig,
    NotifyChannel,
    NotifyConfig,
    PollingConfig,
    QuotaConfig,
    RedisConfig,
    Secret,
    SentinelConfig,
)
from worker.config.reader import (
    _backoff,
    _boolean,
    _duration_above_zero,
    _fraction,
    _non_negative_int,
    _port,
    _positive_int,
    _Reader,
    _share,
    did_you_mean,
)
from worker.config.urls import _check_redis_url
from worker.units import parse_duration
from worker.yamlsrc import SourceList, SourceMap

if TYPE_CHECKING:
    from worker.rules.normalize import NormalizeOptions

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
        channel = _notify_channel(reader, node, name, raw)
        if channel is not None:
            channels.append(channel)
    events_channel: str | None = None
    events: frozenset[str] = frozenset()
    if node.get("events") is not None:
        events_channel, events = _notify_events(
            reader, reader.mapping(node["events"], "notify.events"), {c.name for c in channels}
        )
    return NotifyConfig(
        interval=reader.get(node, "interval", _duration_above_zero, 60.0, "notify"),
        examples=reader.get(node, "examples", _non_negative_int, 3, "notify"),
        channels=tuple(channels), events_channel=events_channel, events=events,
    )


def _notify_channel(
    reader: _Reader, node: SourceMap, name: object, raw: object
) -> NotifyChannel | None:
    """``notify.<name>``: a channel (None, with its problem, when it is not a usable one)."""
    where = f"notify.{name}"
    if not isinstance(raw, SourceMap):
        reader.problem(f"{where} must be a channel mapping (type, url, secret) or one of "
                       f"{', '.join(sorted(_NOTIFY_KEYS))}", node, name, where)
        return None
    reader.known_keys(raw, _NOTIFY_CHANNEL_KEYS, where)
    kind = raw.get("type")
    if kind not in NOTIFY_TYPES:
        reader.problem(f"type must be one of {', '.join(NOTIFY_TYPES)}, got {kind!r}"
                       f"{did_you_mean(str(kind), list(NOTIFY_TYPES))}", raw, "type",
                       f"{where}.type")
        return None
    url = reader.env(raw.get("url"), raw, "url", where)
    if "url" not in raw:
        reader.problem("a channel needs url (write ${VARIABLE} to read it from the "
                       "environment)", raw, None, f"{where}.url")
        return None
    if url is not None and not url.startswith(("http://", "https://")):
        reader.problem("url must be an http(s) URL", raw, "url", f"{where}.url")
        return None
    secret = reader.env(raw.get("secret"), raw, "secret", where)
    if secret is not None and kind in ("wecom", "webhook"):
        reader.problem(f"a {kind} channel has no signing secret (the URL is the secret)",
                       raw, "secret", f"{where}.secret")
    return NotifyChannel(
        name=str(name), type=kind, url=Secret(url or ""), secret=Secret(secret) if secret else None,
    )


def _notify_events(
    reader: _Reader, ev: SourceMap, channel_names: set[str]
) -> tuple[str | None, frozenset[str]]:
    """``notify.events``: (the channel told, the events it is told about)."""
    # YAML 1.1 reads a bare `on:` key as the boolean true: take it as written.
    for key in ev:
        if key is not True and key not in _NOTIFY_EVENTS_KEYS:
            reader.problem(f"unknown key {key!r}{did_you_mean(str(key), _NOTIFY_EVENTS_KEYS)}",
                           ev, key, f"notify.events.{key}")
    if True in ev and "on" not in ev:
        ev["on"] = ev[True]
        ev.key_lines["on"] = ev.line_of(True)
    channel = ev.get("channel")
    if channel not in channel_names:
        reader.problem(f"notify.events.channel must name a channel of notify: "
                       f"({', '.join(sorted(channel_names)) or 'none configured'}), got "
                       f"{channel!r}", ev, "channel", "notify.events.channel")
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
    return channel, frozenset(e for e in on if e in NOTIFY_EVENTS)


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



def _seconds(value: float) -> str:
    return f"{value:g}s"


def _timezone(value: Any) -> str:
    from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

    try:
        ZoneInfo(str(value))
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise ValueError(f"unknown time zone {value!r}") from exc
    return str(value)
