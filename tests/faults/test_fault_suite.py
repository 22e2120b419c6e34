"""The fault suite (``pytest -m faults``): the daemon's failure scenarios at high intensity.

One run of the real daemon (2 processes x 4 threads) against the sandbox, on a test-owned
Redis: 1,000 comments (800 WeChat over three articles, 200 Weibo, in three waves), 30 % of
authenticated platform calls answered "system busy", 3 % HTML 502 pages, three token
invalidations, Redis SIGKILLed and restarted twice (a 1 s and a 4 s outage), and the daemon
SIGKILLed (its whole process group) and restarted with the same config three times. The
moments, in order: the daemon dies mid-listing; dies again with blacklist batches and single
actions on their way to the platform; tokens revoked while deletes run; Redis dies with
single actions in flight; a second wave arrives, tokens revoked; a third wave of praise
only, and the daemon dies with its elects on their way; tokens revoked after the restart;
Redis dies for 4 s, and the last daemon must recover by itself.

Then nothing may be lost and nothing doubled (:func:`assert_exactly_once`), no secret may be
in the logs, and a summary of what was injected, counted from the sandbox's call log, the
daemon's log and the test's own counters, goes to the terminal (stderr, which pytest-xdist
shows too). It takes about 80 s (2.5 minutes with the 120 s act leases of before the
heartbeat), part of it waiting for the act leases (30 s) of calls whose answers a crash or an
outage swallowed.

The other files here pin down, quickly and one at a time, what this run found: what a Redis
SIGKILL loses and what it does not, dramatiq messages lost to a Redis outage, and an elect
repeated after its answer was lost.
"""

from __future__ import annotations

import re
import sys
import time
from collections import Counter
from collections.abc import Callable
from collections.abc import Set as AbstractSet
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from tests.pipeline.daemon_harness import (
    APP_ID,
    PRAISE,
    TARGETS,
    World,
    add_wechat,
    add_weibo,
    all_done,
    assert_exactly_once,
    blacklisted_in_calls,
    comment_key,
    make_sandbox,
    ok_calls,
    ok_counts,
    start_daemon,
    write_config,
)
from worker.redis_server import EmbeddedRedis
from worker.sandbox import Sandbox
from worker.subprocesses import DaemonProcess, wait_for

pytestmark = [pytest.mark.faults, pytest.mark.slow]

WAVE1_WECHAT, WAVE1_WEIBO = 600, 150
WAVE2_WECHAT, WAVE2_WEIBO = 180, 50
WAVE3_PRAISE = 20  # WeChat praise only: elects and replies, all at once
TOTAL = WAVE1_WECHAT + WAVE2_WECHAT + WAVE3_PRAISE + WAVE1_WEIBO + WAVE2_WEIBO  # 1,000
SPAMMERS = 300  # distinct openids: about 14 blacklist batches; wave 2 repeats 20 of wave 1
BUSY = 0.30
HTML_5XX = 0.03
LATENCY = 0.02  # seconds per platform request: keeps calls (and batches) in flight a while
SLOW_LATENCY, SLOW_HOLD = 0.5, 1.0  # before a kill "mid-call": every thread waits on a call
SHORT_OUTAGE = 1.0  # seconds Redis stays down: redis-py's own retries ride over most of it
LONG_OUTAGE = 4.0  # longer than those retries: connection errors reach dramatiq and our code
STEP_TIMEOUT = 120.0  # generous bound for each "eventually" below
FINAL_TIMEOUT = 300.0

# an access token's value in a log line: as a query value, or a key of a (JSON or repr'd) dict
TOKEN_VALUE = re.compile(r"""access_token\\?['"]?(?::\s*\\?['"]|=)(?!\*\*\*)[^\s'"\\&]{4}""")
SECRETS = ("wx-secret-for-daemon-tests", "2.00weibo-token")
BUSY_CODES = {("wechat", -1), ("weibo", 10001)}
TOKEN_REFUSED = {40001, 40014, 42001}
MUTATING = ("comment/delete", "comment/markelect", "comment/reply/add",
            "tags/members/batchblacklist", "comments/destroy_batch/own/biz")
LOG_EVENTS = {
    "retries that waited for Redis": '"event": "retry_waiting_for_redis"',
    "delayed messages given back after an outage": '"event": "delayed_messages_requeued"',
    "elects checked against the platform": '"event": "action_reconciled"',
    "actions waiting for a token": '"event": "action_waiting_for_token"',
    "batches reclaimed after a crash": '"event": "batch_reclaimed"',
    "actions found already done": '"outcome": "already_done"',
    "action retries": '"event": "action_retry"',
    "scheduler saw Redis errors": '"event": "scheduler_redis_error"',
    "dramatiq consumer connection errors": "Consumer encountered a connection error",
    "dramatiq acks retried (Redis down)": "Failed to post_process_message",
}


