"""One WeChat account on the sandbox with a spam rule (or a test's own rules), as the
WorkerRuntime of the real actors; tests/pipeline/conftest.py makes them fixtures."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from worker.config import (
    AccountConfig,
    ActionsConfig,
    Config,
    NotifyConfig,
    Secret,
    WechatTarget,
)
from worker.pipeline.runtime import WorkerRuntime
from worker.sandbox import Sandbox

APP = "wxactorstest"
SECRET = "actors-test-secret"
ARTICLE = 500
TARGET = f"{ARTICLE}:0"

RULES = """\
version: 1
rules:
  - id: spam
    platforms: [wechat]
    when:
      content:
        includes: [加v]
    then: [delete, blacklist]
"""


def write_rules(tmp_path: Path, rules: str = RULES) -> Path:
    """``rules`` (:data:`RULES` unless told) in a file under ``tmp_path``, for a config."""
    path = tmp_path / "rules.yaml"
    path.write_text(rules, encoding="utf-8")
    return path


@contextmanager
def wechat_sandbox() -> Iterator[Sandbox]:
    """A sandbox on a free loopback port with the app and article of account ``oa``."""
    with Sandbox(port=0) as sandbox:
        sandbox.add_wechat_app(app_id=APP, app_secret=SECRET)
        sandbox.add_article(APP, msg_data_id=ARTICLE, index=0)
        yield sandbox


@contextmanager
def wechat_runtime(
    tmp_path: Path, sandbox: Sandbox, redis_url: str, *, rules: str = RULES,
    actions: ActionsConfig | None = None, notify: NotifyConfig | None = None,
    dry_run: bool = False,
) -> Iterator[WorkerRuntime]:
    """The runtime of account ``oa`` (article :data:`ARTICLE`) with ``rules``."""
    account = AccountConfig(
        name="oa", platform="wechat", app_id=APP, app_secret=Secret(SECRET),
        api_base=sandbox.url, targets=(WechatTarget(msg_data_id=ARTICLE),),
    )
    config = Config(rules=(write_rules(tmp_path, rules),), actions=actions or ActionsConfig(),
                    notify=notify or NotifyConfig(), dry_run=dry_run, accounts=(account,))
    rt = WorkerRuntime(config=config, redis_url=redis_url)
    try:
        yield rt
    finally:
        rt.close()
