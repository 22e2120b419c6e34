"""Evaluation: one comment in, one :class:`Decision` out.

Per comment the text is normalised and scanned once per normalisation group (usually one): a
single Aho-Corasick pass for every literal term of every rule and a single RE2 set pass for
every regex. Rules then only look up ids. A rule whose conditions need some content hit is
skipped outright when none of its terms or patterns fired, so the common clean comment costs a
scan and the handful of rules that do not depend on content; a comment with hits is checked
against the rules those hits can satisfy, found through an index from signal to rule, not
against every rule.
"""

from __future__ import annotations

import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

from worker.comment import Comment
from worker.errors import Problem
from worker.rules.matcher import Matcher, ScanResult
from worker.rules.model import (
    OFFENSE_ACTIONS,
    Decision,
    EvalContext,
    LiteralHit,
    OffenseCounts,
    PlannedAction,
    Rule,
    RuleMatch,
    RuleSample,
    Signal,
    SkippedAction,
    Span,
    held_signals,
    offense_windows,
    required_signals,
    settled,
)
from worker.rules.plans import ActionPlan, reply_text, skip_reason
from worker.rules.waves import wave_members, wave_query, wave_text, wave_texts
from worker.waves.state import MemoryWaveState, Observation, WaveState


@dataclass(frozen=True, slots=True)
class _Candidates:
    """Which rules to check for a comment, in evaluation order."""

    ordered: tuple[Rule, ...]
    ungated: tuple[Rule, ...]  # rules that can match without any content hit
    ungated_at: frozenset[int]  # their positions in ``ordered``
    # (group, "lit" | "re") -> by id: the positions of the gated rules that signal may satisfy
    by_signal: dict[tuple[int, str], list[tuple[int, ...] | None]]

    @classmethod
    def of(cls, ordered: tuple[Rule, ...]) -> _Candidates:
        # Ids are dense (a matcher numbers its terms from 0): a list per kind of signal, not
        # a dict of signal tuples (100k terms: 0.8 MB instead of 30). Most ids share their
        # positions with many others (all the terms of one rule): one tuple each.
        by_signal: dict[tuple[int, str], list[tuple[int, ...] | None]] = {}
        shared: dict[tuple[int, ...], tuple[int, ...]] = {}
        ungated_at: set[int] = set()
        for position, rule in enumerate(ordered):
            required = required_signals(rule.when)
            if required is None:
                ungated_at.add(position)
                continue
            for group, kind, ident in required:
                table = by_signal.setdefault((group, kind), [])
                if ident >= len(table):
                    table.extend([None] * (ident + 1 - len(table)))
                at = table[ident]
                grown = (position,) if at is None else (*at, position)
                table[ident] = shared.setdefault(grown, grown)
        return cls(
            ordered=ordered,
            ungated=tuple(ordered[i] for i in sorted(ungated_at)),
            ungated_at=frozenset(ungated_at),
            by_signal=by_signal,
        )

    def for_signals(self, fired: set[Signal]) -> Sequence[Rule]:
        """The ungated rules and the gated ones with at least one required signal fired."""
        if not fired:
            return self.ungated
        positions = set(self.ungated_at)
        by_signal = self.by_signal
        for group, kind, ident in fired:
            table = by_signal.get((group, kind))
            at = table[ident] if table is not None and ident < len(table) else None
            if at is not None:
                positions.update(at)
        ordered = self.ordered
        return [ordered[i] for i in sorted(positions)]