@dataclass
class Injector:
    """Injects the faults at the chosen moments and remembers what it did and when."""

    sandbox: Sandbox
    server: EmbeddedRedis
    config: Path
    log_path: Path
    started: float = field(default_factory=time.monotonic)
    wall_started: float = field(default_factory=time.time)  # the sandbox clock's origin
    timeline: list[str] = field(default_factory=list)
    token_invalidations: int = 0
    tokens_invalidated: int = 0
    redis_kills: int = 0
    redis_down_seconds: float = 0.0
    daemon_kills: int = 0
    unanswered: Counter[str] = field(default_factory=Counter)
    daemon: DaemonProcess | None = None  # the running one

    def start(self) -> DaemonProcess:
        self.daemon = start_daemon(self.config, self.log_path, processes=2, threads=4)
        self.note("daemon started")
        return self.daemon

    def note(self, what: str) -> None:
        at = time.monotonic() - self.started
        self.timeline.append(f"t={at:6.1f}s  {what:<44} [{self.progress()}]")

    def progress(self) -> str:
        s = self.sandbox
        blacklisted, _ = blacklisted_in_calls(s)
        return (f"list pages {len(ok_calls(s, 'comment/list'))}, "
                f"deletes {len(ok_calls(s, 'comment/delete'))}, "
                f"elects {len(ok_calls(s, 'comment/markelect'))}, "
                f"replies {len(ok_calls(s, 'comment/reply/add'))}, "
                f"blacklisted {len(blacklisted)}, "
                f"destroy calls {len(ok_calls(s, 'comments/destroy_batch/own/biz'))}")

    def kill_daemon(self, moment: str, *, mid_call: bool = False) -> DaemonProcess:
        """SIGKILL the daemon's process group and start it again with the same config.

        ``mid_call``: slow the platform down first, so that calls are on their way at the
        kill; they take effect at the sandbox and their answers reach nobody.
        """
        if mid_call:
            self.sandbox.faults.latency = SLOW_LATENCY
            time.sleep(SLOW_HOLD)
        killed_at = time.time()
        assert self.daemon is not None
        self.daemon.kill()
        self.daemon_kills += 1
        detail = ""
        if mid_call:
            time.sleep(SLOW_LATENCY + 0.5)  # the calls in flight land
            landed = Counter(c.endpoint for c in self.sandbox.calls()
                             if c.time >= killed_at and c.errcode == 0)
            self.unanswered.update(landed)
            self.sandbox.faults.latency = LATENCY
            detail = "; took effect unanswered: " + (_top(landed, None) or "none")
        self.note(f"daemon SIGKILL #{self.daemon_kills} ({moment}{detail})")
        return self.start()

    def kill_redis(self, outage: float, moment: str) -> None:
        self.server.kill()
        self.redis_kills += 1
        self.note(f"Redis SIGKILL #{self.redis_kills} ({moment})")
        time.sleep(outage)
        self.server.restart()
        self.redis_down_seconds += outage
        self.note(f"Redis restarted after {outage:.0f}s down")

    def invalidate_tokens(self, moment: str) -> None:
        self.tokens_invalidated += self.sandbox.invalidate_tokens(APP_ID)
        self.token_invalidations += 1
        self.note(f"token invalidation #{self.token_invalidations} ({moment})")


def add_praise(sandbox: Sandbox, world: World, count: int) -> set[tuple[int, int, int]]:
    """``count`` praise comments over the three articles (to elect and to reply to)."""
    added: set[tuple[int, int, int]] = set()
    for i in range(count):
        msg_data_id, index = TARGETS[i % len(TARGETS)]
        cid = sandbox.add_wechat_comment(APP_ID, msg_data_id, index, content=PRAISE,
                                         openid=f"oFanWave3{i:019d}")
        added.add((msg_data_id, index, cid))
    world.praise |= added
    return added


def count_ok(sandbox: Sandbox, endpoint: str) -> int:
    return len(ok_calls(sandbox, endpoint))


def at_least(value: Callable[[], int], target: int) -> Callable[[], bool]:
    return lambda: value() >= target


