"""``modworker demo``: the whole pipeline on this machine, with no credentials and no Redis.

What it does, in order (everything under one temporary directory)::

    demo (this process)
    ├── python -m worker.sandbox --port 0 --seed-file seed.json   (both APIs on 127.0.0.1)
    └── python -m worker.cli run -c config.yaml --processes 2 --threads 4
        ├── embedded redis-server (unix socket under the temporary state_dir)
        └── 2 worker processes

1. start the sandbox as a process, seeded with comments from :mod:`worker.demo_data`;
2. write a config using ``config.example.yaml``'s rules (found next to the ``worker``
   package), the accounts' ``api_base`` pointing at the sandbox, secrets passed to the daemon
   in its environment only;
3. run the real daemon, its own process group, its JSON log in a file;
4. add a few waves of comments over the sandbox's admin API while it runs, printing what the
   daemon decides and does as it happens (read from the audit stream in its embedded Redis);
   midway, publish a WeChat mass send and a Weibo post: the articles are added with
   ``modworker targets add <link>`` as a publishing script would, the post is found by the
   Weibo account's whole-account listing, and both get comments;
5. after ``--duration`` seconds, once the work is done (or a grace period ran out), read the
   audit stream and rule counters, SIGTERM the daemon (it must exit 0), read the sandbox's call
   log and stop the sandbox;
6. print a summary: decisions, rule hits, actions by outcome, API calls by endpoint, batch
   sizes, example decisions and ``modworker targets list``.

Nothing it starts outlives it: a ``finally`` stops the daemon and the sandbox (SIGTERM, then
SIGKILL to their process groups), also on Ctrl-C, SIGTERM and errors. Every child carries
``MODWORKER_DEMO_DIR=<temporary directory>`` in its environment, so that a last sweep (and
the tests) can find any descendant by that mark, the embedded Redis included (it runs in its
own session and rewrites its command line).

Exit codes: 0 success; 1 the demo could not run (no ``config.example.yaml`` or rules, the
sandbox or the daemon did not start or did not stop cleanly: the message says which, with
the end of its log); 2 bad usage; 130 interrupted.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import unicodedata
from collections import Counter
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import FrameType
from typing import Any, TextIO

import httpx
import redis
import yaml

from worker import demo_data
from worker.config import load_config
from worker.demo_data import DemoComment, DemoData
from worker.errors import ConfigError
from worker.pipeline.audit import OUTCOMES, AuditLog
from worker.pipeline.keys import Keys
from worker.pipeline.rulestats import RuleStats
from worker.rules import load_rules

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_USAGE = 2
EXIT_INTERRUPTED = 130

KEY_PREFIX = "mw"
MARK_VARIABLE = "MODWORKER_DEMO_DIR"
WECHAT_SECRET_VARIABLE = "MODWORKER_DEMO_WECHAT_SECRET"
WEIBO_TOKEN_VARIABLE = "MODWORKER_DEMO_WEIBO_TOKEN"
ROBOT_SECRET_VARIABLE = "MODWORKER_DEMO_DINGTALK_SECRET"
ROBOT_TOKEN = "demo-dingtalk-robot-token-0001"  # a sandbox robot, like the sandbox's secrets
ROBOT_SECRET = "SECdemo-dingtalk-robot-secret-0001"
#: The demo's own rule (beside the example rules): copy-paste waves, told to the moderators'
#: DingTalk robot in the sandbox.
WAVE_RULES = """\
version: 1
rules:
  - id: copy-paste-wave
    description: the same advertisement from five or more accounts within an hour
    when:
      content:
        repeated: {at_least: 5, within: 1h}
        min_letters: 10
    then: [delete, {notify: moderators}]
