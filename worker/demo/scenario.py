"""The demo's run: seed the sandbox, start the daemon, add comments in waves and publish
midway while reporting what the daemon decides, then stop everything and gather the results
for the summary (see :mod:`worker.demo` for the whole story)."""

from __future__ import annotations

import json
import shutil
import signal
import tempfile
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from types import FrameType
from typing import Any, TextIO

from worker.demo import data as demo_data
from worker.demo.data import DemoComment, DemoData
from worker.demo.processes import DemoProcesses
from worker.demo.progress import Progress, describe_new, read_audit
from worker.demo.setup import (
    DAEMON_SECRETS,
    KEY_PREFIX,
    ROBOT_SECRET,
    ROBOT_TOKEN,
    WAVE_RULE,
    ExampleSetup,
    example_config_path,
    load_example,
    write_demo_config,
)
from worker.demo.summary import Results, format_summary, log_samples
from worker.pipeline.audit import AuditLog
from worker.pipeline.keys import Keys
from worker.pipeline.rulestats import RuleStats

EXIT_OK = 0
EXIT_INTERRUPTED = 130

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
_UNIX_SOCKET_MAX = 100  # sun_path is 108 bytes on Linux, 104 on macOS


class _Terminated(Exception):
    """SIGTERM arrived: unwind through the ``finally`` blocks like Ctrl-C does."""


@dataclass
class LiveRun:
    """The part of the demo while the daemon runs: what was added, what was seen."""

    expected: int  # comments added so far, each to be decided
    started: float = field(default_factory=time.monotonic)
    progress: Progress = field(default_factory=Progress)
    waves: list[tuple[float, int, bool]] = field(default_factory=lambda: list(WAVES))
    published: bool = False
    last_wave: float = -WAVE_GAP
    complete: bool = False

    def elapsed(self) -> float:
        return time.monotonic() - self.started