def missing(sandbox: Sandbox, world: World) -> str:
    """What is not done yet (for the summary of a run that did not converge)."""
    blacklisted, _ = blacklisted_in_calls(sandbox)
    gaps: dict[str, AbstractSet[object]] = {
        "deletes": world.spam_wechat - set(ok_counts(sandbox, "comment/delete")),
        "replies": world.praise - set(ok_counts(sandbox, "comment/reply/add")),
        "elects": world.praise - set(ok_counts(sandbox, "comment/markelect")),
        "blacklistings": world.spammers - set(blacklisted),
        "weibo destroys": {c for c in world.spam_weibo if not sandbox.weibo_comment(c)["deleted"]},
    }
    parts = [f"{name} {len(items)} (e.g. {sorted(map(str, items))[:3]})"
             for name, items in gaps.items() if items]
    return "; ".join(parts) or "nothing"


def doubled(sandbox: Sandbox, since: float) -> str:
    """Effects that succeeded more than once, with the times of their calls."""
    found: list[str] = []
    for endpoint in ("comment/delete", "comment/markelect", "comment/reply/add"):
        times: dict[tuple[int, int, int], list[float]] = {}
        for call in ok_calls(sandbox, endpoint):
            times.setdefault(comment_key(call), []).append(call.time - since)
        found += [f"{endpoint} {key} at " + ", ".join(f"t={t:.1f}s" for t in at)
                  for key, at in times.items() if len(at) > 1]
    blacklisted, _ = blacklisted_in_calls(sandbox)
    found += [f"batchblacklist {openid} x{n}" for openid, n in blacklisted.items() if n > 1]
    return "; ".join(found) or "nothing"


def summary(injector: Injector, sandbox: Sandbox, world: World, log: str,
            elapsed: float) -> str:
    calls = sandbox.calls()
    busy = Counter(c.endpoint for c in calls if (c.platform, c.errcode) in BUSY_CODES)
    html = [c for c in calls if c.fault == "html_5xx"]
    refused = [c for c in calls if c.errcode in TOKEN_REFUSED]
    unanswered = _top(injector.unanswered, None) or "none"
    lines = [
        "",
        "=" * 30 + " fault suite: what was injected " + "=" * 30,
        f"comments seeded:         {TOTAL} ({WAVE1_WECHAT}+{WAVE2_WECHAT}+{WAVE3_PRAISE} WeChat, "
        f"{WAVE1_WEIBO}+{WAVE2_WEIBO} Weibo, in three waves)",
        f"platform calls:          {len(calls)}",
        f"busy answers (-1/10001): {sum(busy.values())} of the calls "
        f"({_share(sum(busy.values()), len(calls))}; set {BUSY:.0%} of authenticated calls); "
        f"top: {_top(busy)}",
        f"HTML 502 pages:          {len(html)} ({_share(len(html), len(calls))})",
        f"token invalidations:     {injector.token_invalidations} "
        f"({injector.tokens_invalidated} tokens revoked; {len(refused)} calls refused "
        f"with 40001/42001; {sandbox.token_fetches(APP_ID)} token fetches)",
        f"Redis SIGKILLs:          {injector.redis_kills} "
        f"({injector.redis_down_seconds:.0f}s down in all)",
        f"daemon SIGKILLs:         {injector.daemon_kills} (process group: daemon + workers; "
        f"calls in flight that took effect unanswered: {unanswered})",
        "seen in the daemon's log: " + ", ".join(
            f"{name} {log.count(needle)}" for name, needle in LOG_EVENTS.items()
        ),
        "successful effects:      " + ", ".join(
            f"{endpoint} {count_ok(sandbox, endpoint)}" for endpoint in MUTATING
        ),
        f"not done:                {missing(sandbox, world)}",
        f"done twice:              {doubled(sandbox, injector.wall_started)}",
        f"run time:                {elapsed:.0f}s",
        "timeline:",
        *(f"  {line}" for line in injector.timeline),
        "=" * 92,
    ]
    return "\n".join(lines)


def _share(part: int, whole: int) -> str:
    return f"{part / whole:.1%}" if whole else "-"


def _top(counter: Counter[str], n: int | None = 4) -> str:
    return ", ".join(f"{endpoint} {count}" for endpoint, count in counter.most_common(n))


