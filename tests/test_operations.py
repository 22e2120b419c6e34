"""`modworker health` and `modworker tokens drop`, on a real Redis and the sandbox."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis

from worker.cli import main
from worker.config import QuotaConfig, load_config
from worker.errors import PermanentError
from worker.health import LocalState, write_beat
from worker.pipeline.freshness import Freshness
from worker.pipeline.keys import Keys
from worker.platforms import WechatClient, make_client
from worker.redis_server import EmbeddedRedis
from worker.sandbox import Sandbox

APP_ID = "wx0123456789abcdef"
APP_SECRET = "app-secret-0f1e2d3c4b5a69788796"
MSG = 2247483650


@pytest.fixture
def sb() -> Iterator[Sandbox]:
    with Sandbox(seed=5) as sandbox:
        sandbox.add_wechat_app(app_id=APP_ID, app_secret=APP_SECRET)
        sandbox.add_article(APP_ID, msg_data_id=MSG, index=0)
        yield sandbox


def _config(tmp_path: Path, redis_url: str | None, api_base: str = "http://127.0.0.1:9") -> str:
    (tmp_path / "rules").mkdir(exist_ok=True)
    (tmp_path / "rules" / "r.yaml").write_text(
        "version: 1\nrules:\n  - id: r\n    when: {content: {includes: [x]}}\n"
        "    then: [delete]\n    tests: {match: [x], no_match: [y]}\n", encoding="utf-8")
    redis_line = f"redis: {{url: '{redis_url}'}}\n" if redis_url else ""
    config = tmp_path / "config.yaml"
    config.write_text(
        redis_line + "state_dir: ./var\nrules: [rules/]\naccounts:\n"
        f"  - name: main-oa\n    platform: wechat\n    app_id: {APP_ID}\n"
        f"    app_secret: ${{T_OPS_SECRET}}\n    api_base: {api_base}\n"
        f"    targets: [{{msg_data_id: {MSG}}}]\n"
        "  - name: brand\n    platform: weibo\n    access_token: ${T_OPS_TOKEN}\n",
        encoding="utf-8",
    )
    return str(config)


@pytest.fixture(autouse=True)
def _secrets(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("T_OPS_SECRET", APP_SECRET)
    monkeypatch.setenv("T_OPS_TOKEN", "2.00SomeWeiboToken_abcdef")


def test_health_exits_non_zero_until_a_daemon_reports_and_credentials_work(
    tmp_path: Path, redis_server: EmbeddedRedis, redis_client: redis.Redis,
    capsys: pytest.CaptureFixture[str],
) -> None:
    config = _config(tmp_path, redis_server.url)
    assert main(["health", "-c", config]) == 6
    report = json.loads(capsys.readouterr().out)
    assert report["status"] == "unhealthy"
    assert any(p.startswith("workers: no daemon reported") for p in report["problems"])
    keys = Keys()
    redis_client.set(keys.scheduler_lock(), "x", px=15_000)
    write_beat(redis_client, keys, LocalState(scheduler_alive=True, workers={0: True},
                                              started_at=0.0))
    assert main(["health", "--live", "-c", config]) == 0
    capsys.readouterr()
    assert main(["health", "-c", config]) == 6  # ready needs the credentials too
    assert "credentials: main-oa: not accepted yet" in capsys.readouterr().out
    fresh = Freshness(redis=redis_client, keys=keys)
    fresh.credentials_accepted("main-oa")
    fresh.credentials_accepted("brand")
    assert main(["health", "-c", config]) == 0
    assert json.loads(capsys.readouterr().out)["status"] == "ok"


def test_health_of_a_stopped_embedded_redis_is_exit_3(
    tmp_path: Path, capsys: pytest.CaptureFixture[str],
) -> None:
    assert main(["health", "-c", _config(tmp_path, None)]) == 3
    assert json.loads(capsys.readouterr().out)["problems"][0].startswith("redis: unreachable")
    assert not (tmp_path / "var").exists()  # nothing was started


def test_tokens_drop_makes_a_wrong_new_secret_show_at_once(
    tmp_path: Path, sb: Sandbox, redis_server: EmbeddedRedis, redis_client: redis.Redis,
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str],
) -> None:
    config_path = _config(tmp_path, redis_server.url, api_base=sb.url)

    def list_once() -> None:
        config = load_config(config_path)
        client = make_client(config.account("main-oa"), redis=redis_client,
                             quota=QuotaConfig(), key_prefix="mw")
        assert isinstance(client, WechatClient)
        try:
            client.list_comments(f"{MSG}:0", begin=0, count=1)
        finally:
            client.close()

    list_once()  # a token is fetched and cached
    monkeypatch.setenv("T_OPS_SECRET", "a-wrong-new-secret-000000000000")
    list_once()  # the cached token hides the wrong secret
    assert main(["tokens", "drop", "-c", config_path, "--account", "main-oa"]) == 0
    assert "dropped the cached access token" in capsys.readouterr().out
    with pytest.raises(PermanentError) as refused:
        list_once()
    assert refused.value.code == 40125  # invalid appsecret
    assert main(["tokens", "drop", "-c", config_path, "--account", "main-oa"]) == 0
    assert "nothing to drop" in capsys.readouterr().out
    assert main(["tokens", "drop", "-c", config_path, "--account", "brand"]) == 0
    assert "no cached access token" in capsys.readouterr().out
    assert main(["tokens", "drop", "-c", config_path, "--account", "nobody"]) == 1
