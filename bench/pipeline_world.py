"""The pipeline benchmark's world: two accounts over ten targets, the rules, the generated
comments and what each should get, the sandbox seed and the daemon's config (also used by
bench/soak.py and bench/wave_bench.py)."""

from __future__ import annotations

import random
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench.corpus import make_corpus
from worker.comment import Comment
from worker.rules import InMemoryOffenseCounter, RuleSet
from worker.waves.wave_rules import wave_rules

APP_ID = "wxbench0000000001"
APP_SECRET = "wx-secret-for-the-pipeline-bench"
WEIBO_TOKEN = "2.00pipeline-bench-weibo-token"
WEIBO_UID = 1404376560
WECHAT_ACCOUNT = "oa"
WEIBO_ACCOUNT = "wb"
WECHAT_PAGE = 49  # comment/list count the daemon uses (polling.page_size)
WEIBO_PAGE = 50  # comments/show count the Weibo client uses
BATCH = 20  # ids per blacklist / destroy call

RULES = r"""
version: 1
lists:
  contact_lures: [加v, 加微, 薇信, 威信, 私聊领取, 代开发票]
  gambling_terms: [博彩, 网赌, 百家乐, 时时彩, 真人荷官, 注册送彩金, 彩金, 首充送]
  abuse_cjk: [傻逼, 煞笔, 脑残, 智障, 狗东西, 废物东西]
  praise_terms: [写得太好了, 受益匪浅, 干货满满, 讲得透彻]
rules:
  - id: contact-spam
    priority: 100
    when:
      any:
        - content: {includes: [$contact_lures]}
        - content:
            regex:
              - '(?:qq|扣扣|企鹅)\s*(?:号)?\s*[:：]?\s*\d{5,11}'
              - '1[3-9](?:[\s.-]?\d){9}'
              - '(?:https?://|www\.)[a-z0-9.-]+\.[a-z]{2,}'
    then: [delete, blacklist]
    stop: true
  - id: gambling
    priority: 90
    when:
      content: {includes: [$gambling_terms]}
    then: [delete, blacklist]
    stop: true
  - id: abuse
    priority: 50
    when:
      content: {includes: [$abuse_cjk]}
    then: [delete]
  - id: repeat-offender
    priority: 40
    platforms: [wechat]
    when:
      author:
        offenses: {at_least: 3, within: 7d}
    then: [delete, blacklist]
  - id: praise
    priority: 10
    platforms: [wechat]
    when:
      content: {includes: [$praise_terms], min_length: 12}
      comment: {elected: false, replied: false}
    then: [elect]
"""

#: ``--wave-rules``: a ``repeated`` and an ``author.burst`` rule evaluated on every comment
#: (shadow, so the expected actions stay those of RULES; a shadow rule costs what an enforced
#: one does: every comment is recorded in the wave state and looked up).
WAVE_RULES = wave_rules(at_least=5, within="1h", burst_at_least=8, burst_within="10m",
                        mode="shadow", document=False)

SPAM_TEMPLATES = (
    "加v：abc{n} 领资料，{t}",
    "想要原版资料的私聊领取 {t}",
    "联系电话 13{d}-{a}-{b} {t}",
    "点这里 https://spam{n}.example.com/x {t}",
    "ＱＱ：{q} 带你赚钱 {t}",
    "百 家 乐 稳赚不赔 {t}",
    "真人荷官在线发牌，注册送彩金！{t}",
    "博-彩 首充送100% {t}",
)
ABUSE_TEMPLATES = ("小编就是个智障吧 {t}", "狗 东 西，{t}", "{t} 脑残文章")
PRAISE = "写得太好了，逻辑清晰，受益匪浅！{t}"


# -- the workload ------------------------------------------------------------------------

@dataclass(frozen=True)
class Target:
    platform: str  # wechat | weibo
    account: str
    key: str  # "<msg_data_id>:<index>" or the status id
    msg_data_id: int = 0
    index: int = 0
    status_id: int = 0


