"""The wave rules written out once: ``copy-paste-wave`` deletes a ``content.repeated`` wave,
``flood`` an ``author.burst``. The demo, the benchmarks and the wave tests differ only in the
numbers, the mode, the notify channel and a letters floor: the parameters.
"""

from __future__ import annotations


def wave_rules(
    *, at_least: int = 5, within: str = "1h", authors: str | None = None,
    min_letters: int | None = None, notify: str | None = None,
    burst_at_least: int | None = 4, burst_within: str = "10m",
    mode: str | None = None, description: str | None = None, document: bool = True,
) -> str:
    """A rule file (YAML, unindented): the ``repeated`` rule, then the ``burst`` rule unless
    ``burst_at_least`` is None. ``document=False``: the rules alone, to follow another file's
    ``rules:`` list; ``mode`` and ``description`` (of the ``repeated`` rule) when given."""
    options = f"at_least: {at_least}, within: {within}"
    if authors is not None:
        options += f", authors: {authors}"
    letters = f"\n        min_letters: {min_letters}" if min_letters is not None else ""
    then = f"[delete, {{notify: {notify}}}]" if notify is not None else "[delete]"
    described = f"\n    description: {description}" if description is not None else ""
    moded = f"\n    mode: {mode}" if mode is not None else ""
    text = "version: 1\nrules:\n" if document else ""
    text += f"""  - id: copy-paste-wave{described}{moded}
    when:
      content:
        repeated: {{{options}}}{letters}
    then: {then}
"""
    if burst_at_least is not None:
        text += f"""  - id: flood{moded}
    when:
      author:
        burst: {{at_least: {burst_at_least}, within: {burst_within}}}
    then: [delete]
"""
    return text