"""
WAVE_RULE = "copy-paste-wave"

SANDBOX_START_TIMEOUT = 20.0
DAEMON_START_TIMEOUT = 40.0
DAEMON_STOP_TIMEOUT = 75.0  # above the daemon's 60 s for workers to finish their messages
SANDBOX_STOP_TIMEOUT = 10.0
GRACE = 15.0  # seconds past --duration to wait for work still in progress
TICK = 1.0
WAVE_GAP = 1.5  # seconds at least between two waves, however short --duration is
WAVES: tuple[tuple[float, int, bool], ...] = (
    # (fraction of --duration, new comments, with the abusers' comeback)
    (0.2, 20, False),
    (0.45, 20, True),
    (0.7, 20, False),
)
PUBLISH_AT = 0.55  # fraction of --duration: the mid-run mass send and post
ORDER = ("ok", "already_done", "dry_run", "failed", "deferred")
FINAL_OUTCOMES = frozenset({"ok", "already_done", "failed"})
_LISTENING = re.compile(r"sandbox listening on (http://127\.0\.0\.1:\d+)")
_UNIX_SOCKET_MAX = 100  # sun_path is 108 bytes on Linux, 104 on macOS


class DemoError(Exception):
    """A reason the demo cannot go on, printed as is (with a log tail where there is one)."""


class _Terminated(Exception):
    """SIGTERM arrived: unwind through the ``finally`` blocks like Ctrl-C does."""


def _say(out: TextIO, line: str = "") -> None:
    print(line, file=out, flush=True)


# -- locating the example config -----------------------------------------------------------

def example_config_path() -> Path:
    """``config.example.yaml`` next to the ``worker`` package (a clone or an editable
    install), else in the current directory; DemoError if neither has one."""
    package_parent = Path(__file__).resolve().parent.parent
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


# -- child processes -----------------------------------------------------------------------

@dataclass
class Child:
    """A process the demo started in its own session (so its process group is its pid)."""

    name: str
    process: subprocess.Popen[bytes]
    log_path: Path

    def alive(self) -> bool:
        return self.process.poll() is None

    def log_tail(self, lines: int = 30) -> str:
        try:
            text = self.log_path.read_text(encoding="utf-8", errors="replace")
        except OSError as exc:
            return f"(cannot read {self.log_path}: {exc})"
        return "\n".join(text.splitlines()[-lines:])

    def stop(self, timeout: float) -> int | None:
        """SIGTERM the leader, wait; SIGKILL the whole group if it does not exit in time.
        Returns the exit code of a clean stop, None if it had to be killed."""
        if self.alive():
            with contextlib.suppress(ProcessLookupError):
                self.process.send_signal(signal.SIGTERM)
            try:
                return self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                self.kill()
                return None
        self._kill_group()  # the leader is gone; stragglers of its group are not wanted
        return self.process.returncode

    def kill(self) -> None:
        self._kill_group()
        with contextlib.suppress(ProcessLookupError):
            self.process.kill()
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.process.wait(10)

    def _kill_group(self) -> None:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self.process.pid, signal.SIGKILL)


def _spawn(name: str, args: list[str], log_path: Path, env: Mapping[str, str],
           cwd: Path) -> Child:
    with log_path.open("ab") as handle:
        process = subprocess.Popen(
            args, stdin=subprocess.DEVNULL, stdout=handle, stderr=subprocess.STDOUT,
            env=dict(env), cwd=cwd, start_new_session=True,
        )
    return Child(name, process, log_path)


def marked_pids(mark: str) -> list[int]:
    """Processes whose environment holds ``MODWORKER_DEMO_DIR=<mark>`` (Linux ``/proc``; an
    empty list elsewhere). Every process the demo starts, and their children, carry it."""
    needle = f"{MARK_VARIABLE}={mark}".encode()
    found: list[int] = []
    proc = Path("/proc")
    if not proc.is_dir():
        return found
    for entry in proc.iterdir():
        if not entry.name.isdigit():
            continue
        try:
            environ = (entry / "environ").read_bytes()
        except OSError:
            continue  # gone meanwhile, or another user's
        if needle in environ.split(b"\0"):
            found.append(int(entry.name))
    return found


# -- the sandbox's admin API ---------------------------------------------------------------

class SandboxAdmin:
    def __init__(self, url: str) -> None:
        # trust_env=False: a proxy from the environment must never see loopback traffic.
        self._http = httpx.Client(base_url=url, timeout=10.0, trust_env=False)

    def close(self) -> None:
        self._http.close()

    def _answer(self, response: httpx.Response) -> dict[str, Any]:
        data: Any = response.json()
        if response.status_code != 200 or not isinstance(data, dict) or not data.get("ok"):
            raise DemoError(f"sandbox admin {response.request.url.path} answered "
                            f"{response.status_code}: {response.text[:300]}")
        return data

    def get(self, path: str, **params: str) -> dict[str, Any]:
        return self._answer(self._http.get(f"/_sandbox/{path}", params=params))

    def post(self, path: str, body: Mapping[str, Any]) -> dict[str, Any]:
        return self._answer(self._http.post(f"/_sandbox/{path}", json=dict(body)))

    def add(self, comment: DemoComment) -> None:
        path, body = comment.admin_call()
        self.post(path, body)

    def calls(self) -> list[dict[str, Any]]:
        calls: list[dict[str, Any]] = self.get("calls")["calls"]
        return calls


# -- what the daemon did -------------------------------------------------------------------

@dataclass
class Progress:
    """The audit stream read so far, and what part of it has been reported."""

    records: list[dict[str, Any]] = field(default_factory=list)
    reported: set[str] = field(default_factory=set)

    @property
    def decisions(self) -> list[dict[str, Any]]:
        return [r for r in self.records if r.get("kind") == "decision"]

    @property
    def actions(self) -> list[dict[str, Any]]:
        return [r for r in self.records if r.get("kind") == "action"]

    def decided(self) -> int:
        """Comments decided at least once (a comment may be decided again on a full pass)."""
        return len({_comment_key(r) for r in self.decisions})

    def pending_actions(self) -> int:
        """Enforced actions planned but without a final outcome yet (never below zero)."""
        planned = sum(1 for d in self.decisions for a in d.get("actions") or []
                      if isinstance(a, dict) and a.get("mode") != "shadow"
                      and a.get("type") != "notify")  # told in a digest, not acted on
        final = sum(1 for a in self.actions if a.get("outcome") in FINAL_OUTCOMES)
        return max(0, planned - final)


def _comment_key(record: Mapping[str, Any]) -> tuple[str, str, str]:
    return (str(record.get("platform")), str(record.get("target")), str(record.get("comment_id")))


def _read_audit(audit: AuditLog) -> list[dict[str, Any]]:
    records = audit.read(limit=1_000_000)
    records.reverse()  # oldest first
    return records


def _describe_new(records: Iterable[dict[str, Any]]) -> tuple[str, str]:
    decided: Counter[str] = Counter()
    done: Counter[str] = Counter()
    for record in records:
        if record.get("kind") == "decision":
            rules = record.get("rules") or []
            decided[rules[0] if rules else "no rule"] += 1
        elif record.get("kind") == "action":
            outcome = record.get("outcome")
            label = str(record.get("action"))
            if outcome == "dry_run":
                label += " (shadow)"
            elif outcome != "ok":
                label += f" {outcome}"
            done[label] += 1
    clean = decided.pop("no rule", 0)
    decided_text = ", ".join(f"{rule} {n}" for rule, n in decided.most_common())
    if clean:
        decided_text += (", " if decided_text else "") + f"no rule {clean}"
    done_text = ", ".join(f"{label} {n}" for label, n in done.most_common())
    return (f"decided {decided.total() + clean}: {decided_text}" if decided or clean else "",
            f"done {done.total()}: {done_text}" if done else "")


# -- the demo ------------------------------------------------------------------------------

@dataclass
class Results:
    records: list[dict[str, Any]]
    stats: dict[str, Any]
    calls: list[dict[str, Any]]
    seeded: int
    live: int
    waves: int
    complete: bool
    elapsed: float
    rule_ids: tuple[str, ...] = ()
    rule_actions: dict[str, str] = field(default_factory=dict)
    log_samples: tuple[int, list[str]] = (0, [])
    targets: list[dict[str, Any]] = field(default_factory=list)  # `modworker targets list`
    digests: list[str] = field(default_factory=list)  # what the moderators' robot received


class Demo:
    def __init__(self, *, duration: float, out: TextIO) -> None:
        self.duration = duration
        self.out = out
        self.workdir = _make_workdir()
        self.state_dir = self.workdir / "var"
        self.children: list[Child] = []
        self.admin: SandboxAdmin | None = None
        self.redis: redis.Redis | None = None
        self.env = dict(os.environ)
        self.env[MARK_VARIABLE] = str(self.workdir)
        # Loopback only, whatever proxy the environment names.
        no_proxy = ",".join(filter(None, [self.env.get("NO_PROXY"), "127.0.0.1", "localhost"]))
        self.env["NO_PROXY"] = self.env["no_proxy"] = no_proxy

    def run(self) -> int:
        """Run the demo; DemoError (and any other failure) keeps the logs in the work dir."""
        keep = True
        previous = signal.signal(signal.SIGTERM, _raise_terminated)
        try:
            results = self._run()
            self._summary(results)
            keep = False
            return EXIT_OK
        except (KeyboardInterrupt, _Terminated):
            _say(self.out, "\ninterrupted: stopping the daemon and the sandbox")
            keep = False
            return EXIT_INTERRUPTED
        finally:
            # A second Ctrl-C must not cut the clean-up short and leave processes behind.
            old_int = signal.signal(signal.SIGINT, signal.SIG_IGN)
            signal.signal(signal.SIGTERM, signal.SIG_IGN)
            try:
                self._cleanup()
            finally:
                signal.signal(signal.SIGINT, old_int)
                signal.signal(signal.SIGTERM, previous)
            if keep:
                _say(self.out, f"logs kept in {self.workdir}")
            else:
                shutil.rmtree(self.workdir, ignore_errors=True)

    # -- steps ------------------------------------------------------------------------

    def _run(self) -> Results:
        out = self.out
        example = load_example(example_config_path())
        _say(out, f"modworker demo: rules of {example.path.name} "
                  f"({len(example.rule_ids)} rules in {_shorten(example.rules)}), "
                  f"working in {self.workdir}")
        data = DemoData(now=int(time.time()))
        # Four copies of an advertisement before the daemon starts, four more later: the
        # fifth makes a wave, and the wave takes the first four with it.
        seed = sorted(data.seed() + data.copies(4, start=0, live=False),
                      key=lambda c: c.created_at or 0)
        seed_file = self.workdir / "seed.json"
        seed_file.write_text(json.dumps(demo_data.seed_document(seed), ensure_ascii=False),
                             encoding="utf-8")
        wechat = sum(1 for c in seed if c.platform == "wechat")
        _say(out, f"starting sandbox… ({len(seed)} comments: {wechat} on 2 WeChat articles, "
                  f"{len(seed) - wechat} on 1 Weibo post)")
        url = self._start_sandbox(seed_file)
        _say(out, f"sandbox listening on {url}")
        self._admin().post("robot", {"type": "dingtalk", "token": ROBOT_TOKEN,
                                     "secret": ROBOT_SECRET})

        config_path = self._write_config(example, url)
        _say(out, "starting daemon… (modworker run --processes 2 --threads 4, embedded Redis)")
        daemon = self._start_daemon(config_path)
        audit = AuditLog(redis=self._redis(), keys=Keys(prefix=KEY_PREFIX))
        _say(out, f"daemon running (pid {daemon.process.pid}); polling every 2s for "
                  f"{self.duration:g}s")

        expected = len(seed)
        progress = Progress()
        started = time.monotonic()
        waves = list(WAVES)
        complete = False
        published = False
        last_wave = -WAVE_GAP
        while True:
            elapsed = time.monotonic() - started
            if not daemon.alive():
                raise DemoError(f"the daemon exited with status {daemon.process.returncode} "
                                f"while running; the end of its log:\n{daemon.log_tail()}")
            self._report(audit, progress, elapsed)
            complete = progress.decided() >= expected and progress.pending_actions() == 0
            if elapsed >= self.duration and (complete or elapsed >= self.duration + GRACE):
                break
            if not published and elapsed >= PUBLISH_AT * self.duration:
                published = True
                expected += self._publish(config_path, example, data)
                continue
            if waves and elapsed >= max(waves[0][0] * self.duration, last_wave + WAVE_GAP):
                _fraction, count, comeback = waves.pop(0)
                if comeback:
                    # repeat-offender counts the abusers' earlier offenses: let them be decided.
                    self._wait_decided(audit, progress, expected, started)
                batch = data.wave(count, repeat_offenders=comeback)
                note = " (3 of them by authors with 3 removed insults)" if comeback else ""
                if len(waves) == len(WAVES) - 1:
                    batch += data.copies(4, start=4, live=True)
                    note = " (4 of them more copies of the advertisement)"
                _say(out, f"adding {len(batch)} new comments{note}…")
                for comment in batch:
                    self._admin().add(comment)
                expected += len(batch)
                last_wave = time.monotonic() - started
                continue
            time.sleep(TICK)
        elapsed = time.monotonic() - started
        if not complete:
            _say(out, f"note: after {elapsed:.0f}s, {expected - progress.decided()} comment(s) "
                      f"not yet decided and {progress.pending_actions()} action(s) not yet "
                      "done; summarising what was done")
        rule_ids = (*example.rule_ids, WAVE_RULE)
        stats = RuleStats(redis=self._redis(), keys=Keys(prefix=KEY_PREFIX)).snapshot(rule_ids)
        records = _read_audit(audit)
        self._close_redis()
        targets = self._targets_list(config_path)

        _say(out, "stopping daemon (SIGTERM)…")
        code = daemon.stop(DAEMON_STOP_TIMEOUT)
        if code is None:
            raise DemoError(f"the daemon did not stop within {DAEMON_STOP_TIMEOUT:.0f}s of "
                            f"SIGTERM and was killed; the end of its log:\n{daemon.log_tail()}")
        if code != 0:
            raise DemoError(f"the daemon exited with status {code} on SIGTERM; the end of its "
                            f"log:\n{daemon.log_tail()}")
        _say(out, "daemon stopped (exit 0); stopping sandbox…")
        log_samples = _log_samples(daemon.log_path)
        calls = self._admin().calls()
        robot = self._admin().get("robot", type="dingtalk", token=ROBOT_TOKEN)
        digests = [str(m["body"]["markdown"]["text"]) for m in robot["received"]]
        self._stop_sandbox()
        return Results(records=records, stats=stats, calls=calls, seeded=len(seed),
                       live=expected - len(seed), waves=len(WAVES) - len(waves),
                       complete=complete, elapsed=elapsed, rule_ids=rule_ids,
                       rule_actions={**example.rule_actions,
                                     WAVE_RULE: "delete, notify (demo rule)"},
                       log_samples=log_samples, digests=digests, targets=targets)

    def _publish(self, config_path: Path, example: ExampleSetup, data: DemoData) -> int:
        """The mid-run mass send and post, the articles added by link, their first comments;
        returns how many comments were added."""
        admin = self._admin()
        admin.post("wechat/publish", {"app_id": demo_data.APP_ID,
                                      "msg_data_id": demo_data.NEW_ARTICLE, "count": 2})
        admin.post("weibo/post", {"access_token": demo_data.WEIBO_TOKEN,
                                  "status_id": demo_data.NEW_STATUS_ID, "text": "新品首发"})
        links = [
            f"https://mp.weixin.qq.com/s?__biz=MzA3MDM3NjE5NQ==&mid={demo_data.NEW_ARTICLE}"
            f"&idx={n}&sn=5f1c" for n in (1, 2)
        ]
        _say(self.out, f"published a mass send of 2 articles and a Weibo post; running "
                       f"`modworker targets add --account {example.wechat_account} <2 links>`…")
        added = self._cli(config_path, "targets", "add", "--account", example.wechat_account,
                          *links)
        for line in added.splitlines():
            _say(self.out, f"  {line}")
        batch = data.on_new_targets()
        for comment in batch:
            admin.add(comment)
        _say(self.out, f"adding {len(batch)} comments on them (the Weibo post is found by the "
                       "account's listing, nothing added)…")
        return len(batch)

    def _targets_list(self, config_path: Path) -> list[dict[str, Any]]:
        """`modworker targets list` while the daemon (and its embedded Redis) still runs."""
        out = self._cli(config_path, "targets", "list", "--json")
        return [json.loads(line) for line in out.splitlines() if line.strip()]

    def _cli(self, config_path: Path, *argv: str) -> str:
        result = subprocess.run(
            [sys.executable, "-m", "worker.cli", *argv[:2], "-c", str(config_path), *argv[2:]],
            capture_output=True, text=True, env=self.env, cwd=self.workdir, timeout=60,
            check=False,
        )
        if result.returncode != 0:
            raise DemoError(f"`modworker {' '.join(argv[:2])}` exited with status "
                            f"{result.returncode}: {result.stderr.strip()}")
        return result.stdout

    def _start_sandbox(self, seed_file: Path) -> str:
        log_path = self.workdir / "sandbox.log"
        child = _spawn("sandbox", [sys.executable, "-m", "worker.sandbox", "--port", "0",
                                   "--seed-file", str(seed_file), "--seed", "7"],
                       log_path, self.env, self.workdir)
        self.children.append(child)
        deadline = time.monotonic() + SANDBOX_START_TIMEOUT
        while True:
            found = _LISTENING.search(log_path.read_text(encoding="utf-8", errors="replace"))
            if found:
                url = found.group(1)
                self.admin = SandboxAdmin(url)
                self.admin.get("health")
                return url
            if not child.alive():
                raise DemoError(f"the sandbox exited with status {child.process.returncode}:\n"
                                f"{child.log_tail()}")
            if time.monotonic() > deadline:
                raise DemoError(f"the sandbox did not start within {SANDBOX_START_TIMEOUT:.0f}s:"
                                f"\n{child.log_tail()}")
            time.sleep(0.05)

    def _write_config(self, example: ExampleSetup, url: str) -> Path:
        config = {
            "redis": {"url": None, "key_prefix": KEY_PREFIX},
            "state_dir": str(self.state_dir),
            "dry_run": False,
            "rules": [*(str(p) for p in example.rules), str(self._wave_rules())],
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
        path = self.workdir / "config.yaml"
        header = "# written by `modworker demo`: the example rules against the local sandbox\n"
        path.write_text(header + yaml.safe_dump(config, sort_keys=False, allow_unicode=True),
                        encoding="utf-8")
        return path

    def _wave_rules(self) -> Path:
        path = self.workdir / "demo-rules" / "waves.yaml"
        path.parent.mkdir(exist_ok=True)
        path.write_text(WAVE_RULES, encoding="utf-8")
        return path

    def _start_daemon(self, config_path: Path) -> Child:
        env = dict(self.env)
        env[ROBOT_SECRET_VARIABLE] = ROBOT_SECRET
        env[WECHAT_SECRET_VARIABLE] = demo_data.APP_SECRET
        env[WEIBO_TOKEN_VARIABLE] = demo_data.WEIBO_TOKEN
        daemon = _spawn("daemon", [sys.executable, "-m", "worker.cli", "run", "-c",
                                   str(config_path), "--processes", "2", "--threads", "4"],
                        self.workdir / "daemon.log", env, self.workdir)
        self.children.append(daemon)
        deadline = time.monotonic() + DAEMON_START_TIMEOUT
        while True:
            if not daemon.alive():
                raise DemoError(f"the daemon did not start (exit status "
                                f"{daemon.process.returncode}); the end of its log:\n"
                                f"{daemon.log_tail()}")
            if "daemon_started" in daemon.log_path.read_text(encoding="utf-8", errors="replace"):
                try:
                    self._redis().ping()
                    return daemon
                except (redis.ConnectionError, redis.TimeoutError, FileNotFoundError):
                    pass  # not answering yet; the deadline below decides
            if time.monotonic() > deadline:
                raise DemoError(f"the daemon was not ready within {DAEMON_START_TIMEOUT:.0f}s; "
                                f"the end of its log:\n{daemon.log_tail()}")
            time.sleep(0.1)

    def _wait_decided(self, audit: AuditLog, progress: Progress, expected: int,
                      started: float) -> None:
        deadline = time.monotonic() + 10.0
        while progress.decided() < expected and time.monotonic() < deadline:
            time.sleep(0.3)
            self._report(audit, progress, time.monotonic() - started)

    def _report(self, audit: AuditLog, progress: Progress, elapsed: float) -> None:
        progress.records = _read_audit(audit)
        new = [r for r in progress.records if r["stream_id"] not in progress.reported]
        if not new:
            return
        progress.reported.update(r["stream_id"] for r in new)
        decided, done = _describe_new(new)
        stamp = f"  [{elapsed:5.1f}s] "
        lines = [line for line in (decided, done) if line]
        for n, line in enumerate(lines):
            _say(self.out, (stamp if n == 0 else " " * len(stamp)) + line)

    # -- resources ----------------------------------------------------------------------

    def _admin(self) -> SandboxAdmin:
        if self.admin is None:
            raise DemoError("the sandbox is not running")
        return self.admin

    def _redis(self) -> redis.Redis:
        if self.redis is None:
            self.redis = redis.Redis.from_url(f"unix://{self.state_dir / 'redis.sock'}?db=0",
                                              socket_timeout=5)
        return self.redis

    def _close_redis(self) -> None:
        if self.redis is not None:
            self.redis.close()
            self.redis = None

    def _stop_sandbox(self) -> None:
        if self.admin is not None:
            self.admin.close()
            self.admin = None
        for child in self.children:
            if child.name == "sandbox":
                child.stop(SANDBOX_STOP_TIMEOUT)

    def _cleanup(self) -> None:
        """Stop whatever is still running: the daemon first (it stops its workers and Redis),
        then the sandbox; SIGKILL to the process groups as a last resort; then a sweep for any
        descendant still carrying the demo's mark (the embedded Redis has its own session)."""
        self._close_redis()
        if self.admin is not None:
            self.admin.close()
            self.admin = None
        for child in sorted(self.children, key=lambda c: c.name != "daemon"):
            if child.alive():
                timeout = DAEMON_STOP_TIMEOUT / 3 if child.name == "daemon" else 5.0
                if child.stop(timeout) is None:
                    _say(self.out, f"the {child.name} did not stop in time and was killed")
            else:
                child.stop(0)
        deadline = time.monotonic() + 10.0
        left = marked_pids(str(self.workdir))
        while left and time.monotonic() < deadline:
            time.sleep(0.2)  # the embedded Redis and the workers stop by themselves
            left = marked_pids(str(self.workdir))
        for pid in left:
            _say(self.out, f"killing leftover process {pid}")
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)

    # -- the summary --------------------------------------------------------------------

    def _summary(self, results: Results) -> None:
        for line in format_summary(results):
            _say(self.out, line)


