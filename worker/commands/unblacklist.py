"""``modworker unblacklist``: undo a blacklisting, on the platform and in modworker's memory.

WeChat's ``tags/members/batchunblacklist`` lifts the blacklist (20 openids a call); the
openids are also removed from the account's "already blacklisted" set, so that a later
offense can blacklist them again.
"""

from __future__ import annotations

import argparse
import sys

import redis

from worker.commands.console import load_account_reporting, open_state_for
from worker.config import AccountConfig, Config
from worker.errors import PlatformError, StateUnavailableError
from worker.exit_codes import EXIT_CONFIG, EXIT_OK, EXIT_PARTIAL, EXIT_REDIS
from worker.pipeline.batches import MAX_BATCH, BatchBuffer
from worker.pipeline.keys import Keys
from worker.platforms import WechatClient, make_client


def cmd_unblacklist(args: argparse.Namespace) -> int:
    loaded = load_account_reporting(args.config, args.account)
    if loaded is None:
        return EXIT_CONFIG
    config, account = loaded
    if account.platform != "wechat":
        print("error: blacklists exist on WeChat accounts only", file=sys.stderr)
        return EXIT_CONFIG
    try:
        # The daemon's Redis (url, sentinel or the embedded socket); with the daemon down, the
        # embedded Redis opened under its lock. A Redis error on the way is exit 3, not a
        # traceback; what was unblacklisted before it is already printed.
        with open_state_for(config, doing="unblacklisting", write=True) as state:
            code = _unblacklist(args, config, account, state.client)
    except StateUnavailableError as exc:
        print(f"error: {exc}", file=sys.stderr)  # never the URL's password
        return EXIT_REDIS
    return code


def _unblacklist(args: argparse.Namespace, config: Config, account: AccountConfig,
                 client: redis.Redis) -> int:
    api = make_client(account, redis=client, quota=config.quota,
                      key_prefix=config.redis.key_prefix)
    assert isinstance(api, WechatClient)
    buffer = BatchBuffer(redis=client, platform="wechat", account=account.name, kind="blacklist",
                         keys=Keys(prefix=config.redis.key_prefix))
    openids = list(dict.fromkeys(args.openids))
    code = EXIT_OK
    try:
        for start in range(0, len(openids), MAX_BATCH):
            chunk = openids[start:start + MAX_BATCH]
            result = api.unblacklist(chunk)
            buffer.forget_done(result.unblacklisted)
            for openid in result.unblacklisted:
                print(f"unblacklisted {openid}")
            for openid in result.invalid:
                print(f"invalid openid {openid} (not of this account)", file=sys.stderr)
                code = EXIT_PARTIAL
    except PlatformError as exc:
        print(f"error: {exc}", file=sys.stderr)
        code = EXIT_PARTIAL
    finally:
        api.close()
    return code