@dataclass
class Item:
    """One generated comment, and (after seeding) its sandbox id and expected actions."""

    target: Target
    content: str
    author: str  # openid, or a Weibo uid as a decimal string
    kind: str  # ordinary | spam | abuse | praise
    cid: str = ""
    actions: tuple[str, ...] = ()

    def comment(self) -> Comment:
        return Comment(platform="wechat" if self.target.platform == "wechat" else "weibo",
                       id=self.cid or "0", content=self.content, account=self.target.account,
                       target=self.target.key, author=self.author)

    def action_keys(self) -> list[tuple[str, str, str]]:
        """The audit identities of this comment's expected action outcomes."""
        keys = []
        for action in self.actions:
            if action == "blacklist":
                keys.append(("blacklist", "", self.author))
            elif self.target.platform == "weibo":
                keys.append((action, "weibo", self.cid))
            else:
                keys.append((action, self.target.key, self.cid))
        return keys


def make_targets() -> list[Target]:
    wechat = [
        Target("wechat", WECHAT_ACCOUNT, f"{msg}:{index}", msg_data_id=msg, index=index)
        for msg in (2247483650, 2247483700, 2247483750, 4294967296123) for index in (0, 1)
    ]
    weibo = [Target("weibo", WEIBO_ACCOUNT, str(s), status_id=s)
             for s in (4890123456789012, 4890123456799999)]
    return wechat + weibo


class Generator:
    """Deterministic comments: corpus text, with spam, abuse and praise mixed in."""

    def __init__(self, *, seed: int, texts: int = 20_000) -> None:
        self.rng = random.Random(seed)
        self.texts = make_corpus(seed=seed, n_comments=texts, n_cn_terms=50, n_en_terms=10,
                                 n_regexes=5, hit_rate=0.0).comments
        self.serial = 0
        self.spammer_serial = 0

    def _text(self) -> str:
        return self.rng.choice(self.texts)

    def make(self, targets: Sequence[Target], count: int, *, spam: float, abuse: float,
             praise: float, spammer_reuse: int = 4) -> list[Item]:
        items = []
        for i in range(count):
            target = targets[i % len(targets)]
            self.serial += 1
            r = self.rng.random()
            if r < spam:
                kind = "spam"
                # Each spammer posts about ``spammer_reuse`` times: blacklist batches dedupe.
                spammer = self.rng.randrange(self.spammer_serial,
                                             self.spammer_serial + max(1, spammer_reuse))
                if self.rng.random() < 1 / max(1, spammer_reuse):
                    self.spammer_serial += 1
                content = self.rng.choice(SPAM_TEMPLATES).format(
                    n=self.serial, d=self.rng.randint(0, 9), a=self.rng.randint(1000, 9999),
                    b=self.rng.randint(1000, 9999), q=self.rng.randint(10**6, 10**9),
                    t=self._text()[:20])
                author = self._author(target, f"Spam{spammer}", 900_000_000 + spammer)
            elif r < spam + abuse:
                kind = "abuse"
                content = self.rng.choice(ABUSE_TEMPLATES).format(t=self._text()[:30])
                author = self._author(target, f"User{self.serial}", 100_000_000 + self.serial)
            elif r < spam + abuse + praise and target.platform == "wechat":
                kind = "praise"
                content = PRAISE.format(t=self._text()[:20])
                author = self._author(target, f"User{self.serial}", 100_000_000 + self.serial)
            else:
                kind = "ordinary"
                content = self._text()
                author = self._author(target, f"User{self.serial}", 100_000_000 + self.serial)
            items.append(Item(target=target, content=content, author=author, kind=kind))
        return items

    @staticmethod
    def _author(target: Target, name: str, uid: int) -> str:
        if target.platform == "wechat":
            return f"o{name}".ljust(28, "x")[:28]
        return str(uid)


def expect(rules: RuleSet, items: Sequence[Item]) -> None:
    """Ground truth: the actions the rules plan for each comment (order-independent here:
    spammers only post spam that a stop rule catches first, every other author posts once)."""
    offenses = InMemoryOffenseCounter()
    for item in items:
        decision = rules.evaluate(item.comment(), offenses=offenses, now=time.time())
        item.actions = tuple(a.type for a in decision.actions if a.mode == "enforce")