class RuleSet:
    """A compiled, immutable set of rules. Safe to share between threads."""

    def __init__(
        self,
        *,
        rules: Sequence[Rule],
        matchers: Sequence[Matcher],
        notes: Sequence[str] = (),
        warnings: Sequence[Problem] = (),
        files: Sequence[object] = (),
    ) -> None:
        ordered = tuple(sorted(rules, key=lambda r: (-r.priority, r.order)))
        self.rules = ordered
        self.matchers = tuple(matchers)
        self.notes = tuple(notes)
        self.warnings = tuple(warnings)  # what `check` warns about (`--strict`: errors)
        self.files = tuple(files)
        self._candidates = _Candidates.of(ordered)
        self._all_gated = not self._candidates.ungated  # every rule needs some content hit
        self._probe_one = (
            self.matchers[0].probe if self._all_gated and len(self.matchers) == 1 else None
        )
        self._deleting = frozenset(
            r.id for r in ordered if any(a.type == "delete" for a in r.then)
        )
        self._action_plans = {r.id: tuple(ActionPlan.of(r, a) for a in r.then) for r in ordered}
        self._rule_matches = {
            r.id: (RuleMatch(r.id, r.mode, False), RuleMatch(r.id, r.mode, True)) for r in ordered
        }
        self._by_id = {r.id: r for r in ordered}
        self._has_shadow = any(r.mode == "shadow" for r in ordered)
        # Branching rules whose held signals can wait until a span is asked for (most never
        # are): see settled().
        self._held_later = frozenset(
            r.id for r in ordered if r.branching and r.when is not None and settled(r.when)
        )
        self.wave_query = wave_query([r.when for r in ordered if r.enabled])
        self._wave_rules = tuple(
            r for r in ordered if r.enabled and wave_query([r.when]) is not None
        )
        self._offense_rules = tuple(
            (r, windows) for r in ordered if r.enabled and (windows := offense_windows(r.when))
        )

    def rule(self, rule_id: str) -> Rule:
        return self._by_id[rule_id]

    def offense_questions(
        self, comments: Sequence[Comment], now: float
    ) -> list[tuple[str, str | None, str, float, float]]:
        """The offense counts evaluating ``comments`` at ``now`` may ask for, as the arguments
        of :meth:`OffenseCounts.count` (platform, account, author, within, now), so that a
        caller can read them together beforehand."""
        questions: list[tuple[str, str | None, str, float, float]] = []
        for comment in comments:
            author = comment.author
            if author is None:
                continue
            at = comment.created_at if comment.created_at is not None else now
            for rule, windows in self._offense_rules:
                if rule.applies_to(comment):
                    questions.extend((comment.platform, comment.account, author, within, at)
                                     for within in windows)
        return questions

    def __len__(self) -> int:
        return len(self.rules)

    # -- evaluation ------------------------------------------------------------------------
    def scan(self, content: str) -> list[ScanResult]:
        return [matcher.scan(content) for matcher in self.matchers]

    def evaluate(
        self,
        comment: Comment,
        *,
        offenses: OffenseCounts | None = None,
        now: float | None = None,
        waves: WaveState | None = None,
        observation: Observation | None = None,
    ) -> Decision:
        """Decide ``comment``; with ``waves``, it is recorded there first (see :meth:`observe`),
        unless ``observation`` says what :meth:`observe_page` found for it."""
        if observation is None and waves is not None:
            now = time.time() if now is None else now
            observation = self.observe(comment, waves, now)
        probe = self._probe_one
        if probe is not None:  # one normalisation group, every rule gated on content
            found = probe(comment.content)
            if found is None:  # the common case: a clean comment
                return Decision(comment)
            scans = [found]
        elif self._all_gated:
            probed = self._probe(comment.content)
            if probed is None:
                return Decision(comment)
            scans = probed
        else:
            scans = self.scan(comment.content)
        now = time.time() if now is None else now
        return self._evaluate_scanned(comment, scans, offenses, now, observation)

    def _probe(self, content: str) -> list[ScanResult] | None:
        """:meth:`scan`, or None when every group's scan is known to hold nothing (nothing is
        made for them then: Matcher.probe)."""
        matchers = self.matchers
        probes = [matcher.probe(content) for matcher in matchers]
        if all(found is None for found in probes):
            return None
        return [
            found if found is not None else matcher.scan(content)
            for matcher, found in zip(matchers, probes, strict=True)
        ]

    def evaluate_many(
        self,
        comments: Sequence[Comment],
        *,
        offenses: OffenseCounts | None = None,
        now: float | None = None,
        waves: WaveState | None = None,
        observations: Sequence[Observation | None] | None = None,
    ) -> Iterator[Decision]:
        """The decisions :meth:`evaluate` gives, comment by comment and in order, for a page
        of comments scanned together (:meth:`Matcher.scan_page`: one automaton scan and,
        usually, one regex set search for the page).

        Each decision is made when the caller takes it (each comment recorded in ``waves``
        just before it), so an offense the caller records for one comment counts for the
        comments after it, as with :meth:`evaluate`. When every rule needs some content hit,
        a comment no group's scan found anything in is decided without its scans being made.
        ``observations``: what :meth:`observe_page` recorded for each comment (``waves`` is
        then not asked).
        """
        contents = [comment.content for comment in comments]
        pages = [matcher.scan_page(contents) for matcher in self.matchers]
        gated = self._all_gated
        busy = pages[0].busy if len(pages) == 1 else frozenset().union(
            *(page.busy for page in pages)
        )
        if observations is not None and len(observations) != len(comments):
            raise ValueError(f"{len(observations)} observations for {len(comments)} comments")
        for index, comment in enumerate(comments):
            at = now
            observation = None
            if observations is not None:
                observation = observations[index]
            elif waves is not None:
                at = time.time() if now is None else now
                observation = self.observe(comment, waves, at)
            if gated and index not in busy:  # the common case: a clean comment
                yield Decision(comment)
                continue
            scans = [page.result(index) for page in pages]
            yield self._evaluate_scanned(
                comment, scans, offenses, time.time() if at is None else at, observation
            )

    def _evaluate_scanned(
        self,
        comment: Comment,
        scans: list[ScanResult],
        offenses: OffenseCounts | None,
        now: float,
        observation: Observation | None,
    ) -> Decision:
        if self._all_gated:
            for scan in scans:
                if scan.literals or scan.regexes:
                    break
            else:  # the common case: a clean comment, no content-free rule
                return Decision(comment)
        fired = _fired(scans)
        candidates = self._candidates.for_signals(fired)
        if not candidates:
            return Decision(comment)
        ctx = EvalContext(
            comment=comment, scans=scans, now=now, offenses=offenses, waves=observation,
        )
        matched: list[Rule] = []
        after_stop: set[str] = set()
        held: dict[str, frozenset[Signal]] = {}
        held_later = self._held_later
        # Enforced and shadow rules run as two independent passes over the same order: a
        # shadow rule's `stop` ends only the shadow rules after it, and an enforced `stop`
        # ends only the enforced ones (shadow rules after it still run, marked after_stop),
        # so enforcement is exactly what it would be without any shadow rule.
        enforce_stopped = shadow_stopped = False
        has_shadow = self._has_shadow
        for rule in candidates:
            if enforce_stopped and (shadow_stopped or not has_shadow):
                break
            shadow = rule.mode == "shadow"
            if shadow_stopped if shadow else enforce_stopped:
                continue
            if not rule.applies_to(comment):
                continue
            if rule.when is not None and not rule.when.holds(ctx):
                continue
            matched.append(rule)
            if shadow and enforce_stopped:
                after_stop.add(rule.id)
            if rule.branching and rule.when is not None and rule.id not in held_later:
                # Now, not when a span is asked for: the offense count may have moved by then.
                held[rule.id] = held_signals(rule.when, ctx)
            if rule.stop:
                if shadow:
                    shadow_stopped = True
                else:
                    enforce_stopped = True
        decision = Decision(comment)
        if matched:
            self._decide(decision, matched, after_stop, ctx, fired, held)
            if observation is not None:
                self._waves_of(decision, matched, ctx)
        return decision

    def observe(self, comment: Comment, waves: WaveState, now: float) -> Observation | None:
        """Record ``comment`` in the wave state when a ``repeated``/``burst`` rule applies to it.

        Every such comment is recorded, whether or not its rules get as far as the condition
        (a content gate, a `stop` above): the counts are of the account's comments, not of the
        comments some rule looked at.
        """
        query = self.wave_query
        if query is None or not any(r.applies_to(comment) for r in self._wave_rules):
            return None
        return waves.observe(comment, wave_text(comment.content), query, now=now)

    def observe_page(
        self, comments: Sequence[Comment], waves: WaveState, now: float
    ) -> list[Observation | None]:
        """:meth:`observe` a page of comments in order, in one round trip to the wave state."""
        query = self.wave_query
        if query is None:
            return [None] * len(comments)
        wanted = [i for i, c in enumerate(comments)
                  if any(r.applies_to(c) for r in self._wave_rules)]
        texts = wave_texts([comments[i].content for i in wanted])
        seen = waves.observe_many(
            [(comments[i], text) for i, text in zip(wanted, texts, strict=True)], query, now=now
        )
        out: list[Observation | None] = [None] * len(comments)
        for i, observation in zip(wanted, seen, strict=True):
            out[i] = observation
        return out

    @staticmethod
    def _waves_of(decision: Decision, matched: list[Rule], ctx: EvalContext) -> None:
        for rule in matched:
            if rule.when is not None:
                members = wave_members(rule.when, ctx)
                if members:
                    decision.waves[rule.id] = members

    def _decide(
        self, decision: Decision, matched: list[Rule], after_stop: set[str], ctx: EvalContext,
        fired: set[Signal], held: dict[str, frozenset[Signal]],
    ) -> None:
        by_id = {rule.id: rule for rule in matched}
        decision.matches = [self._rule_matches[r.id][r.id in after_stop] for r in matched]
        held_later = self._held_later

        def span_of(rule_id: str) -> Span | None:
            rule = by_id[rule_id]
            signals: set[Signal] | frozenset[Signal] | None = held.get(rule_id)
            if signals is None:
                signals = (
                    held_signals(rule.when, ctx)
                    if rule.when is not None and rule_id in held_later else fired
                )
            return _span_of(rule, ctx.scans, signals)

        decision.span_finder = span_of
        deleting = self._deleting
        enforce_delete = shadow_delete = False
        for rule in matched:
            if rule.id in deleting:
                if rule.mode == "enforce":
                    enforce_delete = True
                else:
                    shadow_delete = True
        planned: dict[str, PlannedAction] = {}
        # Enforced rules plan first, so their actions come out as if no shadow rule existed;
        # shadow rules then add what no enforced rule asked for.
        enforced = [r for r in matched if r.mode == "enforce"]
        for rule in enforced + [r for r in matched if r.mode == "shadow"]:
            deleted = enforce_delete or (rule.mode == "shadow" and shadow_delete)
            self._plan_rule(decision, rule, rule.id in after_stop, deleted, planned)
        decision.actions = list(planned.values())

    def _plan_rule(
        self, decision: Decision, rule: Rule, after_stop: bool, deleted: bool,
        planned: dict[str, PlannedAction],
    ) -> None:
        """Add ``rule``'s actions to ``planned`` (by label), unless planned already; say in
        ``decision.skipped`` why one cannot be (``deleted``: a delete suppresses it)."""
        comment = decision.comment
        for plan in self._action_plans[rule.id]:
            kind = plan.action.type
            reason = skip_reason(kind, comment, deleted)
            if reason is not None:
                decision.skipped.append(SkippedAction(kind, rule.id, reason))
                continue
            if plan.label in planned:
                continue  # planned already, by an enforced rule or an earlier shadow one
            if kind != "reply":
                planned[plan.label] = plan.planned[after_stop]
                continue
            text, reason = reply_text(decision, rule, plan.action)
            if reason is not None:
                decision.skipped.append(SkippedAction(kind, rule.id, reason))
                continue
            planned[plan.label] = PlannedAction(
                kind, rule.id, rule.mode, text, after_stop=after_stop, channel=plan.action.channel
            )

    # -- rule tests ------------------------------------------------------------------------
    def run_tests(self) -> list[Problem]:
        """Evaluate every rule's ``tests`` samples against that rule alone."""
        failures: list[Problem] = []
        now = time.time()
        for rule in self.rules:
            for sample in rule.samples:
                got, how = self._try_sample(rule, sample, now)
                if got == sample.expect_match:
                    continue
                kind = "match" if sample.expect_match else "no_match"
                verdict = f"did not match{how}" if sample.expect_match else f"matched{how}"
                failures.append(Problem(
                    f"tests.{kind} sample {sample.content!r} {verdict}",
                    file=rule.file, line=sample.line, rule=rule.id, field=f"tests.{kind}",
                ))
        return failures

    def _try_sample(self, rule: Rule, sample: RuleSample, now: float) -> tuple[bool, str]:
        """Whether ``rule`` matches ``sample``, and how (a span or why it does not apply)."""
        platform = sample.platform or (sorted(rule.platforms)[0] if rule.platforms else "wechat")
        account = sample.account or (sorted(rule.accounts)[0] if rule.accounts else None)
        author = sample.author
        if author is None and sample.offenses:
            author = "test-author"  # offenses are someone's: the sample need not name them
        if sample.created_at is not None:
            created_at = sample.created_at
        else:
            created_at = now - (sample.age or 0.0)
        comment = Comment(
            platform=platform, id="test", content=sample.content, account=account,
            author=author, created_at=created_at, elected=sample.elected, replied=sample.replied,
        )
        if rule.platforms is not None and platform not in rule.platforms:
            return False, f" (the rule applies only on {', '.join(sorted(rule.platforms))})"
        if rule.accounts is not None and account not in rule.accounts:
            return False, f" (the rule applies only to {', '.join(sorted(rule.accounts))})"
        scans = self.scan(sample.content)
        ctx = EvalContext(comment=comment, scans=scans, now=now,
                          offenses=_SampleOffenses(sample.offenses or 0),
                          waves=_sample_waves(rule, comment, sample, now))
        holds = rule.when is None or rule.when.holds(ctx)
        if not holds:
            return False, ""
        fired = held_signals(rule.when, ctx) if rule.when is not None else _fired(scans)
        span = _span_of(rule, scans, fired)
        return True, (f" at {span.text!r}" if span else "")


