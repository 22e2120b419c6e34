r"""Rule regexes: Python ``re`` syntax and meaning, run by RE2 (linear time, no ReDoS).

:func:`translate` parses a pattern with Python's own parser (``re._parser``, so syntax errors
carry Python's reason and position, and google-re2 never sees, nor logs, an invalid pattern),
then writes the parse tree back out as an RE2 pattern with Python's meaning:

* ``\w \d \s`` and ``\W \D \S`` are Unicode-aware as in Python, inside and outside classes:
  ``\w`` = letters, numbers and ``_`` (``\p{L}\p{N}_``; matches ``微``), ``\d`` = decimal
  digits (``\p{Nd}``; matches ``٣``), ``\s`` = exactly the characters ``str.isspace`` accepts.
  Under ``(?a)`` they are ASCII-only, as in Python.
* Case is always ignored (``(?i)``), as the rule language says; a scoped ``(?-i:...)`` is
  honoured.
* ``.`` excludes ``\n`` unless ``(?s)``; ``^``/``$`` follow ``(?m)``; ``$`` without ``(?m)``
  also matches before a final newline, as in Python (the match then includes that newline);
  ``\A``, ``\Z`` are the start and the end of the text.
* ``\uXXXX``, ``\UXXXXXXXX``, ``\xhh``, octal and ``\N{NAME}`` escapes become code points.
* Rejected, with a :class:`~worker.errors.PatternError` that says why and what to use instead:
  backreferences, lookahead/lookbehind, conditionals, possessive quantifiers and atomic groups
  (none can run in linear time), repeat counts over 1000 (RE2's limit), and ``\b``/``\B``.
  **Word boundaries are rejected** because neither meaning is usable: RE2's ``\b`` is ASCII-only
  (it would silently differ from Python around every non-ASCII letter), and Python's own ``\b``
  counts Chinese characters as word characters, so ``\bvx\b`` would not match ``加vx好友``.
  ``includes_word`` is the condition for whole words; in a pattern, spell the edge out.

When a ``literal`` function is given (the matcher passes its normaliser), every literal
character of the pattern is normalised the way the text is (``ｑ`` -> ``q``, ``發`` -> ``发``
with traditional_to_simplified, ``ß`` -> ``ss``), because the pattern runs on the normalised
text, where the un-normalised form can never occur.
"""

from __future__ import annotations

import functools
import importlib
import re
from collections.abc import Callable
from typing import Any

import re2

from worker.errors import PatternError

__all__ = [
    "MAX_REPEAT", "REGEX_PROGRAM_BUDGET", "RegexBudget", "compile_regex", "re2_options",
    "translate",
]

_parser: Any = importlib.import_module("re._parser")
_c: Any = importlib.import_module("re._constants")

MAX_REPEAT = 1000  # RE2's largest repeat count
_MAX_CP = 0x10FFFF

# Python's \s (str.isspace), as code point ranges.
_SPACE_RANGES: tuple[tuple[int, int], ...] = (
    (0x09, 0x0D),
    (0x1C, 0x20),
    (0x85, 0x85),
    (0xA0, 0xA0),
    (0x1680, 0x1680),
    (0x2000, 0x200A),
    (0x2028, 0x2029),
    (0x202F, 0x202F),
    (0x205F, 0x205F),
    (0x3000, 0x3000),
)
_ASCII_SPACE_RANGES: tuple[tuple[int, int], ...] = ((0x09, 0x0D), (0x20, 0x20))
_ASCII_WORD_RANGES: tuple[tuple[int, int], ...] = (
    (0x30, 0x39),
    (0x41, 0x5A),
    (0x5F, 0x5F),
    (0x61, 0x7A),
)
_ASCII_DIGIT_RANGES: tuple[tuple[int, int], ...] = ((0x30, 0x39),)

_UNSUPPORTED_BOUNDARY = (
    "\\b and \\B (word boundaries) are not supported: the linear-time engine only knows ASCII "
    "word boundaries, and Python's \\b counts Chinese characters as word characters (so "
    "\\bvx\\b would miss 加vx好友). Use includes_word for whole words, or spell the edge out, "
    "e.g. (?:^|[^a-z0-9])vx(?:[^a-z0-9]|$)"
)