def _raise_terminated(signum: int, frame: FrameType | None) -> None:
    raise _Terminated()


def _make_workdir() -> Path:
    """A fresh temporary directory whose Redis socket path fits a unix socket address."""
    workdir = Path(tempfile.mkdtemp(prefix="modworker-demo-")).resolve()
    if len(str(workdir / "var" / "redis.sock")) > _UNIX_SOCKET_MAX:
        workdir.rmdir()
        workdir = Path(tempfile.mkdtemp(prefix="modworker-demo-", dir="/tmp")).resolve()
    return workdir


def _shorten(paths: Iterable[Path]) -> str:
    cwd = Path.cwd()
    shown = []
    for path in paths:
        try:
            shown.append(str(path.relative_to(cwd)) + ("/" if path.is_dir() else ""))
        except ValueError:
            shown.append(str(path))
    return ", ".join(shown)


# -- formatting ----------------------------------------------------------------------------

def _log_samples(path: Path) -> tuple[int, list[str]]:
    """How many lines the daemon logged, and one line of a few telling events."""
    try:
        lines = path.read_text(encoding="utf-8", errors="replace").splitlines()
    except OSError as exc:
        return 0, [f"(cannot read the daemon log: {exc})"]
    samples = []
    for event in ("action", "batch_sent"):
        for line in lines:
            try:
                record = json.loads(line)
            except json.JSONDecodeError:
                continue  # not one of the daemon's JSON lines (e.g. a Python warning)
            if isinstance(record, dict) and record.get("event") == event and (
                event != "action" or record.get("outcome") == "ok"
            ):
                samples.append(line)
                break
    return len(lines), samples


