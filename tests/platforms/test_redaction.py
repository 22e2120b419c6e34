"""No app secret and no access token in any log line or exception text of a failing run."""

from __future__ import annotations

import io
import logging
import re
import traceback
from collections.abc import Callable
from functools import partial

import pytest
import redis

from worker.config import QuotaConfig, Secret
from worker.errors import ModworkerError
from worker.platforms import WechatClient, WeiboClient, make_client
from worker.sandbox import Sandbox

from .conftest import APP_SECRET, STATUS, TARGET, WEIBO_TOKEN, add_comments, wechat_account


def test_a_failing_run_leaks_no_secret(
    sb: Sandbox,
    redis_client: redis.Redis,
    make_wechat: Callable[..., WechatClient],
    make_weibo: Callable[..., WeiboClient],
    log_output: io.StringIO,
) -> None:
    logging.getLogger("httpx").setLevel(logging.DEBUG)  # httpx logs every URL, token included
    logging.getLogger("httpcore").setLevel(logging.DEBUG)
    failures: list[BaseException] = []
    secrets = {APP_SECRET, WEIBO_TOKEN, "wrong-secret-value-1234", "2.00StrangerToken_99"}

    def attempt(call: Callable[[], object]) -> None:
        try:
            call()
        except ModworkerError as exc:
            failures.append(exc)

    # a wrong secret, on both token endpoints
    for mode in ("stable", "classic"):
        bad = make_wechat(token=mode, app_secret=Secret("wrong-secret-value-1234"),
                          name=f"bad-{mode}")
        attempt(partial(bad.list_comments, TARGET))
        redis_client.delete(f"t:token:wechat:{bad.account.app_id}:{mode}:error")

    # dead tokens: expired, invalidated, a fresh one refused (force_refresh), 5xx pages
    add_comments(sb, 2)
    for mode in ("stable", "classic"):
        client = make_wechat(token=mode, name=f"good-{mode}")
        client.list_comments(TARGET)
        held = client.tokens.read()
        assert held is not None
        secrets.add(held.value)
        sb.advance_time(7300)
        client.list_comments(TARGET)
        sb.invalidate_tokens()
        attempt(partial(client.list_comments, TARGET))
        sb.faults.fail_next(40001, endpoint="comment/list", times=3)
        attempt(partial(client.list_comments, TARGET))
        for fault in ("html_5xx", "malformed", "malformed", "busy"):
            sb.faults.fail_next(fault, endpoint="comment/delete")
            attempt(partial(client.delete_comment, TARGET, 1))
        sb.faults.fail_next(45009, endpoint="comment/reply/add")
        attempt(partial(client.reply, TARGET, 2, "hi"))
        attempt(partial(client.reply, TARGET, 2, "hi"))
        now = client.tokens.read()
        assert now is not None
        secrets.add(now.value)

    # nothing listening
    dead = make_client(wechat_account(sb, api_base="http://127.0.0.1:9"), redis=redis_client,
                       quota=QuotaConfig(), key_prefix="dead")
    assert isinstance(dead, WechatClient)
    attempt(lambda: dead.list_comments(TARGET))
    dead.close()

    # Weibo: a refused token, 5xx, malformed
    sb.add_weibo_token(access_token="2.00StrangerToken_99", uid=5)
    sb.expire_weibo_token("2.00StrangerToken_99")
    stranger = make_weibo(access_token=Secret("2.00StrangerToken_99"))
    attempt(lambda: stranger.list_comments(STATUS))
    weibo = make_weibo()
    for fault in ("html_5xx", "malformed", "busy"):
        sb.faults.fail_next(fault, endpoint="comments/show")  # type: ignore[arg-type]
        attempt(lambda: weibo.list_comments(STATUS))
    attempt(lambda: weibo.destroy_comments([123]))

    assert len(failures) >= 20
    assert len(secrets) >= 6
    texts = [log_output.getvalue()]
    for exc in failures:
        texts += [str(exc), repr(exc), "".join(traceback.format_exception(exc))]
    everything = "\n".join(texts)
    assert "platform.call" in everything and "HTTP Request" in everything  # we did capture
    for secret in secrets:
        assert secret not in everything, "a secret leaked"
    leaked = re.findall(r"(?:access_token|secret)=(?!\*\*\*)[^&\s\"']+", everything)
    assert leaked == []


def test_token_repr_hides_the_value(wechat: WechatClient) -> None:
    with pytest.raises(ModworkerError):
        wechat.list_comments("1:0")  # 88001, but a token was fetched
    token = wechat.tokens.read()
    assert token is not None
    assert token.value not in repr(token) and token.value not in str(token)
