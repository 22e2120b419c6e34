"""``modworker demo``: its data against the example rules, and the whole run end to end.

The end-to-end test runs the real command (sandbox process, daemon, embedded Redis, worker
processes) and then looks for any process still carrying the demo's mark in its environment:
every process the demo starts, and their children, inherit ``MODWORKER_DEMO_DIR``.
"""

from __future__ import annotations

import os
import random
import re
import signal
import subprocess
import sys
from pathlib import Path

import pytest
import redis

from worker.comment import Comment
from worker.demo.data import ARTICLES, STATUS_ID, TRUSTED_STAFF, DemoData, seed_document
from worker.demo.processes import MARK_VARIABLE, DemoProcesses
from worker.demo.setup import WAVE_RULE, WAVE_RULES, example_config_path, load_example
from worker.errors import ProcessWaitError
from worker.rules import load_rules
from worker.subprocesses import marked_pids
from worker.waves.redis_state import RedisWaveState

REPO = Path(__file__).resolve().parent.parent

EXPECTED_RULE = {
    "contact": "contact-spam",
    "gambling": "gambling-ads",
    "abuse": "abuse",
    "praise": "praise-elect",
    "short_praise": "short-praise-trial",
}


def test_demo_data_is_deterministic_and_sized() -> None:
    first = DemoData(now=1_700_000_000)
    second = DemoData(now=1_700_000_000)
    seed = first.seed()
    assert seed == second.seed()
    assert first.wave(20, repeat_offenders=True) == second.wave(20, repeat_offenders=True)
    assert 150 <= len(seed) + 3 * 20 + 3 <= 250
    wechat_targets = {c.target for c in seed if c.platform == "wechat"}
    assert wechat_targets == set(ARTICLES)
    assert {c.target for c in seed if c.platform == "weibo"} == {STATUS_ID}
    kinds = {c.kind for c in seed}
    assert {"contact", "gambling", "abuse", "praise", "short_praise", "ordinary",
            "staff"} <= kinds
    assert any(c.author is None for c in seed), "some comments have no openid"
    spam_authors = [c.author for c in seed
                    if c.platform == "wechat" and c.kind in ("contact", "gambling") and c.author]
    assert len(set(spam_authors)) < len(spam_authors), "spammers come back"
    text = "".join(c.content for c in seed)
    assert "\u200b" in text or "\u200d" in text  # zero-width characters
    assert "ｑｑ：" in text  # full-width


def test_seed_document_loads_into_a_sandbox() -> None:
    from worker.sandbox import Sandbox

    seed = DemoData(now=1_700_000_000).seed()
    sandbox = Sandbox(port=0)  # never started: seeding needs no server
    report = sandbox.load_seed(seed_document(seed, busy=0.0))
    assert len(report["wechat_comments"]) + len(report["weibo_comments"]) == len(seed)


def test_every_demo_comment_meets_the_rule_it_was_written_for() -> None:
    """The example rules and the demo data must not drift apart: each kind of comment is
    decided by the rule it shows off, and the ordinary ones (near misses included) by none."""
    example = load_example(example_config_path())
    rules = load_rules(example.rules, accounts={example.wechat_account: "wechat",
                                                example.weibo_account: "weibo"})
    data = DemoData(now=1_700_000_000)
    comments = data.seed() + data.wave(40) + data.wave(40)
    wrong = []
    for n, demo in enumerate(comments):
        account = example.wechat_account if demo.platform == "wechat" else example.weibo_account
        comment = Comment(platform=demo.platform, id=str(n), content=demo.content,
                          account=account, author=None if demo.author is None
                          else str(demo.author), created_at=demo.created_at)
        matched = rules.evaluate(comment, now=1_700_000_000).matched
        expected = EXPECTED_RULE.get(demo.kind)
        if demo.platform == "weibo" and expected in ("praise-elect", "short-praise-trial"):
            expected = None  # WeChat-only rules
        right = not matched if expected is None else expected in matched
        if not right:
            wrong.append((demo.kind, demo.platform, demo.content, matched))
    assert not wrong, wrong
    assert any(c.author == TRUSTED_STAFF for c in comments)


