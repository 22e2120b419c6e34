"""`modworker unblacklist` lifts a blacklisting on the platform and in modworker's memory."""

from __future__ import annotations

from pathlib import Path

import pytest
import redis

from worker.cli import main
from worker.pipeline.batches import BatchBuffer
from worker.pipeline.keys import Keys
from worker.redis_server import EmbeddedRedis
from worker.sandbox import Sandbox


def _sandbox_config(tmp_path: Path, redis_server: EmbeddedRedis, sandbox: Sandbox,
                    monkeypatch: pytest.MonkeyPatch) -> Path:
    """A config of one WeChat account ``oa`` on the sandbox's ``wxrecover`` app."""
    (tmp_path / "rules").mkdir()
    config = tmp_path / "config.yaml"
    config.write_text(
        f"redis: {{url: '{redis_server.url}'}}\n"
        "rules: [rules/]\n"
        "accounts:\n"
        "  - {name: oa, platform: wechat, app_id: wxrecover, app_secret: '${S}',\n"
        f"     api_base: '{sandbox.url}'}}\n",
        encoding="utf-8",
    )
    monkeypatch.setenv("S", "recover-secret-1")
    return config


def test_unblacklist_undoes_the_platform_and_the_memory(
    tmp_path: Path, redis_server: EmbeddedRedis, redis_client: redis.Redis,
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str],
) -> None:
    with Sandbox(port=0) as sandbox:
        sandbox.add_wechat_app(app_id="wxrecover", app_secret="recover-secret-1")
        sandbox.add_follower("wxrecover", "oBad1", "oBad2")
        sandbox.blacklist_openids("wxrecover", "oBad1", "oBad2")
        buffer = BatchBuffer(redis=redis_client, platform="wechat", account="oa",
                             kind="blacklist", keys=Keys(prefix="mw"))
        assert buffer.add("oBad1")
        batch = buffer.claim(force=True, owner="t")
        assert batch is not None
        buffer.complete(batch.batch_id, ["oBad1"], [], owner="t")
        assert not buffer.add("oBad1")  # remembered: never blacklisted twice

        config = _sandbox_config(tmp_path, redis_server, sandbox, monkeypatch)
        assert main(["unblacklist", "-c", str(config), "--account", "oa", "oBad1"]) == 0
        assert "unblacklisted oBad1" in capsys.readouterr().out
        assert sandbox.blacklist("wxrecover") == ["oBad2"]
        assert buffer.add("oBad1")  # may be blacklisted again after a new offense


def test_unblacklist_never_prints_the_redis_password(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str],
) -> None:
    (tmp_path / "rules").mkdir()
    config = tmp_path / "config.yaml"
    config.write_text(
        "redis: {url: '${REDIS_URL}'}\n"
        "rules: [rules/]\n"
        "accounts:\n"
        "  - {name: oa, platform: wechat, app_id: wxrecover, app_secret: 'x-secret-1',\n"
        "     api_base: 'http://127.0.0.1:9'}\n",
        encoding="utf-8",
    )
    monkeypatch.setenv("REDIS_URL", "redis://:hunter2-redis-pw@127.0.0.1:1/0")  # nothing there
    assert main(["unblacklist", "-c", str(config), "--account", "oa", "oBad1"]) == 3
    captured = capsys.readouterr()
    assert "cannot reach Redis at redis://***@127.0.0.1:1/0" in captured.err
    assert "hunter2" not in captured.err + captured.out


def test_an_unknown_account_or_an_unset_secret_is_exit_1_before_redis(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str],
) -> None:
    (tmp_path / "rules").mkdir()
    config = tmp_path / "config.yaml"
    config.write_text(
        "redis: {url: 'redis://127.0.0.1:1/0'}\n"  # nothing there: never reached
        "rules: [rules/]\n"
        "accounts:\n"
        "  - {name: oa, platform: wechat, app_id: wxrecover, app_secret: '${UNBL_SECRET_X}'}\n",
        encoding="utf-8",
    )
    monkeypatch.setenv("UNBL_SECRET_X", "x-secret-1")
    assert main(["unblacklist", "-c", str(config), "--account", "nobody", "oBad1"]) == 1
    assert f"error: no account named 'nobody' in {config}" in capsys.readouterr().err
    monkeypatch.delenv("UNBL_SECRET_X")  # the secret is needed: the platform is called
    assert main(["unblacklist", "-c", str(config), "--account", "oa", "oBad1"]) == 1
    assert "UNBL_SECRET_X" in capsys.readouterr().err


def test_a_redis_error_while_unblacklisting_is_exit_3_and_says_what_failed(
    tmp_path: Path, redis_server: EmbeddedRedis, redis_client: redis.Redis,
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str],
) -> None:
    with Sandbox(port=0) as sandbox:
        sandbox.add_wechat_app(app_id="wxrecover", app_secret="recover-secret-1")
        sandbox.add_follower("wxrecover", "oBad1")
        sandbox.blacklist_openids("wxrecover", "oBad1")
        buffer = BatchBuffer(redis=redis_client, platform="wechat", account="oa",
                             kind="blacklist", keys=Keys(prefix="mw"))
        redis_client.set(buffer.keys.done, "not a sorted set")  # forgetting answers WRONGTYPE
        config = _sandbox_config(tmp_path, redis_server, sandbox, monkeypatch)
        assert main(["unblacklist", "-c", str(config), "--account", "oa", "oBad1"]) == 3
        err = capsys.readouterr().err
        assert "error: unblacklisting failed:" in err and "WRONGTYPE" in err
        assert sandbox.blacklist("wxrecover") == []  # the platform call itself went through
