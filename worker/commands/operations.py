"""Operator commands around a running deployment: ``modworker health`` and
``modworker tokens drop``.

``health`` asks the deployment's Redis what ``/readyz`` (or, with ``--live``, ``/healthz``)
would answer, from any shell on a host that reaches that Redis: exit 0 healthy, 6 unhealthy
(3 when Redis cannot be reached), the report as JSON on stdout (a short text on a terminal).
It never starts the embedded Redis: a daemon that is down is unhealthy.

``tokens drop --account A`` forgets A's cached access token (the client's
``drop_cached_token``), so that the next call fetches one with the secret configured now (a
cached WeChat token hides a wrong new secret until it expires, up to 2 h). A Weibo token is
the configured one, never cached: nothing to drop.
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import TextIO

from worker.commands.console import (
    load_account_reporting,
    load_config_reporting,
    open_state_for,
)
from worker.errors import StateUnavailableError
from worker.exit_codes import EXIT_CONFIG, EXIT_OK, EXIT_REDIS, EXIT_UNHEALTHY
from worker.health import HealthProbe, HealthReport
from worker.logs import register_secret
from worker.pipeline.connect import RedisEndpoint, redis_client
from worker.platforms import make_client
from worker.redis_server import EmbeddedRedis

# -- health --------------------------------------------------------------------------------

def cmd_health(args: argparse.Namespace) -> int:
    config = load_config_reporting(args.config)
    if config is None:
        return EXIT_CONFIG
    # The daemon's Redis (url, sentinel or the embedded socket), never a Redis started here.
    endpoint = RedisEndpoint.configured(config.redis) or RedisEndpoint(
        url=EmbeddedRedis(state_dir=config.state_dir).url)
    for password in config.redis.secrets:
        register_secret(password)
    client = redis_client(endpoint, socket_timeout=5, socket_connect_timeout=5)
    try:
        probe = HealthProbe(config=config, redis=client)
        report = probe.live() if args.live else probe.ready()
    finally:
        client.close()
    write_report(report, sys.stdout, as_json=args.json or not sys.stdout.isatty())
    if report.ok:
        return EXIT_OK
    redis_check = next((c for c in report.checks if c.name == "redis"), None)
    return EXIT_REDIS if redis_check is not None and not redis_check.ok else EXIT_UNHEALTHY


def write_report(report: HealthReport, out: TextIO, *, as_json: bool) -> None:
    if as_json:
        out.write(json.dumps(report.to_dict(), ensure_ascii=False) + "\n")
        return
    out.write(f"{'ok' if report.ok else 'UNHEALTHY'} ({report.kind})\n")
    for check in report.checks:
        out.write(f"  {'ok ' if check.ok else 'BAD'}  {check.name}: {check.detail}\n")
    for note in report.notes:
        out.write(f"  note {note}\n")


# -- tokens drop ---------------------------------------------------------------------------

def cmd_tokens_drop(args: argparse.Namespace) -> int:
    loaded = load_account_reporting(args.config, args.account)
    if loaded is None:
        return EXIT_CONFIG
    config, account = loaded
    try:
        with open_state_for(config, doing="dropping the token", write=True,
                            tell=False) as state:
            client = make_client(account, redis=state.client, quota=config.quota,
                                 key_prefix=config.redis.key_prefix)
            try:
                dropped = client.drop_cached_token()
            finally:
                client.close()
    except StateUnavailableError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_REDIS
    if dropped:
        print(f"{account.name}: dropped the cached access token; the next call fetches a new "
              "one with the configured secret")
    else:
        print(f"{account.name}: no cached access token: nothing to drop (a configured token, "
              "as Weibo's, takes effect when the daemon restarts)")
    return EXIT_OK
