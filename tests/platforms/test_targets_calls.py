"""The calls targets that manage themselves make, against the sandbox: datacube discovery,
the quota query, and Weibo's whole-account listing."""

from __future__ import annotations

from datetime import datetime, timedelta

from worker.errors import PermanentError
from worker.platforms import WechatClient, WeiboClient
from worker.sandbox import Sandbox
from worker.targets.discovery import CHINA, discover

from .conftest import APP_ID, WEIBO_UID


def test_article_summary_and_discovery(sb: Sandbox, wechat: WechatClient) -> None:
    now = sb.now()
    sb.publish_articles(APP_ID, msg_data_id=51, count=2, at=now - 86400)
    sb.publish_articles(APP_ID, msg_data_id=52, at=now - 10 * 86400)  # outside a 3-day window
    sb.publish_articles(APP_ID, msg_data_id=53, at=now)  # today: datacube cannot tell yet
    yesterday = (datetime.fromtimestamp(now, CHINA) - timedelta(days=1)).date().isoformat()
    assert [i["msgid"] for i in wechat.article_summary(yesterday)] == ["51_1", "51_2"]
    assert set(discover(wechat.article_summary, now=now, window=3 * 86400)) == {"51:0", "51:1"}
    today = datetime.fromtimestamp(now, CHINA).date().isoformat()
    try:
        wechat.article_summary(today)
    except PermanentError as exc:
        assert exc.code == 61501
    else:
        raise AssertionError("today is refused (end_date is at most yesterday)")


def test_api_quota(sb: Sandbox, wechat: WechatClient) -> None:
    sb.faults.quota = {"comment/list": 30}
    wechat.list_comments(f"{sb_article(sb)}:0")
    limit, used = wechat.api_quota("/cgi-bin/comment/list")
    assert (limit, used) == (30, 1)


def sb_article(sb: Sandbox) -> int:
    sb.add_article(APP_ID, msg_data_id=61)
    return 61


def test_to_me_pages_back_while_pages_are_all_new(sb: Sandbox, weibo: WeiboClient) -> None:
    for status in (11, 12, 13):
        sb.add_weibo_post(WEIBO_UID, status_id=status)
    ids = [sb.add_weibo_comment(11 + i % 3, text=f"c{i}", uid=900 + i) for i in range(25)]
    pages = list(weibo.iter_comments_to_me(since_id=None, count=10))
    listed = [int(c.id) for page in pages for c in page.comments]
    assert sorted(listed) == ids  # no gap, none twice
    assert len(pages) == 3
    first = pages[0].comments[0]
    assert first.target == str(11 + 24 % 3) and first.account == weibo.name
    newer = [sb.add_weibo_comment(12, text="n", uid=1) for _ in range(3)]
    again = [int(c.id) for p in weibo.iter_comments_to_me(since_id=max(ids), count=10)
             for c in p.comments]
    assert sorted(again) == newer
