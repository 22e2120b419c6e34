"""The example decisions of the demo's summary: a few that show what the rules see through,
each with the actions taken and their outcomes."""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Mapping
from typing import Any

from worker.demo import data as demo_data


def visible(text: str, limit: int = 44) -> str:
    """The text with invisible characters shown (``⟨200B⟩``), cut to ``limit`` characters."""
    shown = "".join(
        f"⟨{ord(c):04X}⟩" if unicodedata.category(c) in ("Cf", "Cc") else c for c in text
    )
    return shown if len(shown) <= limit else shown[: limit - 1] + "…"



def choose_examples(decisions: list[dict[str, Any]]) -> list[dict[str, Any]]:
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


def example_lines(decision: Mapping[str, Any], actions: list[dict[str, Any]]) -> list[str]:
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
        label = f"{kind} “{visible(str(text), 16)}”" if text else kind
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
    return [f"  “{visible(str(decision.get('content') or ''))}” ({where})",
            f"      → {rules} → {', '.join(outcomes) if outcomes else 'nothing'}"]