def seed_document(targets: Sequence[Target], items: Sequence[Item]) -> dict[str, Any]:
    """The sandbox seed: the app, the articles and posts, every item in order."""
    articles: dict[str, list[dict[str, Any]]] = {t.key: [] for t in targets
                                                  if t.platform == "wechat"}
    posts: dict[str, list[dict[str, Any]]] = {t.key: [] for t in targets
                                               if t.platform == "weibo"}
    for item in items:
        if item.target.platform == "wechat":
            articles[item.target.key].append({"content": item.content, "openid": item.author})
        else:
            posts[item.target.key].append({"text": item.content, "uid": int(item.author)})
    return {
        "wechat": {"apps": [{
            "app_id": APP_ID, "app_secret": APP_SECRET,
            "articles": [
                {"msg_data_id": t.msg_data_id, "index": t.index, "comments": articles[t.key]}
                for t in targets if t.platform == "wechat"
            ],
        }]},
        "weibo": {
            "tokens": [{"access_token": WEIBO_TOKEN, "uid": WEIBO_UID, "screen_name": "brand"}],
            "posts": [
                {"status_id": t.status_id, "owner_uid": WEIBO_UID, "text": "post",
                 "comments": posts[t.key]}
                for t in targets if t.platform == "weibo"
            ],
        },
    }


def assign_ids(targets: Sequence[Target], items: Sequence[Item], report: dict[str, Any]) -> None:
    """Give each item the sandbox id the seed report lists for it (same order per target)."""
    wechat: dict[str, list[str]] = {}
    for _app, msg, index, cid in report["wechat_comments"]:
        wechat.setdefault(f"{msg}:{index}", []).append(str(cid))
    weibo_ids = [str(cid) for cid in report["weibo_comments"]]
    weibo: dict[str, list[str]] = {}
    # Weibo ids come in seed order: posts in target order, comments in item order.
    cursor = 0
    for target in targets:
        if target.platform != "weibo":
            continue
        n = sum(1 for it in items if it.target.key == target.key)
        weibo[target.key] = weibo_ids[cursor:cursor + n]
        cursor += n
    position: Counter[str] = Counter()
    for item in items:
        source = wechat if item.target.platform == "wechat" else weibo
        item.cid = source[item.target.key][position[item.target.key]]
        position[item.target.key] += 1


def write_config(directory: Path, *, redis_url: str, sandbox_url: str, targets: Sequence[Target],
                 interval: float, batch_wait: float, rules_text: str = RULES) -> Path:
    rules = directory / "rules"
    rules.mkdir(exist_ok=True)
    (rules / "bench.yaml").write_text(rules_text, encoding="utf-8")
    lines = [
        f"redis: {{url: '{redis_url}'}}",
        f"state_dir: {directory / 'var'}",
        "rules: [rules/]",
        # max_interval = interval: the bench measures the pipeline at one poll interval, not
        # the adaptive polling (bench/polling_sim.py does)
        f"polling: {{interval: {interval}s, max_interval: {interval}s, jitter: 0.1, "
        f"full_pass_interval: 15m, page_size: {WECHAT_PAGE}}}",
        f"actions: {{max_retries: 8, min_backoff: 200ms, max_backoff: 5s, "
        f"batch_max_wait: {batch_wait}s}}",
        "accounts:",
        f"  - name: {WECHAT_ACCOUNT}",
        "    platform: wechat",
        f"    app_id: {APP_ID}",
        "    app_secret: ${BENCH_WX_SECRET}",
        f"    api_base: {sandbox_url}",
        "    targets:",
        *(f"      - {{msg_data_id: {t.msg_data_id}, index: {t.index}}}"
          for t in targets if t.platform == "wechat"),
        f"  - name: {WEIBO_ACCOUNT}",
        "    platform: weibo",
        "    access_token: ${BENCH_WB_TOKEN}",
        f"    api_base: {sandbox_url}",
        "    targets:",
        *(f"      - {{status_id: {t.status_id}}}" for t in targets if t.platform == "weibo"),
    ]
    text = "\n".join(lines) + "\n"
    config = directory / "config.yaml"
    config.write_text(text, encoding="utf-8")
    return config
