"""Reply templates: ``{author}``, ``{match}``, ``{rule}``, ``{content}``; ``{{`` ``}}`` escape.

Deliberately not ``str.format``: a moderator's template must not reach attributes or items
(``{content.__class__}``), and an unknown placeholder is a load-time error, not a KeyError at
three in the morning.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from worker.errors import TemplateError
from worker.platform_specs import REPLY_MAX_CHARS as SPEC_REPLY_MAX_CHARS

__all__ = ["REPLY_MAX_CHARS", "ReplyTemplate", "TemplateError"]

PLACEHOLDERS = ("author", "match", "rule", "content")
CONTENT_CUT = 20  # {content} is cut to this many characters

#: Longest reply each platform accepts, in characters (its spec's ``reply_max_chars``). WeChat
#: documents a limit (88007) without its value; 300 is a conservative bound we enforce.
REPLY_MAX_CHARS = SPEC_REPLY_MAX_CHARS

_TOKEN = re.compile(r"\{\{|\}\}|\{([^{}]*)\}|[{}]")

# Control characters other than tab and newlines, and lone surrogates: JSON can carry them
# only as \uXXXX escapes, which WeChat refuses (40033), and a lone surrogate cannot even be
# encoded. They reach a reply from the comment ({match}, {content}, {author}) or the YAML.
_UNSENDABLE = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\ud800-\udfff]")


@dataclass(frozen=True, slots=True)
class ReplyTemplate:
    source: str
    parts: tuple[tuple[bool, str], ...]  # (is_placeholder, literal text or placeholder name)

    @classmethod
    def parse(cls, source: str) -> ReplyTemplate:
        parts: list[tuple[bool, str]] = []
        literal: list[str] = []
        position = 0
        for token in _TOKEN.finditer(source):
            literal.append(source[position:token.start()])
            position = token.end()
            text = token.group(0)
            if text == "{{":
                literal.append("{")
            elif text == "}}":
                literal.append("}")
            elif token.group(1) is not None:
                name = token.group(1).strip()
                if name not in PLACEHOLDERS:
                    raise TemplateError(
                        f"unknown placeholder {{{name}}}; use "
                        + ", ".join("{" + p + "}" for p in PLACEHOLDERS)
                        + " (write {{ and }} for literal braces)"
                    )
                parts.append((False, "".join(literal)))
                literal = []
                parts.append((True, name))
            else:
                raise TemplateError(f"unbalanced {text!r}; write {text}{text} for a literal brace")
        literal.append(source[position:])
        parts.append((False, "".join(literal)))
        return cls(source=source, parts=tuple(p for p in parts if p[0] or p[1]))

    @property
    def uses_match(self) -> bool:
        return "match" in self.placeholders

    @property
    def placeholders(self) -> tuple[str, ...]:
        return tuple(text for is_ph, text in self.parts if is_ph)

    def render(self, *, author: str | None, match: str, rule: str, content: str) -> str:
        values = {
            "author": author or "",
            "match": match,
            "rule": rule,
            "content": content[:CONTENT_CUT],
        }
        text = "".join(values[text] if is_ph else text for is_ph, text in self.parts)
        return _UNSENDABLE.sub("", text)
