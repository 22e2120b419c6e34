"""The wave rules of the wave benchmark and the wave tests, written out once.

``copy-paste-wave`` deletes a ``content.repeated`` wave, ``flood`` an ``author.burst``; the
callers differ only in the numbers, the notify channel and a letters floor, the parameters.
"""

from __future__ import annotations


def wave_rules(
    *, at_least: int = 5, within: str = "1h", authors: str | None = None,
    min_letters: int | None = None, notify: str | None = None,
    burst_at_least: int | None = 4, burst_within: str = "10m",
) -> str:
    """A rule file (YAML, unindented): the ``repeated`` rule, then the ``burst`` rule unless
    ``burst_at_least`` is None."""
    options = f"at_least: {at_least}, within: {within}"
    if authors is not None:
        options += f", authors: {authors}"
    letters = f"\n        min_letters: {min_letters}" if min_letters is not None else ""
    then = f"[delete, {{notify: {notify}}}]" if notify is not None else "[delete]"
    text = f"""version: 1
rules:
  - id: copy-paste-wave
    when:
      content:
        repeated: {{{options}}}{letters}
    then: {then}
"""
    if burst_at_least is not None:
        text += f"""  - id: flood
    when:
      author:
        burst: {{at_least: {burst_at_least}, within: {burst_within}}}
    then: [delete]
"""
    return text
