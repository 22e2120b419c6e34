"""Each robot's message format, signing and answers (shared/api-notes.md section 8).

- WeCom group robot: markdown, 4096 bytes; the key in the URL is the secret; 45009 = rate limit.
- DingTalk custom robot: markdown; "加签": ``timestamp`` (ms) and
  ``sign = urlencode(base64(HmacSHA256(secret, timestamp + "\\n" + secret)))`` in the query;
  130101 = sending too fast.
- Feishu custom bot: text; "签名校验": ``timestamp`` (s) and
  ``sign = base64(HmacSHA256(key=timestamp + "\\n" + secret, msg=""))`` in the body;
  11232 = rate limited; answers ``{"code": 0}`` (older ``{"StatusCode": 0}``).
- webhook: ``{"title", "text", "entries"}`` JSON; any 2xx is taken.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import time
import urllib.parse
from dataclasses import dataclass
from typing import Any

from worker.config import NotifyChannel, NotifyType
from worker.errors import NotifyError, NotifyRateLimitedError
from worker.notify.limits import Rate

#: Each robot's own rate limits (api-notes.md section 8).
RATES: dict[NotifyType, tuple[Rate, ...]] = {
    "wecom": (Rate(20, 60.0),),
    "dingtalk": (Rate(20, 60.0),),
    "feishu": (Rate(5, 1.0), Rate(100, 60.0)),
    "webhook": (),
}
#: Largest message text (bytes of UTF-8): WeCom's markdown limit; the others take more, but a
#: digest that long is no longer read.
MAX_BYTES = 4000
#: How long a robot's own "too fast" answer keeps a channel waiting.
THROTTLED_SECONDS: dict[NotifyType, float] = {
    "wecom": 60.0, "dingtalk": 600.0, "feishu": 60.0, "webhook": 60.0,
}
_RATE_CODES = {"wecom": {45009}, "dingtalk": {130101, 130102}, "feishu": {11232}}


@dataclass(frozen=True, slots=True)
class Request:
    url: str
    body: dict[str, Any]


def dingtalk_sign(secret: str, timestamp_ms: int) -> str:
    digest = hmac.new(secret.encode(), f"{timestamp_ms}\n{secret}".encode(), hashlib.sha256)
    return urllib.parse.quote_plus(base64.b64encode(digest.digest()).decode())


def feishu_sign(secret: str, timestamp_s: int) -> str:
    digest = hmac.new(f"{timestamp_s}\n{secret}".encode(), b"", hashlib.sha256)
    return base64.b64encode(digest.digest()).decode()


def build_request(
    channel: NotifyChannel, title: str, text: str, *, entries: list[dict[str, Any]] | None = None,
    now: float | None = None,
) -> Request:
    """The robot's request for one message (signed when the channel has a secret)."""
    now = time.time() if now is None else now
    url = channel.url.reveal()
    secret = channel.secret.reveal() if channel.secret is not None else None
    if channel.type == "wecom":
        return Request(url, {"msgtype": "markdown", "markdown": {"content": text}})
    if channel.type == "dingtalk":
        if secret:
            ts = int(now * 1000)
            joiner = "&" if "?" in url else "?"
            url = f"{url}{joiner}timestamp={ts}&sign={dingtalk_sign(secret, ts)}"
        return Request(url, {"msgtype": "markdown", "markdown": {"title": title, "text": text}})
    if channel.type == "feishu":
        body: dict[str, Any] = {"msg_type": "text", "content": {"text": text}}
        if secret:
            ts = int(now)
            body.update(timestamp=str(ts), sign=feishu_sign(secret, ts))
        return Request(url, body)
    return Request(url, {"title": title, "text": text, "entries": entries or []})


def check_answer(
    channel: NotifyChannel, status: int, answer: object, *, now: float | None = None
) -> None:
    """Raise unless the robot took the message (status and the answer's JSON, if any)."""
    now = time.time() if now is None else now
    code: int | None = None
    message = ""
    if isinstance(answer, dict):
        raw = answer.get("errcode", answer.get("code", answer.get("StatusCode")))
        code = raw if isinstance(raw, int) and not isinstance(raw, bool) else None
        message = str(answer.get("errmsg", answer.get("msg", answer.get("StatusMessage", ""))))
    if status == 429 or (code is not None and code in _RATE_CODES.get(channel.type, set())):
        raise NotifyRateLimitedError(
            f"{channel.type} robot rate limit: {message or status}", channel=channel.name,
            code=code, retry_at=now + THROTTLED_SECONDS[channel.type],
        )
    if not 200 <= status < 300:
        raise NotifyError(f"{channel.type} answered HTTP {status}: {message}"[:300],
                          channel=channel.name, code=code, http_status=status)
    if channel.type == "webhook":
        return
    if code is None:
        raise NotifyError(f"{channel.type} answered without an error code", channel=channel.name,
                          http_status=status)
    if code != 0:
        raise NotifyError(f"{channel.type} refused the message: {code} {message}"[:300],
                          channel=channel.name, code=code, http_status=status)


def secrets_of(channel: NotifyChannel) -> list[str]:
    """Every part of a channel that must never be logged: the URL, its query values and last
    path segment (WeCom's key, DingTalk's access_token, Feishu's hook token), the secret."""
    url = channel.url.reveal()
    parts = urllib.parse.urlsplit(url)
    found = [url, parts.path.rsplit("/", 1)[-1]]
    found += [value for _, value in urllib.parse.parse_qsl(parts.query)]
    if channel.secret is not None:
        found.append(channel.secret.reveal())
    return [s for s in found if len(s) >= 6]