def re2_options(*, max_mem: int | None = None) -> Any:
    """RE2 options for rule regexes: UTF-8, no logging to stderr."""
    options = re2.Options()
    options.log_errors = False
    if max_mem is not None:
        options.max_mem = max_mem
    return options


def compile_regex(pattern: str, *, literal: Callable[[str], str] | None = None) -> Any:
    """Translate and compile one rule regex with RE2; PatternError when it cannot run.

    The error does not repeat the pattern: the loader prints it once, as written.
    """
    translated = translate(pattern, literal=literal)
    try:
        return re2.compile(translated, re2_options())
    except re2.error as exc:
        raise PatternError(f"the linear-time engine cannot run it: {exc}") from exc


#: RE2 instructions all regexes of one rule set may compile to together. 100 ordinary spam
#: regexes take about 66,000; one ``\w{300}`` takes 400,000 (and 0.25 s to compile), and a few
#: hundred of those took 18 s and 750 MB before the regex set failed to build.
REGEX_PROGRAM_BUDGET = 2_000_000


class RegexBudget:
    """Compiles a rule set's regexes while their total program size fits the budget.

    Past the budget a pattern is still checked (translated) but not compiled, and refused
    with a :class:`PatternError` that says why: loading stays fast and small, and the problem
    names the regex that went over.
    """

    def __init__(self, limit: int = REGEX_PROGRAM_BUDGET) -> None:
        self.limit = limit
        self.used = 0

    def compile(self, pattern: str, *, literal: Callable[[str], str] | None = None) -> Any:
        if self.used >= self.limit:
            translate(pattern, literal=literal)
            raise PatternError(self._over())
        compiled = compile_regex(pattern, literal=literal)
        size = int(compiled.programsize)
        if self.used + size > self.limit:
            self.used = self.limit
            raise PatternError(f"it compiles to {size:,} instructions: {self._over()}")
        self.used += size
        return compiled

    def _over(self) -> str:
        return (
            f"the rule set's regexes together may compile to at most {self.limit:,} RE2 "
            "instructions, and the ones before this one use them up; simplify (large repeat "
            "counts of \\w, \\d or classes cost most) or move terms to includes lists"
        )


def translate(pattern: str, *, literal: Callable[[str], str] | None = None) -> str:
    """Python ``re`` syntax -> an RE2 pattern with Python's meaning (see the module docstring).

    Raises :class:`PatternError` with the reason (and Python's position for syntax errors).
    """
    if not isinstance(pattern, str):
        raise PatternError(f"a regex must be a string, not {type(pattern).__name__}")
    try:
        tree = _parser.parse(pattern, 0)
    except re.error as exc:
        where = f" at position {exc.pos}" if exc.pos is not None else ""
        raise PatternError(f"invalid regex: {exc.msg}{where}") from exc
    except RecursionError as exc:
        raise PatternError("invalid regex: nested too deeply") from exc
    flags: int = tree.state.flags
    try:
        body = _Emitter(pattern, literal).sub(tree, flags)
    except RecursionError as exc:
        raise PatternError("invalid regex: nested too deeply") from exc
    return "(?i)" + body


# --------------------------------------------------------------------------------------------
# Code point sets (sorted, disjoint, inclusive ranges), for classes RE2 cannot express directly.

Ranges = list[tuple[int, int]]


def _union(ranges: Ranges) -> Ranges:
    out: Ranges = []
    for lo, hi in sorted(ranges):
        if out and lo <= out[-1][1] + 1:
            if hi > out[-1][1]:
                out[-1] = (out[-1][0], hi)
        else:
            out.append((lo, hi))
    return out


def _complement(ranges: Ranges) -> Ranges:
    out: Ranges = []
    nxt = 0
    for lo, hi in _union(ranges):
        if lo > nxt:
            out.append((nxt, lo - 1))
        nxt = hi + 1
    if nxt <= _MAX_CP:
        out.append((nxt, _MAX_CP))
    return out


