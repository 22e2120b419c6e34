"""The sandbox endpoints targets that manage themselves use: datacube/getarticlesummary,
openapi/quota/get, comments/to_me/biz and the publish admin call, over loopback HTTP."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from typing import Any

import httpx
import pytest

from worker.sandbox import Sandbox

APP = "wx0123456789abcdef"
SECRET = "sandbox-secret"
WB_TOKEN = "2.00sandboxtoken"
WB_UID = 1404376560
CHINA = timezone(timedelta(hours=8))
NOW = datetime(2026, 3, 10, 12, 0, tzinfo=CHINA).timestamp()


@pytest.fixture
def sb() -> Iterator[Sandbox]:
    sandbox = Sandbox(seed=7, clock=lambda: NOW)
    sandbox.add_wechat_app(app_id=APP, app_secret=SECRET)
    with sandbox:
        yield sandbox


@pytest.fixture
def http(sb: Sandbox) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=sb.url, timeout=10) as client:
        yield client


def _token(http: httpx.Client) -> str:
    params = {"grant_type": "client_credential", "appid": APP, "secret": SECRET}
    return str(http.get("/cgi-bin/token", params=params).json()["access_token"])


def _post(http: httpx.Client, path: str, body: Any, token: str) -> dict[str, Any]:
    answer = http.post(path, params={"access_token": token}, content=json.dumps(body).encode())
    assert answer.status_code == 200
    result: dict[str, Any] = answer.json()
    return result


def summary(http: httpx.Client, token: str, begin: str, end: str | None = None) -> dict[str, Any]:
    body = {"begin_date": begin, "end_date": end or begin}
    return _post(http, "/datacube/getarticlesummary", body, token)


def test_article_summary_lists_mass_sent_articles_of_one_day(
    sb: Sandbox, http: httpx.Client
) -> None:
    yesterday = NOW - 86_400
    sb.publish_articles(APP, msg_data_id=5001, count=3, at=yesterday, title="news")
    sb.publish_articles(APP, msg_data_id=5002, at=NOW - 3 * 86_400)
    sb.publish_articles(APP, msg_data_id=5003, at=NOW)  # today: not listed before tomorrow
    sb.add_article(APP, msg_data_id=5004)  # never mass-sent
    token = _token(http)
    listed = summary(http, token, "2026-03-09")["list"]
    assert [item["msgid"] for item in listed] == ["5001_1", "5001_2", "5001_3"]
    assert listed[0]["ref_date"] == "2026-03-09" and listed[0]["title"] == "news #1"
    assert [i["msgid"] for i in summary(http, token, "2026-03-07")["list"]] == ["5002_1"]
    assert summary(http, token, "2026-03-08")["list"] == []
    sb.advance_time(86_400)
    token = _token(http)  # the first one expired
    assert [i["msgid"] for i in summary(http, token, "2026-03-10")["list"]] == ["5003_1"]


@pytest.mark.parametrize(
    ("begin", "end", "code"),
    [
        ("2026/03/09", "2026/03/09", 61500),
        ("2026-02-30", "2026-02-30", 61500),
        ("", "", 61500),
        ("2026-03-08", "2026-03-09", 61501),  # the span is one day
        ("2026-03-10", "2026-03-10", 61501),  # today: end_date is at most yesterday
        ("2026-03-11", "2026-03-11", 61501),
    ],
)
def test_article_summary_date_errors(
    http: httpx.Client, begin: str, end: str, code: int
) -> None:
    assert summary(http, _token(http), begin, end)["errcode"] == code


def test_quota_get_reports_limit_and_use(sb: Sandbox, http: httpx.Client) -> None:
    sb.add_article(APP, msg_data_id=7001)
    token = _token(http)
    sb.faults.quota = {"comment/list": 5}
    body = {"msg_data_id": 7001, "index": 0, "begin": 0, "count": 10, "type": 0}
    for _ in range(2):
        assert _post(http, "/cgi-bin/comment/list", body, token)["errcode"] == 0
    quota = _post(http, "/cgi-bin/openapi/quota/get", {"cgi_path": "/cgi-bin/comment/list"},
                  token)
    assert quota["errcode"] == 0
    assert quota["quota"] == {"daily_limit": 5, "used": 2, "remain": 3}
    other = _post(http, "/cgi-bin/openapi/quota/get", {"cgi_path": "/cgi-bin/comment/delete"},
                  token)["quota"]
    assert other["used"] == 0 and other["daily_limit"] == other["remain"] > 5
    unknown = {"cgi_path": "/cgi-bin/nope"}
    assert _post(http, "/cgi-bin/openapi/quota/get", unknown, token)["errcode"] == 76021
    assert _post(http, "/cgi-bin/openapi/quota/get", {}, token)["errcode"] == 47001
    sb.advance_time(86_400)  # a new day in China: the use starts again
    token = _token(http)
    fresh = _post(http, "/cgi-bin/openapi/quota/get", {"cgi_path": "/cgi-bin/comment/list"},
                  token)["quota"]
    assert fresh == {"daily_limit": 5, "used": 0, "remain": 5}


def test_publish_admin_call(sb: Sandbox, http: httpx.Client) -> None:
    answer = http.post("/_sandbox/wechat/publish",
                       json={"app_id": APP, "msg_data_id": 9001, "count": 2}).json()
    assert answer["articles"] == [{"msg_data_id": 9001, "index": 0},
                                  {"msg_data_id": 9001, "index": 1}]
    assert sb.article_state(APP, 9001, 1)["mass_sent_at"] == NOW
    bad = http.post("/_sandbox/wechat/publish", json={"app_id": APP, "msg_data_id": 1, "count": 0})
    assert bad.status_code == 400


def to_me(http: httpx.Client, **params: Any) -> dict[str, Any]:
    answer = http.get("/2/comments/to_me/biz.json", params={"access_token": WB_TOKEN, **params})
    assert answer.status_code == 200, answer.text
    result: dict[str, Any] = answer.json()
    return result


def test_to_me_lists_comments_on_every_own_post(sb: Sandbox, http: httpx.Client) -> None:
    sb.add_weibo_token(access_token=WB_TOKEN, uid=WB_UID, screen_name="brand")
    sb.add_weibo_token(access_token="2.00other", uid=555, screen_name="other")
    for status in (101, 102, 103):
        sb.add_weibo_post(WB_TOKEN, status_id=status)
    sb.add_weibo_post("2.00other", status_id=200)
    ids = []
    for i in range(6):
        ids.append(sb.add_weibo_comment(101 + i % 3, text=f"c{i}", uid=900 + i,
                                        created_at=NOW + i))
    foreign = sb.add_weibo_comment(200, text="not ours", uid=901, created_at=NOW + 10)
    first = to_me(http, count=4)
    assert [c["id"] for c in first["comments"]] == ids[::-1][:4]
    assert foreign not in [c["id"] for c in first["comments"]]
    assert [c["status"]["id"] for c in first["comments"]] == [103, 102, 101, 103]
    older = to_me(http, count=4, max_id=first["next_cursor"])
    assert [c["id"] for c in older["comments"]] == [ids[1], ids[0]]
    assert [c["id"] for c in to_me(http, since_id=ids[3])["comments"]] == [ids[5], ids[4]]
    sb.delete_weibo_post(103)
    assert {c["status"]["id"] for c in to_me(http)["comments"]} == {101, 102}
