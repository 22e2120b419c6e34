"""Credentials checked before they are needed (``modworker check --online``, ``run`` at start).

For each account: one read-only call that needs working credentials, through the client's
``verify_credentials`` (WeChat fetches its token, then ``comment/list`` with ``count=1`` on the
first target, or ``tags/members/getblacklist`` without one; Weibo ``comments/show`` with
``count=1`` on its first post, with the configured token). The verdict:

- ``accepted``: the call was answered (a target that is gone still proves the credentials);
- ``rejected``: the platform refused the secret, app id or token, or the caller's IP;
- ``unreachable``: the platform could not be asked (network, busy, quota): no verdict;
- ``skipped``: a Weibo account without a target to ask about.
"""

from __future__ import annotations

import functools
from dataclasses import asdict, dataclass
from typing import Any, Literal

import redis as redis_lib
import structlog

from worker.config import AccountConfig, Config
from worker.errors import PlatformError, TargetGoneError
from worker.pipeline.freshness import Freshness
from worker.pipeline.poll_outcomes import credentials_refused
from worker.platforms import make_client

log = structlog.get_logger("worker.credentials")

Verdict = Literal["accepted", "rejected", "unreachable", "skipped"]


@dataclass(frozen=True, slots=True, kw_only=True)
class CredentialCheck:
    account: str
    platform: str
    verdict: Verdict
    endpoint: str | None = None
    errcode: int | None = None
    detail: str = ""

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def __str__(self) -> str:
        code = f" ({self.errcode})" if self.errcode is not None else ""
        where = f" on {self.endpoint}" if self.endpoint else ""
        return f"account '{self.account}' ({self.platform}): {self.verdict}{where}{code}" + (
            f": {self.detail}" if self.detail else ""
        )


def check_account(account: AccountConfig, *, config: Config,
                  redis: redis_lib.Redis) -> CredentialCheck:
    """One account's verdict (see the module docstring). Never raises a PlatformError."""
    client = make_client(account, redis=redis, quota=config.quota,
                         key_prefix=config.redis.key_prefix)
    target = account.targets[0].key if account.targets else None
    verdict_on = functools.partial(CredentialCheck, account=account.name,
                                   platform=account.platform)
    try:
        endpoint = client.verify_credentials(target)
        if endpoint is None:
            return verdict_on(verdict="skipped",
                              detail="no target to check the credentials against")
    except TargetGoneError as exc:
        return verdict_on(verdict="accepted", endpoint=exc.endpoint, errcode=exc.code,
                          detail=f"target {target} is gone: {exc.platform_message}")
    except PlatformError as exc:
        verdict: Verdict = "rejected" if credentials_refused(exc) else "unreachable"
        return verdict_on(verdict=verdict, endpoint=exc.endpoint, errcode=exc.code,
                          detail=exc.platform_message)
    finally:
        client.close()
    return verdict_on(verdict="accepted", endpoint=endpoint)


def check_accounts(config: Config, *, redis: redis_lib.Redis) -> list[CredentialCheck]:
    return [check_account(a, config=config, redis=redis) for a in config.accounts]


def verify_at_start(config: Config, *, redis: redis_lib.Redis,
                    freshness: Freshness) -> list[CredentialCheck]:
    """``modworker run`` at start: every account checked through the deployment's Redis (its
    shared tokens), each verdict recorded for ``/readyz`` and told: a refused account is one
    ``credentials_rejected`` error naming the config file and the account; the others are
    moderated as usual."""
    checks = check_accounts(config, redis=redis)
    where = str(config.path) if config.path is not None else "config"
    for check in checks:
        fields = {"account": check.account, "platform": check.platform,
                  "endpoint": check.endpoint, "errcode": check.errcode,
                  "config": where, "field": f"accounts[{check.account}]"}
        if check.verdict == "accepted":
            freshness.credentials_accepted(check.account)
            log.info("credentials_accepted", **fields)
        elif check.verdict == "rejected":
            freshness.credentials_rejected(check.account, errcode=check.errcode,
                                           detail=check.detail)
            log.error("credentials_rejected", **fields, detail=check.detail,
                      next="this account is not moderated until its credentials work; "
                      "`modworker check --online` tells when they do")
        else:
            log.warning("credentials_unverified", **fields, detail=check.detail or check.verdict,
                        next="polls will tell")
    return checks