def _visible(text: str, limit: int = 44) -> str:
    """The text with invisible characters shown (``⟨200B⟩``), cut to ``limit`` characters."""
    shown = "".join(
        f"⟨{ord(c):04X}⟩" if unicodedata.category(c) in ("Cf", "Cc") else c for c in text
    )
    return shown if len(shown) <= limit else shown[: limit - 1] + "…"


def _batch_sizes(calls: Iterable[Mapping[str, Any]], endpoint: str) -> list[int]:
    sizes = []
    for call in calls:
        if call.get("endpoint") != endpoint:
            continue
        body = call.get("body") or {}
        if endpoint == "tags/members/batchblacklist":
            sizes.append(len(body.get("openid_list") or []))
        else:
            sizes.append(len([c for c in str(body.get("cids", "")).split(",") if c]))
    return sizes


def _failed_call(call: Mapping[str, Any]) -> bool:
    return call.get("http_status") != 200 or call.get("errcode") not in (0, None)


def _table(rows: list[list[str]], indent: str = "  ") -> Iterator[str]:
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    for row in rows:
        cells = [cell.rjust(w) if cell.isdigit() else cell.ljust(w)
                 for cell, w in zip(row, widths, strict=True)]
        yield (indent + "  ".join(cells)).rstrip()


def _sizes_text(sizes: list[int]) -> str:
    if not sizes:
        return "none"
    return (f"{len(sizes)} call{'s' if len(sizes) != 1 else ''}, sizes "
            f"{', '.join(map(str, sizes))} ({sum(sizes)} in all, at most {max(sizes)} a call)")


