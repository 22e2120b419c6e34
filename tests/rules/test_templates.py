"""Reply templates parsed on their own (pure logic: no Redis, no files)."""

from __future__ import annotations

import re

import pytest

from worker.errors import ModworkerError
from worker.rules.templates import ReplyTemplate, TemplateError


@pytest.mark.parametrize(("source", "message"), [
    ("hi {nmae}", "unknown placeholder {nmae}"),
    ("hi {author", "unbalanced '{'"),
])
def test_a_bad_template_is_a_modworker_error_naming_what_is_wrong(
    source: str, message: str
) -> None:
    """Every error raised on purpose has the one base class (errors.py's tree)."""
    with pytest.raises(ModworkerError, match=re.escape(message)) as caught:
        ReplyTemplate.parse(source)
    assert isinstance(caught.value, TemplateError)


def test_escaped_braces_and_placeholders_render() -> None:
    template = ReplyTemplate.parse("{{{rule}}} {author}")
    assert template.placeholders == ("rule", "author")
    assert template.render(author="amy", match="", rule="r1", content="") == "{r1} amy"