def _without_surrogates(ranges: Ranges) -> Ranges:
    out: Ranges = []
    for lo, hi in ranges:
        if hi < 0xD800 or lo > 0xDFFF:
            out.append((lo, hi))
            continue
        if lo < 0xD800:
            out.append((lo, 0xD7FF))
        if hi > 0xDFFF:
            out.append((0xE000, hi))
    return out


@functools.cache
def _python_ranges(name: str) -> tuple[tuple[int, int], ...]:
    """Python's Unicode \\w or \\d as ranges, from this Python's own character database."""
    if name == "word":  # the exact sre definition of \w
        cps = [cp for cp in range(_MAX_CP + 1) if chr(cp).isalnum() or cp == 0x5F]
    else:
        cps = [cp for cp in range(_MAX_CP + 1) if chr(cp).isdecimal()]
    out: Ranges = []
    for cp in cps:
        if out and out[-1][1] == cp - 1:
            out[-1] = (out[-1][0], cp)
        else:
            out.append((cp, cp))
    return tuple(out)


def _esc(cp: int) -> str:
    """One code point as RE2 syntax, safe inside and outside classes."""
    if 0x30 <= cp <= 0x39 or 0x41 <= cp <= 0x5A or 0x61 <= cp <= 0x7A:
        return chr(cp)
    return f"\\x{{{cp:X}}}"


def _class_of(ranges: Ranges) -> str:
    ranges = _without_surrogates(_union(ranges))
    if not ranges:
        return _NEVER
    parts = [_esc(lo) if lo == hi else f"{_esc(lo)}-{_esc(hi)}" for lo, hi in ranges]
    return "[" + "".join(parts) + "]"


_NEVER = "[^\\x00-\\x{10FFFF}]"  # matches nothing