def format_summary(results: Results) -> list[str]:
    """The summary lines: decisions, rule hits, actions by outcome, API calls, batches,
    examples."""
    decisions = [r for r in results.records if r.get("kind") == "decision"]
    actions = [r for r in results.records if r.get("kind") == "action"]
    # One decision a comment: the first that matched a rule (an elected or replied comment is
    # listed, and so decided, again; then the praise rule no longer matches), else the first.
    latest: dict[tuple[str, str, str], dict[str, Any]] = {}
    for record in decisions:
        key = _comment_key(record)
        if key not in latest or (record.get("rules") and not latest[key].get("rules")):
            latest[key] = record
    by_platform = Counter(key[0] for key in latest)
    matched = sum(1 for d in latest.values() if d.get("rules"))
    lines = ["", "── summary " + "─" * 68]
    lines.append(
        f"comments: {results.seeded + results.live} added ({results.seeded} seeded, "
        f"{results.live} live in {results.waves} waves); {len(latest)} decided "
        f"(wechat {by_platform['wechat']}, weibo {by_platform['weibo']}) in "
        f"{results.elapsed:.0f}s: {matched} matched a rule, {len(latest) - matched} left alone"
    )
    if not results.complete:
        lines.append("  (the daemon had not finished everything when it was stopped)")

    lines += ["", "rule hits:"]
    rows = [["rule", "enforced", "shadow", "then"]]
    for rule_id, entry in results.stats.get("rules", {}).items():
        hits = entry.get("hits", {})
        rows.append([rule_id, str(hits.get("enforce", 0)), str(hits.get("shadow", 0)),
                     ""])
    order = {rule_id: n for n, rule_id in enumerate(results.rule_ids)}
    body = sorted(rows[1:], key=lambda r: order.get(r[0], len(order)))
    for row in body:
        row[3] = results.rule_actions.get(row[0], "(no longer loaded)")
    lines += list(_table([rows[0], *body]))

    lines += ["", "actions by outcome:"]
    outcome_counts: dict[str, Counter[str]] = {}
    for record in actions:
        outcome_counts.setdefault(str(record.get("action")), Counter())[
            str(record.get("outcome"))] += 1
    extra = sorted({o for c in outcome_counts.values() for o in c} - set(OUTCOMES))
    columns = [*ORDER, *extra]
    rows = [["action", *columns]]
    for action in sorted(outcome_counts, key=lambda a: -outcome_counts[a].total()):
        rows.append([action, *(str(outcome_counts[action].get(o, 0)) for o in columns)])
    totals = Counter[str]()
    for counter in outcome_counts.values():
        totals.update(counter)
    rows.append(["all", *(str(totals.get(o, 0)) for o in columns)])
    lines += list(_table(rows))
    lines.append("  (already_done: asked for again, e.g. the same spammer's next comment; "
                 "dry_run: a shadow rule, audited, never sent)")

    lines += ["", "API calls (as the sandbox saw them):"]
    per_endpoint: Counter[str] = Counter()
    errors: Counter[str] = Counter()
    for call in results.calls:
        per_endpoint[str(call.get("endpoint"))] += 1
        if _failed_call(call):
            errors[str(call.get("endpoint"))] += 1
    rows = [["endpoint", "calls", "errors"]]
    for endpoint, count in sorted(per_endpoint.items(), key=lambda item: (-item[1], item[0])):
        rows.append([endpoint, str(count), str(errors.get(endpoint, 0))])
    lines += list(_table(rows))
    if errors:
        lines.append("  (errors: injected 'system busy' answers, retried with backoff)")
    blacklist = _batch_sizes(results.calls, "tags/members/batchblacklist")
    destroy = _batch_sizes(results.calls, "comments/destroy_batch/own/biz")
    lines += ["", f"WeChat blacklist batches: {_sizes_text(blacklist)}",
              f"Weibo destroy batches:    {_sizes_text(destroy)}"]

    count, samples = results.log_samples
    if samples:
        lines += ["", f"the daemon's log: {count} JSON lines, for example:"]
        lines += [f"  {sample}" for sample in samples]

    lines += _wave_lines(results)

    if results.targets:
        lines += ["", "targets (`modworker targets list`):"]
        rows = [["account", "target", "source", "state", "comments seen"]]
        rows += [[str(t["account"]), str(t["target"]), str(t["source"]), str(t["state"]),
                  str(t["comments_seen"])] for t in results.targets]
        lines += list(_table(rows))

    lines += ["", "examples (original text → rule → actions and outcomes):"]
    for record in _examples(list(latest.values())):
        lines += _example_lines(record, actions)
    deleted = sum(c["ok"] + c["already_done"] for a, c in outcome_counts.items()
                  if a == "delete")
    blacklisted = outcome_counts.get("blacklist", Counter())["ok"]
    elected = outcome_counts.get("elect", Counter())["ok"]
    lines += ["", f"in short: {deleted} deletions, {blacklisted} openids blacklisted, "
                  f"{elected} comments elected (featured) and thanked, "
                  f"{totals.get('failed', 0)} failures."]
    return lines