@pytest.mark.parametrize("order", ["oldest first", *(f"shuffled {n}" for n in range(8))])
def test_the_demo_wave_rule_cuts_the_advertisement_and_no_reader(
    tmp_path: Path, redis_client: redis.Redis, order: str
) -> None:
    """The demo's wave rule on the demo's WeChat comments (seeded, the live waves' worth
    and the advertisement's live copies), decided in order and, as the daemon may (articles
    polled apart, pages newest first), out of order: it cuts the advertisement's copies, the
    first four as a wave's earlier members, and none of the readers' ordinary comments that
    repeat a phrase (five of one, 69 minutes apart, were cut as a 1h wave)."""
    (tmp_path / "waves.yaml").write_text(WAVE_RULES, encoding="utf-8")
    rules = load_rules([tmp_path / "waves.yaml"], channels={"moderators"})
    now = 1_700_000_000
    data = DemoData(now=now)
    seeded = data.seed() + data.copies(4, start=0, live=False)
    live = data.wave(20) + data.copies(4, start=4, live=True) + data.wave(20) + data.wave(20)
    comments = [(demo, demo.created_at or now + n)
                for n, demo in enumerate(seeded + live) if demo.platform == "wechat"]
    comments.sort(key=lambda pair: pair[1])
    if order.startswith("shuffled"):
        random.Random(int(order.split()[1])).shuffle(comments)
    state = RedisWaveState(redis=redis_client)  # the daemon's: decided in any order
    cut: dict[str, str] = {}
    for n, (demo, created) in enumerate(comments):
        comment = Comment(platform="wechat", id=str(n), content=demo.content, account="main-oa",
                          author=str(demo.author) if demo.author else None, created_at=created)
        decision = rules.evaluate(comment, waves=state, now=now + 600)
        if decision.matched:
            cut[comment.id] = demo.kind
            cut.update((m.id, comments[int(m.id)][0].kind)
                       for m in decision.waves.get(WAVE_RULE, ()))
    assert sorted(cut.values()) == ["wave"] * 8


@pytest.mark.slow
def test_demo_runs_the_whole_pipeline_and_leaves_nothing_behind() -> None:
    process = subprocess.Popen(
        [sys.executable, "-m", "worker.cli", "demo", "--duration", "8"],
        cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        env={k: v for k, v in os.environ.items() if k != MARK_VARIABLE},
    )
    try:
        out, err = process.communicate(timeout=120)
    except subprocess.TimeoutExpired:
        # SIGTERM lets the demo stop what it started; SIGKILL would orphan it.
        process.send_signal(signal.SIGTERM)
        out, err = process.communicate(timeout=120)
        pytest.fail(f"the demo did not finish within 120 s:\n{out}\n{err}")
    assert process.returncode == 0, f"stdout:\n{out}\nstderr:\n{err}"
    found = re.search(r"working in (\S+)", out)
    assert found, out
    workdir = found.group(1)

    left = marked_pids(MARK_VARIABLE, workdir)
    assert not left, f"processes of the demo still running: {left}"
    assert not Path(workdir).exists(), "the temporary directory is removed after a success"

    # Live progress, then the summary.
    assert "starting sandbox" in out and "daemon running" in out
    assert re.search(r"adding \d+ new comments", out)
    assert "daemon stopped (exit 0)" in out
    short = re.search(r"in short: (\d+) deletions, (\d+) openids blacklisted, (\d+) comments "
                      r"elected", out)
    assert short, out
    deletions, blacklisted, elected = map(int, short.groups())
    assert deletions > 0 and blacklisted > 0 and elected > 0, out
    hits = dict(re.findall(r"^\s+(contact-spam|gambling-ads|abuse|praise-elect)\s+(\d+)", out,
                           re.MULTILINE))
    assert set(hits) == {"contact-spam", "gambling-ads", "abuse", "praise-elect"}, out
    assert all(int(n) > 0 for n in hits.values()), hits
    for line in ("WeChat blacklist batches", "Weibo destroy batches"):
        batches = re.search(rf"{line}: *(\d+) calls?, sizes ([\d, ]+) \(", out)
        assert batches, out
        sizes = [int(s) for s in batches.group(2).split(",")]
        assert 1 <= max(sizes) <= 20, sizes
    assert re.search(r"^\s+comment/delete\s+\d+", out, re.MULTILINE), out
    assert "→ contact-spam → delete ok" in out


def test_a_daemon_that_cannot_start_is_told_with_the_end_of_its_log(tmp_path: Path) -> None:
    config = tmp_path / "config.yaml"
    config.write_text("accounts: not a list\n", encoding="utf-8")
    processes = DemoProcesses(tmp_path)
    said: list[str] = []
    try:
        with pytest.raises(ProcessWaitError) as caught:
            processes.start_daemon(config, {})
    finally:
        processes.cleanup(said.append)
    message = str(caught.value)
    assert message.startswith("the daemon exited with status 1 while waiting for the daemon "
                              "to be ready; the end of its log:\n"), message
    assert "config.yaml" in message and "accounts" in message, message
    assert said == []  # nothing left to stop or kill
