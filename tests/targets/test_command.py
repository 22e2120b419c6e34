"""``modworker targets``'s core on a real Redis: add, remove, list, located errors."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import pytest
import redis

from worker.commands.targets import (
    add_targets,
    cmd_targets,
    find_account,
    list_rows,
    remove_targets,
)
from worker.config import Config, load_config_text
from worker.errors import InputError
from worker.pipeline.freshness import Freshness
from worker.pipeline.keys import Keys, target_key
from worker.pipeline.seen import SeenComments
from worker.redis_server import EmbeddedRedis
from worker.targets.book import PollBook
from worker.targets.policy import PollPolicy, Temperature

LINK = "https://mp.weixin.qq.com/s?__biz=MzA==&mid=2650000123&idx=2&sn=abc"


def config_text(redis_url: str) -> str:
    return (
        f"redis: {{url: '{redis_url}'}}\n"
        "accounts:\n"
        "  - {name: oa, platform: wechat, app_id: wx1, app_secret: s,\n"
        "     targets: [{msg_data_id: 100}]}\n"
        "  - {name: wb, platform: weibo, access_token: t}\n"
    )


@pytest.fixture
def config(redis_client: redis.Redis, redis_server: EmbeddedRedis) -> Config:
    return load_config_text(config_text(redis_server.url), environ={})


def test_add_list_remove(redis_client: redis.Redis, config: Config) -> None:
    oa = find_account(config, "oa", filename="config.yaml")
    assert add_targets(redis_client, config, oa, [LINK, "300:1"], now=1000.0) == [
        "2650000123:1", "300:1",
    ]
    rows = list_rows(redis_client, config, "oa")
    assert [(r["target"], r["source"], r["state"]) for r in rows] == [
        ("100:0", "config", "hot"), ("2650000123:1", "added", "hot"), ("300:1", "added", "hot"),
    ]
    assert rows[1]["next_poll"] == 1000.0  # due at once
    assert remove_targets(redis_client, config, oa, ["100", "300:1"], now=1001.0) == [
        "100:0", "300:1",
    ]
    states = {r["target"]: r["state"] for r in list_rows(redis_client, config)}
    assert states == {"100:0": "removed", "2650000123:1": "hot", "300:1": "removed",
                      "account listing": "hot"}


def test_add_revives_retired_and_gone_targets(redis_client: redis.Redis, config: Config) -> None:
    keys = Keys(prefix="mw")
    tkey = target_key(platform="wechat", account="oa", target="100:0")
    book = PollBook(redis=redis_client, keys=keys)
    book.set_temperature(tkey, Temperature(interval=1800, last_new=0, retired=True))
    book.polled(tkey, Temperature(interval=1800, last_new=0, retired=True))
    Freshness(redis=redis_client, keys=keys).poll_succeeded(
        account="oa", platform="wechat", target="100:0", new_comments=7, at=50.0)
    assert list_rows(redis_client, config, "oa")[0]["state"] == "retired"
    SeenComments(redis=redis_client, keys=keys).mark_target_gone(tkey, "88001: gone")
    assert list_rows(redis_client, config, "oa")[0]["state"] == "gone"
    add_targets(redis_client, config, find_account(config, "oa", filename="c"), ["100"],
                now=99.0)
    row = list_rows(redis_client, config, "oa")[0]
    assert (row["state"], row["comments_seen"], row["last_poll"]) == ("hot", 7, 50.0)
    assert book.status(tkey).temperature == Temperature(
        interval=PollPolicy().interval, last_new=99.0
    )


def test_bad_input_is_located(config: Config) -> None:
    with pytest.raises(InputError, match=r"config.yaml: no account 'nope' \(accounts: oa, wb\)"):
        find_account(config, "nope", filename="config.yaml")


def run(tmp_path: Path, redis_url: str, *argv: str) -> int:
    path = tmp_path / "config.yaml"
    path.write_text(config_text(redis_url), encoding="utf-8")
    (tmp_path / "rules").mkdir(exist_ok=True)
    parser = argparse.Namespace(verb=argv[0], config=str(path), account=None, json=False,
                                targets=[])
    rest = list(argv[1:])
    if rest[:1] == ["--account"]:
        parser.account = rest[1]
        rest = rest[2:]
    parser.targets = rest
    return cmd_targets(parser)


@pytest.mark.parametrize(
    ("argv", "needle"),
    [
        (("add", "--account", "nope", "1"), "no account 'nope'"),
        (("add", "--account", "oa", "https://mp.weixin.qq.com/s/AbC"), "short links"),
        (("add", "--account", "oa", "12:x"), "MSG_DATA_ID[:INDEX]"),
        (("add", "--account", "wb", "12:0"), "a Weibo target is a status id"),
        (("add", "--account", "wb", LINK), "WeChat article"),
        (("add", "--account", "oa", "4890123456789012"), "looks like a Weibo status id"),
        (("add", "1"), "needs --account"),
        (("remove", "--account", "oa"), "at least one TARGET"),
    ],
)
def test_cli_errors_exit_2_with_a_located_message(
    tmp_path: Path, redis_client: redis.Redis, redis_server: EmbeddedRedis,
    capsys: pytest.CaptureFixture[str], argv: tuple[str, ...], needle: str,
) -> None:
    assert run(tmp_path, redis_server.url, *argv) == 2
    assert needle in capsys.readouterr().err


def test_cli_list_prints_json_lines_off_a_terminal(
    tmp_path: Path, redis_client: redis.Redis, redis_server: EmbeddedRedis,
    capsys: pytest.CaptureFixture[str],
) -> None:
    url = redis_server.url
    assert run(tmp_path, url, "add", "--account", "wb", "4890123456789012") == 0
    assert "wb: watching 4890123456789012" in capsys.readouterr().out
    assert run(tmp_path, url, "list") == 0
    lines = [json.loads(x) for x in capsys.readouterr().out.splitlines()]
    assert {(r["account"], r["target"], r["source"]) for r in lines} == {
        ("oa", "100:0", "config"), ("wb", "account listing", "config"),
        ("wb", "4890123456789012", "added"),
    }


def test_budget_rows_for_stats(redis_client: redis.Redis, config: Config) -> None:
    import io

    from worker.commands.targets import budget_rows, write_budgets
    from worker.targets.budget import Budget

    assert budget_rows(redis_client, config) == []
    book = PollBook(redis=redis_client, keys=Keys(prefix="mw"))
    book.set_budget("oa", Budget(limit=1000, used=200, measured_at=0.0, reset_at=36000.0,
                                 share=0.5), now=0.0)
    book.spend("oa", 30)
    (row,) = budget_rows(redis_client, config)
    assert (row["account"], row["limit"], row["used"]) == ("oa", 1000, 200)
    assert row["polled_in_window"] == 30 and row["poll_calls_left"] == 370
    assert row["per_hour"] == 40.0
    out = io.StringIO()
    write_budgets([row], out)
    assert "oa: 200 of 1000 calls of the quota window used" in out.getvalue()
    assert "30 polls, 370 more allowed" in out.getvalue()