class _Emitter:
    def __init__(self, pattern: str, literal: Callable[[str], str] | None) -> None:
        self.pattern = pattern
        self.literal = literal

    def fail(self, what: str) -> PatternError:
        return PatternError(f"cannot be used: {what}")

    # -- sequences ---------------------------------------------------------------------------
    def sub(self, items: Any, flags: int) -> str:
        return "".join(self.item(op, av, flags) for op, av in items)

    def item(self, op: Any, av: Any, flags: int) -> str:
        if op is _c.LITERAL:
            return self.lit(av)
        if op is _c.NOT_LITERAL:
            if 0xD800 <= av <= 0xDFFF:
                return "(?s:.)"
            return f"[^{_esc(av)}]"
        if op is _c.ANY:
            return "(?s:.)" if flags & _c.SRE_FLAG_DOTALL else "[^\\n]"
        if op is _c.IN:
            return self.in_(av, flags)
        if op is _c.BRANCH:
            return "(?:" + "|".join(self.sub(alt, flags) for alt in av[1]) + ")"
        if op is _c.SUBPATTERN:
            _group, add, remove, p = av
            inner_flags = (flags | add) & ~remove
            body = self.sub(p, inner_flags)
            if add & _c.SRE_FLAG_IGNORECASE:
                return f"(?i:{body})"
            if remove & _c.SRE_FLAG_IGNORECASE:
                return f"(?-i:{body})"
            return f"(?:{body})"
        if op is _c.MAX_REPEAT or op is _c.MIN_REPEAT:
            lo, hi, p = av
            return self.repeat(lo, hi, p, flags, lazy=op is _c.MIN_REPEAT)
        if op is _c.AT:
            return self.at(av, flags)
        if op is _c.GROUPREF:
            raise self.fail(
                "backreferences (\\1, (?P=name)) need a backtracking engine, and rule regexes run "
                "in linear time; spell the repeated text out, e.g. (.)\\1{5,} -> a "
                "collapse_repeats normalisation or an explicit class repeated"
            )
        if op is _c.GROUPREF_EXISTS:
            raise self.fail(
                "conditional groups (?(1)...) need a backtracking engine; split the pattern "
                "into alternatives with |"
            )
        if op is _c.ASSERT or op is _c.ASSERT_NOT:
            kind = "lookahead" if av[0] == 1 else "lookbehind"
            sign = "negative " if op is _c.ASSERT_NOT else ""
            raise self.fail(
                f"{sign}{kind} ((?=...), (?!...), (?<=...), (?<!...)) cannot run in linear time; "
                "match the context itself, or combine two conditions (a regex plus a `not:` "
                "block)"
            )
        if op is _c.POSSESSIVE_REPEAT:
            raise self.fail(
                "possessive quantifiers (*+, ++, ?+, {m,n}+) need a backtracking engine; use a "
                "plain quantifier"
            )
        if op is _c.ATOMIC_GROUP:
            raise self.fail(
                "atomic groups (?>...) need a backtracking engine; use a plain group (?:...)"
            )
        raise self.fail(f"unsupported construct {op}")

    def lit(self, cp: int) -> str:
        if 0xD800 <= cp <= 0xDFFF:
            return _NEVER  # the normalised text never holds a lone surrogate
        if self.literal is None:
            return _esc(cp)
        text = self.literal(chr(cp))
        if len(text) == 1:
            return _esc(ord(text))
        return "(?:" + "".join(_esc(ord(ch)) for ch in text) + ")"

    def repeat(self, lo: int, hi: int, p: Any, flags: int, *, lazy: bool) -> str:
        unbounded = hi is _c.MAXREPEAT or hi == _c.MAXREPEAT
        if lo > MAX_REPEAT or (not unbounded and hi > MAX_REPEAT):
            raise self.fail(
                f"repeat counts above {MAX_REPEAT} are more than the linear-time engine allows"
            )
        body = self.sub(p, flags)
        if unbounded:
            quant = "*" if lo == 0 else "+" if lo == 1 else f"{{{lo},}}"
        elif lo == 0 and hi == 1:
            quant = "?"
        elif lo == hi:
            quant = f"{{{lo}}}"
        else:
            quant = f"{{{lo},{hi}}}"
        return f"(?:{body}){quant}{'?' if lazy else ''}"

    def at(self, code: Any, flags: int) -> str:
        multiline = bool(flags & _c.SRE_FLAG_MULTILINE)
        if code is _c.AT_BEGINNING:
            return "(?m:^)" if multiline else "\\A"
        if code is _c.AT_BEGINNING_STRING:
            return "\\A"
        if code is _c.AT_END:
            # Python's $ (no MULTILINE) also matches just before a final newline.
            return "(?m:$)" if multiline else "(?:\\n?\\z)"
        if code is _c.AT_END_STRING:
            return "\\z"
        if code is _c.AT_BOUNDARY or code is _c.AT_NON_BOUNDARY:
            raise self.fail(_UNSUPPORTED_BOUNDARY)
        raise self.fail(f"unsupported anchor {code}")

    # -- classes -----------------------------------------------------------------------------
    def in_(self, items: Any, flags: int) -> str:
        ascii_ = bool(flags & _c.SRE_FLAG_ASCII)
        negate = bool(items) and items[0][0] is _c.NEGATE
        if negate:
            items = items[1:]
        pieces: list[str] = []  # RE2 class items
        ranges: Ranges = []  # the same, as code points (literals and ranges only)
        extra: list[str] = []  # multi-character normalised literals (alternatives)
        not_word = False
        for op, av in items:
            if op is _c.LITERAL:
                cps = [av]
                if self.literal is not None and not 0xD800 <= av <= 0xDFFF:
                    norm = self.literal(chr(av))
                    if len(norm) == 1:
                        cps.append(ord(norm))
                    elif len(norm) > 1 and not negate:
                        extra.append("".join(_esc(ord(ch)) for ch in norm))
                for cp in cps:
                    if not 0xD800 <= cp <= 0xDFFF:
                        pieces.append(_esc(cp))
                        ranges.append((cp, cp))
            elif op is _c.RANGE:
                lo, hi = av
                for a, b in _without_surrogates([(lo, hi)]):
                    pieces.append(f"{_esc(a)}-{_esc(b)}")
                    ranges.append((a, b))
            elif op is _c.CATEGORY:
                if av is _c.CATEGORY_NOT_WORD:
                    not_word = True
                else:
                    pieces.append(self.category_item(av, ascii_))
            else:
                raise self.fail(f"unsupported class item {op}")
        # Python never case-folds a category (\w is not widened to U+0345, which folds to a
        # letter), so a class made of categories only is emitted case-sensitively.
        only_categories = not ranges and not extra
        if not_word:
            if negate:
                # [^\W...] = \w minus the rest: RE2 has no intersection, so spell it out.
                exact = _class_of(self.exact_class(items, ascii_, negate=True))
                return f"(?-i:{exact})" if only_categories else exact
            word = _class_of(list(_ASCII_WORD_RANGES)) if ascii_ else "[\\p{L}\\p{N}_]"
            alts = ["(?-i:[^" + word[1:] + ")"]
            if pieces:
                alts.append("[" + "".join(pieces) + "]")
            alts.extend(extra)
            return "(?:" + "|".join(alts) + ")"
        if not pieces and not extra:
            return "(?s:.)" if negate else _NEVER
        body = "[" + ("^" if negate else "") + "".join(pieces) + "]" if pieces else _NEVER
        if only_categories:
            return f"(?-i:{body})"
        if extra:
            return "(?:" + "|".join([body, *extra]) + ")"
        return body

    def category_item(self, cat: Any, ascii_: bool) -> str:
        """A category as RE2 class items (usable inside a union)."""
        if cat is _c.CATEGORY_DIGIT:
            return "0-9" if ascii_ else "\\p{Nd}"
        if cat is _c.CATEGORY_NOT_DIGIT:
            return _class_of(_complement(list(_ASCII_DIGIT_RANGES)))[1:-1] if ascii_ else "\\P{Nd}"
        if cat is _c.CATEGORY_WORD:
            return _class_of(list(_ASCII_WORD_RANGES))[1:-1] if ascii_ else "\\p{L}\\p{N}_"
        if cat is _c.CATEGORY_SPACE:
            return _class_of(list(_ASCII_SPACE_RANGES if ascii_ else _SPACE_RANGES))[1:-1]
        if cat is _c.CATEGORY_NOT_SPACE:
            spaces = list(_ASCII_SPACE_RANGES if ascii_ else _SPACE_RANGES)
            return _class_of(_complement(spaces))[1:-1]
        raise self.fail(f"unsupported category {cat}")

    def exact_class(self, items: Any, ascii_: bool, *, negate: bool) -> Ranges:
        """A class as explicit code point ranges, from Python's definitions."""
        ranges: Ranges = []
        for op, av in items:
            if op is _c.LITERAL:
                ranges.append((av, av))
                if self.literal is not None and not 0xD800 <= av <= 0xDFFF:
                    norm = self.literal(chr(av))
                    if len(norm) == 1:
                        ranges.append((ord(norm), ord(norm)))
            elif op is _c.RANGE:
                ranges.append((av[0], av[1]))
            elif av is _c.CATEGORY_WORD or av is _c.CATEGORY_NOT_WORD:
                word = list(_ASCII_WORD_RANGES if ascii_ else _python_ranges("word"))
                ranges.extend(word if av is _c.CATEGORY_WORD else _complement(word))
            elif av is _c.CATEGORY_DIGIT or av is _c.CATEGORY_NOT_DIGIT:
                digit = list(_ASCII_DIGIT_RANGES if ascii_ else _python_ranges("digit"))
                ranges.extend(digit if av is _c.CATEGORY_DIGIT else _complement(digit))
            elif av is _c.CATEGORY_SPACE or av is _c.CATEGORY_NOT_SPACE:
                space = list(_ASCII_SPACE_RANGES if ascii_ else _SPACE_RANGES)
                ranges.extend(space if av is _c.CATEGORY_SPACE else _complement(space))
            else:
                raise self.fail(f"unsupported class item {op}")
        ranges = _union(ranges)
        return _complement(ranges) if negate else ranges
