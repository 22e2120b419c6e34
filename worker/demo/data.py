"""The comments ``modworker demo`` seeds the sandbox with and adds while the daemon runs.

Generated from a fixed seed, so every run shows the same comments (the daemon's timing, and
so the batch sizes, may still vary a little). The mix is what a moderator of a Chinese
account sees: contact-detail lures in their disguises (``加v``, ``薇 信``, full-width
``ｑｑ：１２３４５６７８``, zero-width characters and emoji between the characters, phone
numbers, links), gambling ads, abuse, praise worth featuring, short praise (for the shadow
rule), and ordinary comments, some of which look like spam to a naive filter (``微信支付很方便``,
``usb接口``, ``去死皮``). Spammers come back under the same openid (blacklisted once), some
comments have no openid (nothing to blacklist), a staff member's openid is trusted by the
contact rule, and three abusers post again later, when ``repeat-offender`` removes even their
harmless comments.

Nothing here is secret: the app secret and the Weibo token are sandbox values.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from typing import Any, Literal

from worker.platform_specs import Platform

APP_ID = "wxd3m0a1b2c3d4e5f6"
APP_SECRET = "demo-sandbox-app-secret-0001"
WEIBO_TOKEN = "2.00demoSandboxWeiboToken0001"
WEIBO_OWNER_UID = 1404376560
# Two WeChat articles (one beyond 32 bits, as real msg_data_ids are) and one Weibo post.
ARTICLES: tuple[tuple[int, int], ...] = ((2247483650, 0), (2247484012, 1))
STATUS_ID = 4890123456789012
# Published while the demo runs: a WeChat mass send (two articles) that a publishing script
# adds with `modworker targets add <link>`, and a Weibo post the account listing finds alone.
NEW_ARTICLE = 2247485101
NEW_STATUS_ID = 4890123456790001
TRUSTED_STAFF = "oStaff000000000000000000001"  # in rules/contact-spam.yaml's trusted_authors
SEED = 20240611

Kind = Literal["contact", "gambling", "abuse", "praise", "short_praise", "ordinary", "staff",
               "repeat", "wave"]

#: A copy-paste advertisement posted by many fresh accounts, each copy varied a little, so
#: that no term list keeps up: the demo's own `content.repeated` rule cuts the wave.
WAVE_AD = "姐妹们这款面霜真的好用，三天见效，主页有同款链接"
_WAVE_NOISE = ["😍", "！", "~", "呀", "👍", "7", "1", "哦"]


@dataclass(frozen=True, slots=True)
class DemoComment:
    """One comment to add: where, what, by whom, and what kind (for the demo's own counts)."""

    platform: Platform
    target: tuple[int, int] | int  # (msg_data_id, index) on WeChat, status id on Weibo
    content: str
    author: str | int | None  # openid (None: none), Weibo uid
    kind: Kind
    created_at: int | None = None  # None: when it is added (live waves)

    def admin_call(self) -> tuple[str, dict[str, Any]]:
        """The sandbox admin path and body that add this comment."""
        if self.platform == "wechat":
            assert isinstance(self.target, tuple)
            body: dict[str, Any] = {
                "app_id": APP_ID, "msg_data_id": self.target[0], "index": self.target[1],
                "content": self.content, "openid": self.author,
            }
            if self.created_at is not None:
                body["create_time"] = self.created_at
            return "wechat/comment", body
        body = {"status_id": self.target, "text": self.content, "uid": self.author}
        if self.created_at is not None:
            body["created_at"] = self.created_at
        return "weibo/comment", body


_WX_NAMES = ["abc", "xiaomei", "kefu", "zl", "vip", "money", "jiaoyu", "meimei", "ww", "hh"]
_FULLWIDTH = str.maketrans("0123456789", "０１２３４５６７８９")
_ZWSP = "\u200b"
_ZWJ = "\u200d"


def _wxid(rng: random.Random) -> str:
    return f"{rng.choice(_WX_NAMES)}{rng.choice(['_', '', '-'])}{rng.randint(1000, 999999)}"


def _phone(rng: random.Random) -> str:
    digits = f"1{rng.choice('3456789')}{rng.randint(0, 999_999_999):09d}"
    style = rng.randrange(4)
    if style == 0:
        return f"{digits[:3]}-{digits[3:7]}-{digits[7:]}"
    if style == 1:
        return f"{digits[:3]} {digits[3:7]} {digits[7:]}"
    if style == 2:
        return digits
    return digits.translate(_FULLWIDTH)


def _qq(rng: random.Random) -> str:
    return str(rng.randint(10_000_000, 3_999_999_999))


def _contact(rng: random.Random) -> str:
    wx, phone, qq = _wxid(rng), _phone(rng), _qq(rng)
    templates = [
        f"加v：{wx} 领取全套学习资料",
        f"薇 信 {wx}，私聊有惊喜",
        f"想要原文件的加 V X：{wx}",
        f"ｑｑ：{qq.translate(_FULLWIDTH)} 免费送课程",
        f"有兴趣的加QQ {qq}，带你赚钱",
        f"加{_ZWSP}微{_ZWSP}领取福利，名额有限",
        f"兼职日结，加{_ZWJ}我{_ZWJ}微{_ZWJ}信 {wx}",
        f"威🌹信：{wx} 批发价拿货",
        f"薇❤️信同号 {wx}",
        f"有需要的联系 {phone}",
        f"低价代购，电话 {phone} 微同号",
        f"代开发票，正规税点低，详询 {phone}",
        f"点这里领取红包 https://hb{rng.randint(10, 99)}.example.com/get",
        f"完整版视频在 www.kan{rng.randint(100, 999)}.example.net 免费看",
        "扫码进群，进群领取独家资料",
        f"想赚钱的私聊我，t.me/easy_money{rng.randint(10, 99)}",
        f"淘宝刷单，日赚三百，加vx {wx}",
        f"企鹅号 {qq} 教你做副业",
    ]
    return rng.choice(templates)


_GAMBLING = [
    "真人荷官在线发牌，注册送彩金！",
    "百 家 乐 稳赚不赔，日入过万不是梦",
    "首充送100%，体育投注认准大牌平台",
    "澳门赌场线上开业，每日返水1.5%",
    "时时彩计划群，跟着下注稳赚",
    "线上娱乐城注册就送38元彩金",
    "六合彩内部资料，每期必中",
    "网赌上岸的兄弟都知道这个下注平台",
    "博-彩 行业招代理，月入十万",
]

_ABUSE = [
    "小编是不是脑残，这也能发？",
    "写的什么垃圾，傻逼",
    "what the fuck is this",
    "狗 东 西，收了多少钱写这种文章",
    "智障文章，浪费时间",
    "SB小编，赶紧删了吧",
    "草泥马的，又是广告",
    "煞笔作者滚出去",
]

_PRAISE = [
    "写得太好了，逻辑清晰，受益匪浅，期待下一篇",
    "干货满满，已经转发给同事了，感谢分享！",
    "讲得透彻，终于搞懂了这个问题，收藏了",
    "太棒了！这篇把来龙去脉讲得清清楚楚",
    "学到了，原来背后有这么多门道，感谢作者",
    "写得好，数据翔实，观点也很中肯，支持一下",
    "说得好！尤其是第三部分，说出了我们行业的心声",
]

_SHORT_PRAISE = ["写得好", "太棒了！", "学到了", "收藏了", "感谢分享"]

_ORDINARY = [
    "这个观点我不同意，数据来源是哪里？",
    "第三段的图表看不清楚，能发个高清的吗",
    "我们公司也遇到过类似的情况",
    "请问下一期什么时候更新",
    "微信支付很方便，但是手续费有点高",
    "我用微信看的这篇文章，排版有点乱",
    "我的微信号被封了，有人知道怎么申诉吗",
    "usb接口坏了是不是只能换主板",
    "去死皮的方法有哪些？求推荐",
    "2024年的数据是13.5%，比去年高",
    "彩票站门口排长队，这个现象挺有意思",
    "前排",
    "打卡",
    "有没有人一起讨论一下第二个问题",
    "作者能不能讲讲具体怎么操作",
    "已经转发到家族群了",
    "楼上说得对",
    "希望多出一些这样的内容",
    "class 和 assistant 这两个词怎么区分",
    "周末去现场看了，人很多",
]

_STAFF = [
    "活动报名有问题的可以加v：modworker_help 咨询，工作时间回复",
    "感谢大家的留言，抽奖结果明天公布，联系电话 138-0000-1234",
]

# Kinds and their weights in the random mix (seed and waves alike).
_MIX: tuple[tuple[Kind, int], ...] = (
    ("contact", 26), ("gambling", 10), ("abuse", 8), ("praise", 9), ("short_praise", 5),
    ("ordinary", 42),
)


class DemoData:
    """A deterministic generator of demo comments: :meth:`seed`, then :meth:`wave` a few times."""

    def __init__(self, seed: int = SEED, *, now: int) -> None:
        self._rng = random.Random(seed)
        self._now = now
        self._spammers = [f"oSpam{self._rng.getrandbits(88):022x}" for _ in range(24)]
        self._abusers = [f"oRude{self._rng.getrandbits(88):022x}" for _ in range(3)]
        self._readers = 0
        self._weibo_users = 0

    # -- authors -------------------------------------------------------------------------

    def _reader(self) -> str:
        self._readers += 1
        return f"oRead{self._readers:022d}"

    def _weibo_uid(self) -> int:
        self._weibo_users += 1
        return 6_000_000_000 + self._weibo_users * 7

    def _author(self, platform: Platform, kind: Kind) -> str | int | None:
        rng = self._rng
        if platform == "weibo":
            return self._weibo_uid()
        if kind in ("contact", "gambling"):
            if rng.random() < 0.1:
                return None  # e.g. a commenter without a WeChat identity: nothing to blacklist
            # A small pool: spammers come back, and are blacklisted only once.
            return rng.choice(self._spammers)
        if kind == "ordinary" and rng.random() < 0.04:
            return None
        return self._reader()

    def _text(self, kind: Kind) -> str:
        rng = self._rng
        if kind == "contact":
            return _contact(rng)
        table = {"gambling": _GAMBLING, "abuse": _ABUSE, "praise": _PRAISE,
                 "short_praise": _SHORT_PRAISE, "ordinary": _ORDINARY, "staff": _STAFF}[kind]
        return rng.choice(table)

    def _one(self, platform: Platform, target: tuple[int, int] | int, *, live: bool) -> DemoComment:
        kinds, weights = zip(*_MIX, strict=True)
        kind: Kind = self._rng.choices(kinds, weights)[0]
        if platform == "weibo" and kind in ("praise", "short_praise"):
            kind = "ordinary"  # the praise rules are WeChat-only; keep Weibo's mix plain
        created = None if live else self._now - self._rng.randint(60, 6 * 3600)
        return DemoComment(platform, target, self._text(kind), self._author(platform, kind),
                           kind, created)

    def _targets(self) -> list[tuple[Platform, tuple[int, int] | int]]:
        targets: list[tuple[Platform, tuple[int, int] | int]] = [
            ("wechat", article) for article in ARTICLES
        ]
        targets.append(("weibo", STATUS_ID))
        return targets

    # -- batches of comments -------------------------------------------------------------

    def seed(self, per_target: int = 55) -> list[DemoComment]:
        """The comments present before the daemon starts, oldest first."""
        out: list[DemoComment] = []
        targets = self._targets()
        for _ in range(per_target):
            for platform, target in targets:
                out.append(self._one(platform, target, live=False))
        # The trusted staff account and the three abusers (three insults each, so that their
        # next comment meets repeat-offender).
        for i, text in enumerate(_STAFF):
            out.append(DemoComment("wechat", ARTICLES[i % 2], text, TRUSTED_STAFF, "staff",
                                   self._now - 3600 * (i + 1)))
        for n, abuser in enumerate(self._abusers):
            for k in range(3):
                out.append(DemoComment("wechat", ARTICLES[(n + k) % 2], _ABUSE[(n * 3 + k) % 8],
                                       abuser, "abuse", self._now - 7200 + 600 * k))
        out.sort(key=lambda c: c.created_at or 0)
        return out

    def on_new_targets(self) -> list[DemoComment]:
        """Comments on what is published mid-run: the new articles' first readers (a contact
        spammer among them) and the new post's."""
        out = [
            DemoComment("wechat", (NEW_ARTICLE, 0), self._text("contact"),
                        self._author("wechat", "contact"), "contact"),
            DemoComment("wechat", (NEW_ARTICLE, 1), self._text("ordinary"),
                        self._author("wechat", "ordinary"), "ordinary"),
            DemoComment("wechat", (NEW_ARTICLE, 1), self._text("gambling"),
                        self._author("wechat", "gambling"), "gambling"),
            DemoComment("weibo", NEW_STATUS_ID, self._text("contact"),
                        self._author("weibo", "contact"), "contact"),
            DemoComment("weibo", NEW_STATUS_ID, self._text("ordinary"),
                        self._author("weibo", "ordinary"), "ordinary"),
        ]
        return out

    def copies(self, count: int, *, start: int, live: bool) -> list[DemoComment]:
        """``count`` varied copies of :data:`WAVE_AD`, each from its own fresh account, on the
        first article (a separate generator: the other comments stay as they were)."""
        rng = random.Random(SEED + start)
        out = []
        for n in range(start, start + count):
            # Mostly an emoji or a character added at the end or the start, as such waves go.
            cut = rng.choice([len(WAVE_AD), len(WAVE_AD), 0, rng.randrange(4, len(WAVE_AD) - 4)])
            text = WAVE_AD[:cut] + rng.choice(_WAVE_NOISE) + WAVE_AD[cut:]
            created = None if live else self._now - 900 + 120 * n
            out.append(DemoComment("wechat", ARTICLES[0], text, f"oWave{n:022d}", "wave",
                                   created))
        return out

    def wave(self, count: int, *, repeat_offenders: bool = False) -> list[DemoComment]:
        """``count`` new comments spread over the targets (plus, when asked, one harmless
        comment by each abuser, which repeat-offender removes)."""
        targets = self._targets()
        out = [self._one(*targets[self._rng.randrange(len(targets))], live=True)
               for _ in range(count)]
        if repeat_offenders:
            for n, abuser in enumerate(self._abusers):
                out.append(DemoComment("wechat", ARTICLES[n % 2], _ORDINARY[n], abuser,
                                       "repeat"))
        return out


def seed_document(comments: list[DemoComment], *, busy: float = 0.03) -> dict[str, Any]:
    """The sandbox seed file (:mod:`worker.sandbox.seed`): the app, its two articles, the Weibo
    token and post, ``comments`` on them, and a ``busy`` share of calls answered "system busy"
    (-1 / 10001) so that the demo shows retries too."""
    articles = []
    for msg_data_id, index in ARTICLES:
        items = []
        for c in comments:
            if c.platform == "wechat" and c.target == (msg_data_id, index):
                item: dict[str, Any] = {"content": c.content, "openid": c.author}
                if c.created_at is not None:
                    item["create_time"] = c.created_at
                items.append(item)
        articles.append({"msg_data_id": msg_data_id, "index": index, "comments": items})
    weibo_comments = []
    for c in comments:
        if c.platform == "weibo":
            entry: dict[str, Any] = {"text": c.content, "uid": c.author}
            if c.created_at is not None:
                entry["created_at"] = c.created_at
            weibo_comments.append(entry)
    return {
        "wechat": {"apps": [{"app_id": APP_ID, "app_secret": APP_SECRET, "articles": articles}]},
        "weibo": {
            "tokens": [{"access_token": WEIBO_TOKEN, "uid": WEIBO_OWNER_UID,
                        "screen_name": "modworker-demo"}],
            "posts": [{"status_id": STATUS_ID, "access_token": WEIBO_TOKEN,
                       "text": "新品发布会直播回放", "comments": weibo_comments}],
        },
        "faults": {"busy_probability": busy},
    }
