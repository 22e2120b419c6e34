"""``modworker check``: the config and rules validated, every rule's tests run; with
``--online`` every account's credentials tried against its platform; ``--strict`` makes
warnings fail (for CI); ``--json`` prints every finding as one JSON line.

Findings have a severity: ``error`` (exit 1), ``warning`` (exit 1 with ``--strict``: an unset
environment variable, a secret written in the file, a target listed twice, an account the
platform could not be asked about, an enforced rule without tests), ``note`` (never fails).
Text output: errors on stderr as ``error: file:line: field: message`` and a count; warnings
and notes on stdout, and the ``ok:`` summary; with ``--strict`` warnings are errors.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Literal, TextIO

import redis as redis_lib

from worker.config import AccountConfig, Config, load_config
from worker.credentials import CredentialCheck, check_accounts
from worker.errors import ConfigError, EmbeddedRedisError, Problem
from worker.exit_codes import EXIT_FAILED, EXIT_OK
from worker.redis_server import EmbeddedRedis
from worker.rules import RuleSet, load_rules

Severity = Literal["error", "warning", "note"]


@dataclass(frozen=True, slots=True)
class Finding:
    severity: Severity
    message: str
    problem: Problem | None = None
    account: str | None = None
    verdict: str | None = None

    def body(self) -> str:
        """The located problem (``file:line: field: message``), or the message."""
        return str(self.problem) if self.problem is not None else self.message

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"severity": self.severity, "message": self.message}
        if self.problem is not None:
            out.update({"file": self.problem.file, "line": self.problem.line,
                        "rule": self.problem.rule, "field": self.problem.field,
                        "text": str(self.problem)})
        if self.account is not None:
            out.update({"account": self.account, "verdict": self.verdict})
        return out


@dataclass
class CheckResult:
    findings: list[Finding] = field(default_factory=list)
    config: Config | None = None
    rules: RuleSet | None = None

    def count(self, severity: Severity) -> int:
        return sum(1 for f in self.findings if f.severity == severity)

    def failed(self, *, strict: bool) -> bool:
        return self.count("error") > 0 or (strict and self.count("warning") > 0)


def cmd_check(args: argparse.Namespace) -> int:
    if args.online:  # the clients' own lines: on stderr, only when worth reading
        from worker.logs import configure_logging

        configure_logging(level="WARNING", stream=sys.stderr)
    result = run_check(args.config, online=args.online)
    return report(result, strict=args.strict, as_json=args.json, out=sys.stdout, err=sys.stderr)


def run_check(config_path: str | Path, *, online: bool = False) -> CheckResult:
    """Every finding about ``config_path`` (see the module docstring)."""
    result = CheckResult()
    try:
        config = load_config(config_path, require_secrets=False)
        accounts = {account.name: account.platform for account in config.accounts}
        rules = load_rules(config.rules, accounts=accounts, normalize=config.normalize,
                           channels={c.name for c in config.notify.channels})
    except ConfigError as exc:
        result.findings.extend(Finding("error", p.message, p) for p in exc.problems)
        return result
    result.config, result.rules = config, rules
    for warning in (*config.warnings, *rules.warnings):
        result.findings.append(Finding("warning", warning.message, warning))
    result.findings.extend(Finding("note", note) for note in rules.notes)
    if online:
        result.findings.extend(_online(config))
    return result


def _online(config: Config) -> list[Finding]:
    """Each account's credentials against its platform, through a private throwaway Redis
    (no token or state of a running daemon is read or written)."""
    findings: list[Finding] = []
    usable = []
    for account in config.accounts:
        secret = account.app_secret if account.platform == "wechat" else account.access_token
        if secret is None:
            findings.append(Finding("error", f"account '{account.name}': its secret is not set: "
                                    "cannot check it online", account=account.name,
                                    verdict="not_set"))
        else:
            usable.append(account)
    if not usable:
        return findings
    with tempfile.TemporaryDirectory(prefix="modworker-check-") as scratch:
        server = EmbeddedRedis(state_dir=Path(scratch), appendonly=False)
        try:
            server.start()
        except EmbeddedRedisError as exc:
            return [*findings, Finding("error", f"cannot start a Redis for the online "
                                       f"check: {exc}")]
        try:
            client = redis_lib.Redis.from_url(server.url)
            checks = check_accounts(_only(config, usable), redis=client)
            client.close()
        finally:
            server.stop()
    findings.extend(_finding(check) for check in checks)
    return findings


def _only(config: Config, accounts: list[AccountConfig]) -> Config:
    return replace(config, accounts=tuple(accounts))


def _finding(check: CredentialCheck) -> Finding:
    severities: dict[str, Severity] = {
        "accepted": "note", "rejected": "error", "unreachable": "warning", "skipped": "warning",
    }
    severity = severities[check.verdict]
    return Finding(severity, str(check), account=check.account, verdict=check.verdict)


def report(result: CheckResult, *, strict: bool, as_json: bool, out: TextIO,
           err: TextIO) -> int:
    """Print ``result``; the exit code."""
    failed = result.failed(strict=strict)
    if as_json:
        for finding in result.findings:
            out.write(json.dumps(finding.to_dict(), ensure_ascii=False) + "\n")
        out.write(json.dumps(_summary(result, failed=failed), ensure_ascii=False) + "\n")
        return EXIT_FAILED if failed else EXIT_OK
    failing = [f for f in result.findings
               if f.severity == "error" or (strict and f.severity == "warning")]
    for finding in result.findings:
        if finding not in failing:
            out.write(f"{finding.severity}: {finding.body()}\n")
    if failing:
        for finding in failing:
            err.write(f"error: {finding.body()}\n")
        err.write(f"{len(failing)} problem{'s' if len(failing) != 1 else ''} found\n")
        return EXIT_FAILED
    summary = _summary(result, failed=failed)
    out.write(
        f"ok: {summary['accounts']} account(s), {summary['rules']} rule(s) in "
        f"{summary['files']} file(s) ({summary['shadow']} shadow, {summary['disabled']} "
        f"disabled), {summary['samples']} test sample(s) passed\n"
    )
    return EXIT_OK


def _summary(result: CheckResult, *, failed: bool) -> dict[str, Any]:
    summary: dict[str, Any] = {
        "severity": "summary", "ok": not failed, "errors": result.count("error"),
        "warnings": result.count("warning"), "notes": result.count("note"),
    }
    if result.config is not None and result.rules is not None:
        rules = result.rules.rules
        summary.update({
            "accounts": len(result.config.accounts), "rules": len(rules),
            "files": len(result.rules.files),
            "shadow": sum(1 for r in rules if r.mode == "shadow"),
            "disabled": sum(1 for r in rules if not r.enabled),
            "samples": sum(len(r.samples) for r in rules),
        })
    return summary
