"""Typed configuration: ``config.yaml`` read once into frozen value objects.

The process environment is read here and nowhere else: ``${NAME}`` values are substituted
from it, and a missing variable is an error that names it. Secrets are wrapped in
:class:`Secret`, whose ``repr``/``str`` never show the value.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

from worker.config.accounts import ACCOUNT_KEYS, _accounts
from worker.config.keys import _ROOT_KEYS, DEFAULT_RULES, KNOWN_KEYS
from worker.config.model import (
    ACCOUNT_LISTING,
    NOTIFY_EVENTS,
    NOTIFY_TYPES,
    PLATFORMS,
    WECHAT_MAX_PAGE_SIZE,
    AccountConfig,
    ActionsConfig,
    AuditConfig,
    Config,
    MetricsConfig,
    NotifyChannel,
    NotifyConfig,
    NotifyType,
    PollingConfig,
    QuotaConfig,
    RedisConfig,
    Secret,
    SentinelConfig,
    Target,
    WechatTarget,
    WeiboTarget,
)
from worker.config.reader import _boolean, _Reader, did_you_mean
from worker.config.sections import (
    _actions,
    _audit,
    _metrics,
    _normalize,
    _notify,
    _polling,
    _quota,
    _redis,
    _rules,
)
from worker.config.urls import redact_url, redis_url_password
from worker.errors import ConfigError
from worker.yamlsrc import SourceMap, load_yaml_file, load_yaml_text

__all__ = [
    "ACCOUNT_KEYS", "ACCOUNT_LISTING", "DEFAULT_RULES", "KNOWN_KEYS", "NOTIFY_EVENTS",
    "NOTIFY_TYPES", "PLATFORMS", "WECHAT_MAX_PAGE_SIZE", "AccountConfig", "ActionsConfig",
    "AuditConfig", "Config", "MetricsConfig", "NotifyChannel", "NotifyConfig", "NotifyType",
    "PollingConfig", "QuotaConfig", "RedisConfig", "Secret", "SentinelConfig", "Target",
    "WechatTarget", "WeiboTarget", "did_you_mean", "load_config", "load_config_text",
    "parse_config", "redact_url", "redis_url_password",
]


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