def _wave_lines(results: Results) -> list[str]:
    """The copy-paste wave: how many copies were cut, the earlier ones included, and the
    digest the moderators' channel got."""
    members = {str(r.get("comment_id")) for r in results.records if r.get("kind") == "wave"}
    hits = results.stats.get("rules", {}).get(WAVE_RULE, {}).get("hits", {}).get("enforce", 0)
    lines = ["", f"copy-paste wave ({WAVE_RULE}): {hits} copies matched as they came, "
                 f"{len(members)} earlier copies cut with them"]
    if results.digests:
        lines.append(f"the moderators' DingTalk robot got {len(results.digests)} digest(s); "
                     "the first:")
        lines += [f"  | {line}" for line in results.digests[0].splitlines()]
    else:
        lines.append("the moderators' DingTalk robot got no digest")
    return lines


def _examples(decisions: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """A few decisions that show what the rules see through: one per disguise of contact
    spam, then one per other rule, a comment without an openid, the trusted staff member,
    and a near miss that stays."""

    def content(d: Mapping[str, Any]) -> str:
        return str(d.get("content") or "")

    def first_rule(d: Mapping[str, Any]) -> str | None:
        rules = d.get("rules") or []
        return str(rules[0]) if rules else None

    showcase: list[tuple[str, Any]] = [
        ("zero-width", lambda d: first_rule(d) == "contact-spam"
         and any(unicodedata.category(c) == "Cf" for c in content(d))),
        ("full-width", lambda d: first_rule(d) == "contact-spam" and "ｑｑ" in content(d)),
        ("emoji", lambda d: first_rule(d) == "contact-spam"
         and any(unicodedata.category(c) == "So" for c in content(d))),
        ("spaced", lambda d: first_rule(d) == "contact-spam" and "薇 信" in content(d)),
        ("phone", lambda d: first_rule(d) == "contact-spam"
         and re.search(r"1[3-9]\d[- ]\d{4}[- ]\d{4}", content(d)) is not None),
        ("link", lambda d: first_rule(d) == "contact-spam" and "://" in content(d)),
        ("no openid", lambda d: any("openid" in str(s.get("reason"))
                                    for s in d.get("skipped") or [])),
        ("gambling", lambda d: first_rule(d) == "gambling-ads" and d.get("platform") == "wechat"),
        ("weibo", lambda d: d.get("platform") == "weibo" and first_rule(d) == "gambling-ads"),
        ("abuse", lambda d: first_rule(d) == "abuse" and d.get("platform") == "wechat"
         and " " in content(d) and re.search(r"[\u4e00-\u9fff]", content(d)) is not None),
        ("repeat", lambda d: first_rule(d) == "repeat-offender"),
        ("praise", lambda d: first_rule(d) == "praise-elect"),
        ("shadow", lambda d: first_rule(d) == "short-praise-trial"),
        ("staff", lambda d: d.get("author") == demo_data.TRUSTED_STAFF),
        ("near miss", lambda d: first_rule(d) is None and "微信" in content(d)),
    ]
    chosen: list[dict[str, Any]] = []
    for _name, predicate in showcase:
        for decision in decisions:
            if predicate(decision) and all(c.get("content") != decision.get("content")
                                           for c in chosen):
                chosen.append(decision)
                break
    return chosen


def _example_lines(decision: Mapping[str, Any], actions: list[dict[str, Any]]) -> list[str]:
    comment_id = decision.get("comment_id")
    author = decision.get("author")
    outcomes: list[str] = []
    for planned in decision.get("actions") or []:
        kind = str(planned.get("type"))
        # Batched outcomes (blacklist, Weibo destroy) name the comment that asked for them.
        record = next((a for a in actions if a.get("comment_id") == comment_id
                       and a.get("target") == decision.get("target")
                       and a.get("action") == kind), None)
        outcome = str(record.get("outcome")) if record else "pending"
        if kind == "blacklist" and outcome == "already_done":
            outcome += " (this openid was already queued or blacklisted)"
        text = planned.get("text")
        label = f"{kind} “{_visible(str(text), 16)}”" if text else kind
        outcomes.append(f"{label} {outcome}")
    for skipped in decision.get("skipped") or []:
        outcomes.append(f"{skipped.get('type')} skipped ({skipped.get('reason')})")
    rules = " + ".join(decision.get("rules") or []) or "no rule"
    who: str | None = None
    if not author:
        who = "no openid"
    elif author == demo_data.TRUSTED_STAFF:
        who = "trusted staff"
    elif "repeat-offender" in (decision.get("rules") or []):
        who = "by an author with 3 removed comments this week"
    where = str(decision.get("platform")) + (f", {who}" if who else "")
    return [f"  “{_visible(str(decision.get('content') or ''))}” ({where})",
            f"      → {rules} → {', '.join(outcomes) if outcomes else 'nothing'}"]


# -- the command ---------------------------------------------------------------------------

def cmd_demo(args: argparse.Namespace) -> int:
    duration = float(args.duration)
    if not 0 <= duration <= 3600:
        print("error: --duration must be between 0 and 3600 seconds", file=sys.stderr)
        return EXIT_USAGE
    demo = Demo(duration=duration, out=sys.stdout)
    try:
        return demo.run()
    except DemoError as exc:
        print(f"error: the demo failed: {exc}", file=sys.stderr)
        return EXIT_FAILED