def _sample_waves(
    rule: Rule, comment: Comment, sample: RuleSample, now: float
) -> Observation | None:
    """What ``repeated``/``burst`` see for a test sample: its ``history:``, oldest first."""
    query = wave_query([rule.when])
    if query is None:
        return None
    written = comment.created_at if comment.created_at is not None else now
    earlier = [
        Comment(platform=comment.platform, id=f"history-{i}", content=entry.content,
                account=comment.account, target=comment.target, author=entry.author,
                created_at=entry.created_at if entry.created_at is not None
                else written - entry.before)
        for i, entry in enumerate(sample.history)
    ]
    state = MemoryWaveState()
    for other in sorted(earlier, key=lambda c: c.created_at or 0.0):
        state.observe(other, wave_text(other.content), query, now=now)
    return state.observe(comment, wave_text(comment.content), query, now=now)


@dataclass(frozen=True, slots=True)
class _SampleOffenses:
    """A test sample's ``offenses: N``: the author's prior offenses in whatever window."""

    n: int

    def count(
        self, *, platform: str, account: str | None, author: str, within: float, now: float
    ) -> int:
        return self.n

    def record(self, *, platform: str, account: str | None, author: str, at: float) -> None:
        raise TypeError("a test sample's offense count is fixed")


def _fired(scans: list[ScanResult]) -> set[Signal]:
    fired: set[Signal] = set()
    for group, scan in enumerate(scans):
        if scan.literals:
            fired.update((group, "lit", i) for i in scan.literals)
        if scan.regexes:
            fired.update((group, "re", i) for i in scan.regexes)
    return fired


