"""Word characters: what continues a word for ``includes_word`` edges (matcher.py explains)."""

from __future__ import annotations

import functools
import unicodedata

__all__ = ["is_word_char"]


@functools.lru_cache(maxsize=4096)
def _is_latin_letter(ch: str) -> bool:
    return ch.isalpha() and "LATIN " in unicodedata.name(ch, "")


def is_word_char(ch: str) -> bool:
    """Whether ``ch`` continues a word for ``includes_word``: a letter of the Latin script
    or a decimal digit."""
    if ch.isascii():
        return ch.isalnum()
    return ch.isdecimal() or _is_latin_letter(ch)
