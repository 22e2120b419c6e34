"""A deterministic synthetic corpus of Chinese comments, term lists and spam regexes.

Shaped like the corpus of ``shared/perf-notes.md``: 50,000 comments (median about 40 characters)
of Chinese text with full-width punctuation, emoji (variation selectors, ZWJ sequences, skin
tones), some ASCII words and digits; 10,000 Chinese terms, 500 English terms and about 100 spam
regexes (phone numbers, QQ, URLs, 加v/vx lures). About 2 % of the comments contain a term on
purpose, a third of those disguised with separators, zero-width or full-width characters.

Used by ``bench/matchers_bench.py`` and ``bench/rules_bench.py``; every call with the same
arguments returns the same corpus.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

# About 500 of the most frequent Chinese characters: comments are mostly made of these.
COMMON_CHARS = (
    "的一是不了人我在有他这为之大来以个中上们到说国和地也子时道出而要于就下得可你年生自会那后能对着"
    "事其里所去行过家十用发天如然作方成者多日都三小军二无同么经法当起与好看学进种将还分此心前面又定见"
    "只主没公从知使工体样把高全长物现实加量都两体制机当使点从业本去把性好应开它合还因由其些然前外天政"
    "四日那社义事平形相全表间样与关各重新线内数正心反你明看原又么利比或但质气第向道命此变条只没结解问"
    "意建月公无系军很情者最立代想已通并提直题党程展五果料象员革位入常文总次品式活设及管特件长求老头基"
    "资边流路级少图山统接知较将组见计别她手角期根论运农指几九区强放决西被干做必战先回则任取据处队南给"
    "色光门即保治北造百规热领七海口东导器压志世金增争济阶油思术极交受联什认六共权收证改清美再采转更单"
    "风切打白教速花带安场身车例真务具万每目至达走积示议声报斗完类八离华名确才科张信马节话米整空元况今"
    "集温传土许步群广石记需段研界拉林律叫且究观越织装影算低持音众书布复容儿须际商非验连断深难近矿千周"
    "委素技备半办青省列习响约支般史感劳便团往酸历市克何除消构府称太准精值号率族维划选标写存候毛亲快效"
    "斯院查江型眼王按格养易置派层片始却专状育厂京识适属圆包火住调满县局照参红细引听该铁价严哈哈呵嘿吧"
    "呢啊吗哦嗯喜欢赞支持老师谢谢分享文章写得太棒了学习收藏转发朋友孩子妈妈爸爸今天明天昨天工作生活"
)

EMOJI = [
    "😂",
    "👍",
    "❤️",
    "🙏",
    "🔥",
    "😊",
    "😭",
    "🤣",
    "👏",
    "💪",
    "🌹",
    "😘",
    "🎉",
    "😁",
    "👍🏻",
    "👍🏽",
    "👨\u200d👩\u200d👧",
    "🏳️\u200d🌈",
    "1️⃣",
    "☺️",
    "✌️",
    "🙄",
    "😅",
    "🤔",
]
CN_PUNCT = ["，", "。", "！", "？", "、", "～", "：", "…", "（", "）", "“", "”", "；"]
ASCII_BITS = [
    "ok",
    "666",
    "hhh",
    "iPhone",
    "app",
    "vip",
    "OK",
    "2023",
    "99",
    "good",
    "nb",
    "yyds",
    "lol",
    "GPT",
    "5G",
    "wifi",
    "ps",
    "DIY",
    "Q&A",
    "top10",
]
SEPARATORS = [" ", ".", "*", "-", "_", "@", "~", "/", "❤️", "😀", "\u200b", "\u200d", "　", "·", "|"]

_SYLLABLES = [
    "ka",
    "lo",
    "mi",
    "re",
    "su",
    "ta",
    "ne",
    "po",
    "qu",
    "zi",
    "ba",
    "do",
    "fe",
    "gu",
    "hi",
    "ja",
    "wu",
    "xo",
    "ye",
    "cr",
    "st",
    "th",
    "sh",
    "ch",
    "pl",
    "br",
    "gr",
    "sp",
]


@dataclass(frozen=True, slots=True)
class Corpus:
    cn_terms: list[str]
    en_terms: list[str]
    regexes: list[str]
    comments: list[str]
    planted: int  # how many comments had a term planted on purpose


def _cn_terms(rng: random.Random, n: int, pool: str) -> list[str]:
    seen: set[str] = set()
    out: list[str] = []
    while len(out) < n:
        length = rng.choices([2, 3, 4, 5, 6], weights=[15, 35, 30, 12, 8])[0]
        term = "".join(rng.choice(pool) for _ in range(length))
        if term not in seen:
            seen.add(term)
            out.append(term)
    return out


def _en_terms(rng: random.Random, n: int) -> list[str]:
    seen: set[str] = set()
    out: list[str] = []
    while len(out) < n:
        term = "".join(rng.choice(_SYLLABLES) for _ in range(rng.randint(3, 5)))
        if rng.random() < 0.15:
            term += str(rng.randint(1, 99))
        if term not in seen:
            seen.add(term)
            out.append(term)
    return out


SPAM_REGEXES = (  # contact lures, gambling, porn, invoices: what spam rules look for
    r"1[3-9]\d{9}",
    r"1[3-9](?:[\s.-]?[0-9]){9}",
    r"q{2}\s*[:：]?\s*\d{5,}",
    r"(?:qq|扣扣|企鹅)\s*(?:号|群)?\s*[:：]?\s*[1-9]\d{4,10}",
    r"加?[v微薇威]信?[:：]?\s*[a-z][\w-]{5,19}",
    r"(?:加|\+|➕)\s*(?:v|vx|wx|微|薇|我)",
    r"https?://\S+",
    r"www\.[a-z0-9-]+\.[a-z]{2,}",
    r"t\.me/\w+",
    r"(?:电报|tg)\s*[:：]?\s*@?\w{4,}",
    r"\d{5,}\s*(?:元|块)\s*(?:一单|每单|日结)",
    r"(?:刷单|兼职|日结|返利)[^。！？]{0,10}(?:联系|加|私聊)",
    r"[\u5fae\u8587]\s*[\u4fe1\u4ef0]",
    r"(?:代开|开具)\s*(?:发票|增值税)",
    r"(?:色情|裸聊|约炮)",
    r"(?:博彩|赌场|百家乐|彩票)\s*(?:网址|平台|注册)",
    r"[a-z0-9._%+-]+@[a-z0-9.-]+\.[a-z]{2,}",
    r"(?:v|vx|wx)\s*[:：]\s*\w{6,}",
    r"私\s*信\s*(?:我|领取)",
    r"(?:扫码|扫一扫)\s*(?:加|领取|关注)",
)
SPAM_KEYWORDS = (  # platforms and contact words the generated regexes vary over
    "微信", "薇信", "威信", "vx", "wx", "v信", "企微", "扣扣", "qq", "tg",
    "电报", "飞机", "抖音", "快手", "淘宝", "拼多多", "闲鱼", "支付宝", "钉钉", "微博",
)


def spam_regexes(n: int = 100) -> list[str]:
    """About ``n`` spam regexes in Python syntax, all runnable by the linear-time engine."""
    out = list(SPAM_REGEXES)
    i = 0
    while len(out) < n:
        kw = SPAM_KEYWORDS[i % len(SPAM_KEYWORDS)]
        kind = (i // len(SPAM_KEYWORDS)) % 4
        if kind == 0:
            out.append(rf"{kw}\s*(?:号|id)?\s*[:：]\s*[a-z0-9_-]{{6,20}}")
        elif kind == 1:
            out.append(rf"(?:加|搜|找)\s*{kw}\s*\d{{3,}}")
        elif kind == 2:
            out.append(rf"{kw}[^，。！？\s]{{0,6}}(?:领|送|返)\s*\d+\s*(?:元|块|红包)")
        else:
            out.append(rf"(?:关注|私聊)\s*{kw}\s*(?:有惊喜|拿资料|领福利)")
        i += 1
    return out[:n]


def _disguise(rng: random.Random, term: str) -> str:
    """Insert separators / zero-width characters, or use full-width forms, between characters."""
    chars = list(term)
    if term.isascii() and rng.random() < 0.5:
        chars = [chr(ord(c) + 0xFEE0) if "!" <= c <= "~" else c for c in chars]
    out = [chars[0]]
    for c in chars[1:]:
        if rng.random() < 0.7:
            out.append(rng.choice(SEPARATORS))
        out.append(c)
    return "".join(out)


def _comment(rng: random.Random, pool_common: str, pool_rare: str) -> str:
    target = max(4, int(rng.lognormvariate(3.6, 0.6)))  # median e^3.6 ~ 37 characters
    parts: list[str] = []
    size = 0
    while size < target:
        r = rng.random()
        if r < 0.72:
            n = rng.randint(2, 9)
            piece = "".join(
                rng.choice(pool_common) if rng.random() < 0.9 else rng.choice(pool_rare)
                for _ in range(n)
            )
        elif r < 0.85:
            piece = rng.choice(CN_PUNCT)
        elif r < 0.94:
            piece = rng.choice(EMOJI) * rng.choice([1, 1, 1, 2, 3])
        elif r < 0.985:
            piece = rng.choice(ASCII_BITS)
            if rng.random() < 0.3:
                piece = " " + piece + " "
        else:
            piece = str(rng.randint(0, 99999))
        parts.append(piece)
        size += len(piece)
    return "".join(parts)


def make_corpus(
    *,
    seed: int = 20240601,
    n_comments: int = 50_000,
    n_cn_terms: int = 10_000,
    n_en_terms: int = 500,
    n_regexes: int = 100,
    hit_rate: float = 0.02,
) -> Corpus:
    """Build the corpus; deterministic for given arguments."""
    rng = random.Random(seed)
    rare_rng = random.Random(seed + 1)
    pool_rare = "".join(chr(rare_rng.randint(0x4E00, 0x9FA5)) for _ in range(2500))
    # Terms mix common and rare characters, so a few hit by chance, as real lists do.
    term_pool = COMMON_CHARS + pool_rare
    cn_terms = _cn_terms(rng, n_cn_terms, term_pool)
    en_terms = _en_terms(rng, n_en_terms)
    comments: list[str] = []
    planted = 0
    for _ in range(n_comments):
        text = _comment(rng, COMMON_CHARS, pool_rare)
        if rng.random() < hit_rate:
            planted += 1
            term = rng.choice(cn_terms) if rng.random() < 0.8 else rng.choice(en_terms)
            if term.isascii() and rng.random() < 0.5:
                term = term.upper()
            if rng.random() < 0.35:
                term = _disguise(rng, term)
            if term.isascii():
                term = f" {term} "
            cut = rng.randint(0, len(text))
            text = text[:cut] + term + text[cut:]
        comments.append(text)
    return Corpus(
        cn_terms=cn_terms,
        en_terms=en_terms,
        regexes=spam_regexes(n_regexes),
        comments=comments,
        planted=planted,
    )
