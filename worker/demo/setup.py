"""What the demo runs: ``config.example.yaml``'s rules and account names, and the config it
writes for the daemon (those rules plus its own wave rule, the accounts pointing at the
sandbox, secrets only as ``${VARIABLE}`` references the daemon's environment fills)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import yaml

from worker.config import load_config
from worker.demo import data as demo_data
from worker.errors import ConfigError, ModworkerError
from worker.rules import load_rules
from worker.waves.wave_rules import wave_rules

KEY_PREFIX = "mw"
WECHAT_SECRET_VARIABLE = "MODWORKER_DEMO_WECHAT_SECRET"
WEIBO_TOKEN_VARIABLE = "MODWORKER_DEMO_WEIBO_TOKEN"
ROBOT_SECRET_VARIABLE = "MODWORKER_DEMO_DINGTALK_SECRET"
ROBOT_TOKEN = "demo-dingtalk-robot-token-0001"  # a sandbox robot, like the sandbox's secrets
ROBOT_SECRET = "SECdemo-dingtalk-robot-secret-0001"
#: The daemon's environment: the values of the ``${...}`` references in the config.
DAEMON_SECRETS = {
    ROBOT_SECRET_VARIABLE: ROBOT_SECRET,
    WECHAT_SECRET_VARIABLE: demo_data.APP_SECRET,
    WEIBO_TOKEN_VARIABLE: demo_data.WEIBO_TOKEN,
}
#: The demo's own rule (beside the example rules): copy-paste waves, told to the moderators'
#: DingTalk robot in the sandbox.
WAVE_RULES = wave_rules(
    at_least=5, within="1h", min_letters=10, notify="moderators", burst_at_least=None,
    description="the same advertisement from five or more accounts within an hour",
)
WAVE_RULE = "copy-paste-wave"


class DemoError(ModworkerError):
    """A reason the demo cannot go on, printed as is (with a log tail where there is one)."""


def example_config_path() -> Path:
    """``config.example.yaml`` next to the ``worker`` package (a clone or an editable
    install), else in the current directory; DemoError if neither has one."""
    package_parent = Path(__file__).resolve().parent.parent.parent
    candidates = [package_parent / "config.example.yaml", Path.cwd() / "config.example.yaml"]
    for candidate in candidates:
        if candidate.is_file():
            return candidate
    raise DemoError(
        "config.example.yaml not found (looked in "
        + " and ".join(str(c.parent) for c in candidates)
        + "): run the demo from a clone of the repository, e.g. `make demo`"
    )


@dataclass(frozen=True)
class ExampleSetup:
    """What the demo takes from ``config.example.yaml``: its rule paths and account names."""

    path: Path
    rules: tuple[Path, ...]
    rule_ids: tuple[str, ...]
    rule_actions: dict[str, str]
    wechat_account: str
    weibo_account: str


def load_example(path: Path) -> ExampleSetup:
    try:
        config = load_config(path, require_secrets=False)
    except ConfigError as exc:
        problems = "\n".join(f"  {p}" for p in exc.problems)
        raise DemoError(f"{path} is not a valid config:\n{problems}") from exc
    missing = [str(p) for p in config.rules if not p.exists()]
    if missing:
        raise DemoError(f"the rules of {path} are missing: {', '.join(missing)}")
    names = {"wechat": "main-oa", "weibo": "brand-weibo"}
    for account in reversed(config.accounts):  # the first of each platform wins
        names[account.platform] = account.name
    try:
        rules = load_rules(config.rules, accounts={names["wechat"]: "wechat",
                                                   names["weibo"]: "weibo"},
                           normalize=config.normalize)
    except ConfigError as exc:
        problems = "\n".join(f"  {p}" for p in exc.problems)
        raise DemoError(f"the example rules do not load (`modworker check -c {path}`):\n"
                        f"{problems}") from exc
    actions = {
        rule.id: ", ".join(a.type for a in rule.then) + (" (shadow)" if rule.mode == "shadow"
                                                         else "")
        for rule in rules.rules
    }
    return ExampleSetup(path=path, rules=config.rules, rule_ids=tuple(r.id for r in rules.rules),
                        rule_actions=actions, wechat_account=names["wechat"],
                        weibo_account=names["weibo"])


def write_demo_config(workdir: Path, example: ExampleSetup, sandbox_url: str) -> Path:
    """``workdir/config.yaml``: the example's rules and the wave rule, both accounts against
    the sandbox at ``sandbox_url``, the embedded Redis under ``workdir/var``."""
    url = sandbox_url
    config = {
        "redis": {"url": None, "key_prefix": KEY_PREFIX},
        "state_dir": str(workdir / "var"),
        "dry_run": False,
        "rules": [*(str(p) for p in example.rules), str(_write_wave_rules(workdir))],
        "polling": {"interval": "2s", "jitter": 0.1, "page_size": 49},
        "actions": {"max_retries": 8, "min_backoff": "200ms", "max_backoff": "2s",
                    "batch_max_wait": "1s"},
        "notify": {
            "interval": "3s",
            "moderators": {
                "type": "dingtalk",
                "url": f"{url}/robot/send?access_token={ROBOT_TOKEN}",
                "secret": "${" + ROBOT_SECRET_VARIABLE + "}",
            },
        },
        "accounts": [
            {"name": example.wechat_account, "platform": "wechat",
             "app_id": demo_data.APP_ID, "app_secret": "${" + WECHAT_SECRET_VARIABLE + "}",
             "token": "stable", "api_base": url,
             "targets": [{"msg_data_id": m, "index": i} for m, i in demo_data.ARTICLES]},
            # no targets: the whole account is listed (comments/to_me/biz), new posts too
            {"name": example.weibo_account, "platform": "weibo",
             "access_token": "${" + WEIBO_TOKEN_VARIABLE + "}", "api_base": url,
             "listing": "account"},
        ],
    }
    path = workdir / "config.yaml"
    header = "# written by `modworker demo`: the example rules against the local sandbox\n"
    path.write_text(header + yaml.safe_dump(config, sort_keys=False, allow_unicode=True),
                    encoding="utf-8")
    return path


def _write_wave_rules(workdir: Path) -> Path:
    path = workdir / "demo-rules" / "waves.yaml"
    path.parent.mkdir(exist_ok=True)
    path.write_text(WAVE_RULES, encoding="utf-8")
    return path