@pytest.mark.timeout(600)
def test_a_thousand_comments_through_busy_502_tokens_redis_and_daemon_kills(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], record_property: Callable[[str, object],
                                                                                  None],
) -> None:
    began = time.monotonic()
    server = EmbeddedRedis(state_dir=tmp_path / "redis")
    server.start()
    try:
        with make_sandbox(max_calls=1_000_000) as sandbox:
            world = World()
            add_wechat(sandbox, world, WAVE1_WECHAT, spammers=SPAMMERS)
            add_weibo(sandbox, world, WAVE1_WEIBO)
            sandbox.faults.busy_probability = BUSY
            sandbox.faults.html_5xx_probability = HTML_5XX
            sandbox.faults.latency = LATENCY
            config = write_config(tmp_path, sandbox.url, redis_url=server.url, interval="1s")
            log_path = tmp_path / "daemon.log"
            inj = Injector(sandbox=sandbox, server=server, config=config, log_path=log_path)
            inj.start()
            code: int | None = None
            try:
                _inject(inj, sandbox, world)
                wait_for(lambda: all_done(sandbox, world), timeout=FINAL_TIMEOUT,
                         what="every action after the last fault", child=inj.daemon)
                inj.note("every action done")
                time.sleep(3)  # a few more polls and flushes: nothing may happen twice
            finally:
                assert inj.daemon is not None
                code = inj.daemon.stop()
                inj.note(f"daemon stopped (exit {code})")
                log = log_path.read_text(encoding="utf-8", errors="replace")
                text = summary(inj, sandbox, world, log, time.monotonic() - began)
                record_property("fault_injection_summary", text)
                with capsys.disabled():
                    sys.stderr.write(text + "\n")
            assert code == 0, log[-3000:]
            assert inj.token_invalidations == 3 and inj.tokens_invalidated >= 3
            assert inj.redis_kills == 2 and inj.daemon_kills == 3
            assert_exactly_once(sandbox, world)
            for secret in SECRETS:
                assert secret not in log, "a secret in the daemon's log"
            leaked = TOKEN_VALUE.search(log)
            assert leaked is None, f"an access token in the daemon's log: {leaked}"
    finally:
        server.stop()


def _inject(inj: Injector, sandbox: Sandbox, world: World) -> None:
    """The faults, in order, each when its moment has come."""
    wave1_spam = set(world.spam_wechat)

    def wait(predicate: Callable[[], bool], what: str) -> None:
        wait_for(predicate, timeout=STEP_TIMEOUT, what=what, child=inj.daemon)

    def deletes() -> int:
        return count_ok(sandbox, "comment/delete")

    def lists() -> int:
        return count_ok(sandbox, "comment/list")

    # 1. The daemon dies while it is still listing the first wave.
    wait(at_least(lists, 3), "the first list pages")
    inj.kill_daemon("mid-listing")

    # 2. ... and again while blacklist batches are in flight.
    wait(lambda: len(sandbox.calls("tags/members/batchblacklist")) >= 1,
         "the first blacklist batch")
    inj.kill_daemon("blacklist batches in flight", mid_call=True)
    sent, _ = blacklisted_in_calls(sandbox)
    assert world.spammers - set(sent), "the second kill came after every batch was sent"

    # 3. Tokens revoked while the deletes go on.
    target = min(deletes() + 5, len(wave1_spam))
    wait(at_least(deletes, target), "more deletes")
    inj.invalidate_tokens("deletes in progress")

    # 4. Redis dies while single actions are in flight (a short outage).
    target = min(deletes() + 40, len(wave1_spam))
    wait(at_least(deletes, target), "40 more deletes")
    inj.kill_redis(SHORT_OUTAGE, "single actions in flight")

    # 5. The second wave arrives; tokens revoked again once it is being acted on.
    add_wechat(sandbox, world, WAVE2_WECHAT, spammers=SPAMMERS, start=WAVE1_WECHAT)
    add_weibo(sandbox, world, WAVE2_WEIBO, start=WAVE1_WEIBO)
    wave2_spam = world.spam_wechat - wave1_spam
    inj.note("second wave added")

    def wave2_deleted() -> int:
        return len(wave2_spam & set(ok_counts(sandbox, "comment/delete")))

    wait(at_least(wave2_deleted, 1), "the first delete of the second wave")
    inj.invalidate_tokens("second wave being acted on")

    # 6. A third wave, praise only; the daemon dies a third time with its elects and replies
    # on their way: the platform carries them out, the daemon never hears of it.
    wave3 = add_praise(sandbox, world, WAVE3_PRAISE)
    inj.note("third wave (praise only) added")

    def wave3_elect_calls() -> int:
        return sum(comment_key(c) in wave3 for c in sandbox.calls("comment/markelect"))

    wait(at_least(wave3_elect_calls, 1), "the first elect of the third wave")
    inj.kill_daemon("third wave's elects in flight", mid_call=True)

    # 7. Tokens revoked once the restarted daemon lists again.
    target = lists() + 3
    wait(at_least(lists, target), "listing again after the restart")
    inj.invalidate_tokens("right after the restart")

    # 8. Redis dies again, for longer than the clients' own retries last; from here on the
    # last daemon must recover by itself.
    wait(at_least(wave2_deleted, len(wave2_spam) // 2), "half of the second wave's deletes")
    inj.kill_redis(LONG_OUTAGE, "second wave in flight, after the last daemon restart")