def _span_of(
    rule: Rule, scans: list[ScanResult], fired: set[Signal] | frozenset[Signal]
) -> Span | None:
    """The earliest original-text span among the rule's content signals that fired (on a
    tie, the first in source order).

    ``fired`` holds only the signals of branches that hold when the rule has an ``any`` with
    content (:func:`held_signals`): a term of a branch that failed is not what matched.
    """
    best: tuple[int, int] | None = None
    best_scan: ScanResult | None = None
    for hit in rule.content_hits:
        group = hit.group
        scan = scans[group]
        literal = isinstance(hit, LiteralHit)
        kind = "lit" if literal else "re"
        # The scan's ids are few: intersect from them, not from the rule's thousands.
        for ident in sorted(hit.ids & (scan.literals if literal else scan.regexes)):
            if (group, kind, ident) not in fired:
                continue
            start, end = scan.literal_span(ident) if literal else scan.regex_span(ident)
            if best is None or (start, -end) < (best[0], -best[1]):
                best, best_scan = (start, end), scan
    if best is None or best_scan is None:
        return None
    return Span(best[0], best[1], best_scan.text.original[best[0]:best[1]])


def offense_rule(decision: Decision) -> str | None:
    """The enforced rule whose action makes the decision an offense of the author, if any."""
    for action in decision.actions:
        if action.mode == "enforce" and action.type in OFFENSE_ACTIONS:
            return action.rule
    return None


def is_offense(decision: Decision) -> bool:
    """Whether the decision counts against the author for ``author.offenses``."""
    return offense_rule(decision) is not None
