"""The keys each config.yaml section may hold."""

from __future__ import annotations

from worker.config.accounts import ACCOUNT_KEYS

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
