"""Configuration value objects: each config.yaml section as a frozen dataclass."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Literal

from worker.config.urls import redis_url_password
from worker.errors import Problem
from worker.platform_specs import PLATFORM_NAMES, Platform

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
    # Under a tight budget a target that still gets comments is stretched to at most this
    # many even intervals (what polling every target at one interval would give): 1 keeps
    # every comment's wait within fixed polling's, more trades the tail for the median.
    max_stretch: float = 3.4


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
