"""One WeChat account on the sandbox with a spam rule, as a WorkerRuntime of the real actors."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from worker.config import AccountConfig, ActionsConfig, Config, Secret, WechatTarget
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


def write_rules(tmp_path: Path) -> Path:
    """:data:`RULES` in a file under ``tmp_path``, for a config's ``rules``."""
    rules = tmp_path / "rules.yaml"
    rules.write_text(RULES, encoding="utf-8")
    return rules


@contextmanager
def wechat_sandbox() -> Iterator[Sandbox]:
    """A sandbox on a free loopback port with the app and article of account ``oa``."""
    with Sandbox(port=0) as sandbox:
        sandbox.add_wechat_app(app_id=APP, app_secret=SECRET)
        sandbox.add_article(APP, msg_data_id=ARTICLE, index=0)
        yield sandbox


@contextmanager
def wechat_runtime(
    tmp_path: Path, sandbox: Sandbox, redis_url: str, *, actions: ActionsConfig | None = None
) -> Iterator[WorkerRuntime]:
    """The runtime of account ``oa`` (article :data:`ARTICLE`)."""
    account = AccountConfig(
        name="oa", platform="wechat", app_id=APP, app_secret=Secret(SECRET),
        api_base=sandbox.url, targets=(WechatTarget(msg_data_id=ARTICLE),),
    )
    config = Config(rules=(write_rules(tmp_path),), actions=actions or ActionsConfig(),
                    accounts=(account,))
    rt = WorkerRuntime(config=config, redis_url=redis_url)
    try:
        yield rt
    finally:
        rt.close()