class Demo:
    def __init__(self, *, duration: float, out: TextIO) -> None:
        self.duration = duration
        self.out = out
        self.workdir = _make_workdir()
        self.processes = DemoProcesses(self.workdir)

    def say(self, line: str = "") -> None:
        print(line, file=self.out, flush=True)

    def run(self) -> int:
        """Run the demo; DemoError (and any other failure) keeps the logs in the work dir."""
        keep = True
        previous = signal.signal(signal.SIGTERM, _raise_terminated)
        try:
            for line in format_summary(self._run()):
                self.say(line)
            keep = False
            return EXIT_OK
        except (KeyboardInterrupt, _Terminated):
            self.say("\ninterrupted: stopping the daemon and the sandbox")
            keep = False
            return EXIT_INTERRUPTED
        finally:
            # A second Ctrl-C must not cut the clean-up short and leave processes behind.
            old_int = signal.signal(signal.SIGINT, signal.SIG_IGN)
            signal.signal(signal.SIGTERM, signal.SIG_IGN)
            try:
                self.processes.cleanup(self.say)
            finally:
                signal.signal(signal.SIGINT, old_int)
                signal.signal(signal.SIGTERM, previous)
            if keep:
                self.say(f"logs kept in {self.workdir}")
            else:
                shutil.rmtree(self.workdir, ignore_errors=True)

    # -- steps ------------------------------------------------------------------------

    def _run(self) -> Results:
        example = load_example(example_config_path())
        self.say(f"modworker demo: rules of {example.path.name} "
                 f"({len(example.rule_ids)} rules in {_shorten(example.rules)}), "
                 f"working in {self.workdir}")
        data = DemoData(now=int(time.time()))
        seed, url = self._start_sandbox(data)
        config_path = write_demo_config(self.workdir, example, url)
        self.say("starting daemon… (modworker run --processes 2 --threads 4, embedded Redis)")
        daemon = self.processes.start_daemon(config_path, DAEMON_SECRETS)
        audit = AuditLog(redis=self.processes.redis(), keys=Keys(prefix=KEY_PREFIX))
        self.say(f"daemon running (pid {daemon.pid}); polling every 2s for "
                 f"{self.duration:g}s")
        live = self._feed(audit, LiveRun(expected=len(seed)), config_path, example, data)
        return self._finish(live, audit, config_path, example, seeded=len(seed))

    def _start_sandbox(self, data: DemoData) -> tuple[list[DemoComment], str]:
        """The sandbox, seeded, with the moderators' robot; the seeded comments and its URL."""
        # Four copies of an advertisement before the daemon starts, four more later: the
        # fifth makes a wave, and the wave takes the first four with it.
        seed = sorted(data.seed() + data.copies(4, start=0, live=False),
                      key=lambda c: c.created_at or 0)
        seed_file = self.workdir / "seed.json"
        seed_file.write_text(json.dumps(demo_data.seed_document(seed), ensure_ascii=False),
                             encoding="utf-8")
        wechat = sum(1 for c in seed if c.platform == "wechat")
        self.say(f"starting sandbox… ({len(seed)} comments: {wechat} on 2 WeChat articles, "
                 f"{len(seed) - wechat} on 1 Weibo post)")
        url = self.processes.start_sandbox(seed_file)
        self.say(f"sandbox listening on {url}")
        self.processes.admin().post("robot", {"type": "dingtalk", "token": ROBOT_TOKEN,
                                              "secret": ROBOT_SECRET})
        return seed, url

    def _feed(self, audit: AuditLog, live: LiveRun, config_path: Path, example: ExampleSetup,
              data: DemoData) -> LiveRun:
        """Report progress every tick, publish and add waves on time; return once
        ``--duration`` is over and the work is done, or the grace period ran out."""
        while True:
            elapsed = live.elapsed()
            self.processes.check_daemon_running()
            self._report(audit, live)
            live.complete = (live.progress.decided() >= live.expected
                             and live.progress.pending_actions() == 0)
            if elapsed >= self.duration and (live.complete or elapsed >= self.duration + GRACE):
                return live
            if not live.published and elapsed >= PUBLISH_AT * self.duration:
                live.published = True
                live.expected += self._publish(config_path, example, data)
            elif live.waves and elapsed >= max(live.waves[0][0] * self.duration,
                                               live.last_wave + WAVE_GAP):
                self._add_wave(audit, live, data)
            else:
                time.sleep(TICK)

    def _add_wave(self, audit: AuditLog, live: LiveRun, data: DemoData) -> None:
        _fraction, count, comeback = live.waves.pop(0)
        if comeback:
            # repeat-offender counts the abusers' earlier offenses: let them be decided.
            self._wait_decided(audit, live)
        batch = data.wave(count, repeat_offenders=comeback)
        note = " (3 of them by authors with 3 removed insults)" if comeback else ""
        if len(live.waves) == len(WAVES) - 1:
            batch += data.copies(4, start=4, live=True)
            note = " (4 of them more copies of the advertisement)"
        self.say(f"adding {len(batch)} new comments{note}…")
        self._add(batch)
        live.expected += len(batch)
        live.last_wave = live.elapsed()

    def _publish(self, config_path: Path, example: ExampleSetup, data: DemoData) -> int:
        """The mid-run mass send and post, the articles added by link, their first comments;
        returns how many comments were added."""
        admin = self.processes.admin()
        admin.post("wechat/publish", {"app_id": demo_data.APP_ID,
                                      "msg_data_id": demo_data.NEW_ARTICLE, "count": 2})
        admin.post("weibo/post", {"access_token": demo_data.WEIBO_TOKEN,
                                  "status_id": demo_data.NEW_STATUS_ID, "text": "新品首发"})
        links = [
            f"https://mp.weixin.qq.com/s?__biz=MzA3MDM3NjE5NQ==&mid={demo_data.NEW_ARTICLE}"
            f"&idx={n}&sn=5f1c" for n in (1, 2)
        ]
        self.say(f"published a mass send of 2 articles and a Weibo post; running "
                 f"`modworker targets add --account {example.wechat_account} <2 links>`…")
        added = self.processes.cli(config_path, "targets", "add", "--account",
                                   example.wechat_account, *links)
        for line in added.splitlines():
            self.say(f"  {line}")
        batch = data.on_new_targets()
        self._add(batch)
        self.say(f"adding {len(batch)} comments on them (the Weibo post is found by the "
                 "account's listing, nothing added)…")
        return len(batch)

    def _add(self, comments: Iterable[DemoComment]) -> None:
        admin = self.processes.admin()
        for comment in comments:
            admin.post(*comment.admin_call())

    def _finish(self, live: LiveRun, audit: AuditLog, config_path: Path,
                example: ExampleSetup, *, seeded: int) -> Results:
        """Read what the daemon did, stop it (it must exit 0) and the sandbox."""
        elapsed = live.elapsed()
        if not live.complete:
            self.say(f"note: after {elapsed:.0f}s, {live.expected - live.progress.decided()} "
                     f"comment(s) not yet decided and {live.progress.pending_actions()} "
                     "action(s) not yet done; summarising what was done")
        rule_ids = (*example.rule_ids, WAVE_RULE)
        stats = RuleStats(redis=self.processes.redis(),
                          keys=Keys(prefix=KEY_PREFIX)).snapshot(rule_ids)
        records = read_audit(audit)
        self.processes.close_redis()
        targets = self._targets_list(config_path)

        self.say("stopping daemon (SIGTERM)…")
        self.processes.stop_daemon()
        self.say("daemon stopped (exit 0); stopping sandbox…")
        admin = self.processes.admin()
        calls = admin.calls()
        robot = admin.get("robot", type="dingtalk", token=ROBOT_TOKEN)
        digests = [str(m["body"]["markdown"]["text"]) for m in robot["received"]]
        self.processes.stop_sandbox()
        return Results(records=records, stats=stats, calls=calls, seeded=seeded,
                       live=live.expected - seeded, waves=len(WAVES) - len(live.waves),
                       complete=live.complete, elapsed=elapsed, rule_ids=rule_ids,
                       rule_actions={**example.rule_actions,
                                     WAVE_RULE: "delete, notify (demo rule)"},
                       log_samples=log_samples(self.workdir / "daemon.log"),
                       digests=digests, targets=targets)

    def _targets_list(self, config_path: Path) -> list[dict[str, Any]]:
        """`modworker targets list` while the daemon (and its embedded Redis) still runs."""
        out = self.processes.cli(config_path, "targets", "list", "--json")
        return [json.loads(line) for line in out.splitlines() if line.strip()]

    def _wait_decided(self, audit: AuditLog, live: LiveRun) -> None:
        deadline = time.monotonic() + 10.0
        while live.progress.decided() < live.expected and time.monotonic() < deadline:
            time.sleep(0.3)
            self._report(audit, live)

    def _report(self, audit: AuditLog, live: LiveRun) -> None:
        decided, done = describe_new(live.progress.take_new(audit))
        stamp = f"  [{live.elapsed():5.1f}s] "
        lines = [line for line in (decided, done) if line]
        for n, line in enumerate(lines):
            self.say((stamp if n == 0 else " " * len(stamp)) + line)


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
