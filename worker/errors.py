"""The one exception tree of modworker.

Everything modworker raises on purpose derives from :class:`ModworkerError`::

    ModworkerError
    ├── ConfigError                 config or rule files are wrong (carries every Problem found)
    ├── InputError                  a replay input line or a CLI argument is unusable
    ├── BatchTooLargeError          more ids than an API accepts in one call, refused before calling
    ├── EmbeddedRedisError          the embedded Redis server could not be started
    ├── StateUnavailableError       a command cannot reach the deployment's Redis
    ├── ExpositionError             the metrics server cannot listen (worker.metrics)
    ├── PatternError                a rule regex the linear-time engine cannot run
    ├── TemplateError               a reply template with an unknown placeholder or a lone brace
    ├── NotifyError                 a notification channel refused or did not answer a message
    │   └── NotifyRateLimitedError  the robot's rate limit (ours or its answer): send later
    ├── UnknownPlatformError        a platform name no spec declares (worker.platform_specs)
    ├── ProcessWaitError            a child process exited or was not ready in time (subprocesses)
    ├── SandboxAdminError           the sandbox's admin API refused a call (sandbox.admin_client)
    └── PlatformError               a platform API call failed; carries platform, account,
        │                           endpoint, code, message and HTTP status
        ├── TransientError          retry with backoff (-1, 5xx, timeouts, 45011, Weibo 10001-10011)
        │   ├── RateLimitedError    a rate limit said "not now": retry at ``retry_at`` (45011)
        │   └── MalformedAnswerError  an answer that cannot be decoded or has the wrong shape
        ├── AuthError               token invalid or expired: refresh once, then retry
        ├── QuotaError              quota exhausted: pause that API for that account until resume_at
        ├── PermanentError          no retry; an audited failure
        │   ├── TargetGoneError     the article (88001) or post (20101) is gone: stop polling it
        │   └── ActionDisabledError the account may not use this API (88000, 48001): disable it
        └── AlreadyDoneError        the platform says the effect already holds (88008 on delete):
                                    the client returns it as ``ActionResult(already_done=True)``

The four classes of ``design.md`` (transient, auth, quota, permanent) are four of the
direct subclasses of :class:`PlatformError` (the fifth, :class:`AlreadyDoneError`, is a
success); code that decides what to do with a failure switches on them and never on an error
code.
"""

from __future__ import annotations

from dataclasses import dataclass


class ModworkerError(Exception):
    """Base class of every error modworker raises on purpose."""


@dataclass(frozen=True, slots=True)
class Problem:
    """One thing wrong with a configuration or rule file, located as precisely as known."""

    message: str
    file: str | None = None
    line: int | None = None
    rule: str | None = None
    field: str | None = None

    def __str__(self) -> str:
        where = self.file or "<config>"
        if self.line is not None:
            where += f":{self.line}"
        parts = [where]
        if self.rule:
            parts.append(f"rule {self.rule!r}")
        if self.field:
            parts.append(self.field)
        return f"{': '.join(parts)}: {self.message}"


class ConfigError(ModworkerError):
    """Configuration or rules are invalid. ``problems`` lists every problem found, not the first."""

    def __init__(self, problems: list[Problem] | Problem | str) -> None:
        if isinstance(problems, str):
            problems = [Problem(problems)]
        elif isinstance(problems, Problem):
            problems = [problems]
        self.problems: list[Problem] = list(problems)
        super().__init__("\n".join(str(p) for p in self.problems))


class InputError(ModworkerError):
    """An input (a replay line, a command-line value) cannot be used."""


class BatchTooLargeError(ModworkerError, ValueError):
    """A batch call was asked for more ids than the API accepts; nothing was sent."""


class NotifyError(ModworkerError):
    """A team-chat robot or webhook did not take a message. Never carries the URL or secret."""

    def __init__(self, message: str, *, channel: str, code: int | None = None,
                 http_status: int | None = None) -> None:
        self.channel = channel
        self.code = code
        self.http_status = http_status
        super().__init__(message)


class NotifyRateLimitedError(NotifyError):
    """Not now: the channel's rate limit is used up until ``retry_at`` (Unix seconds)."""

    def __init__(self, message: str, *, channel: str, retry_at: float,
                 code: int | None = None) -> None:
        super().__init__(message, channel=channel, code=code)
        self.retry_at = retry_at


class EmbeddedRedisError(ModworkerError):
    """The embedded Redis server could not be started or reached."""


class StateUnavailableError(ModworkerError):
    """A command cannot reach the deployment's Redis; the message says why and what to do."""


class ProcessWaitError(ModworkerError):
    """A child process exited, or a condition waited for did not hold in time; the message
    says which, with the end of the child's log."""


class SandboxAdminError(ModworkerError):
    """The sandbox's admin API answered a call with an error (the message quotes it)."""


class PlatformError(ModworkerError):
    """A platform API call failed.

    Never carries a secret: ``message`` is the platform's own message, and URLs are not
    part of the text.
    """

    def __init__(
        self,
        message: str,
        *,
        platform: str,
        endpoint: str,
        account: str | None = None,
        code: int | None = None,
        http_status: int | None = None,
    ) -> None:
        self.platform = platform
        self.account = account
        self.endpoint = endpoint
        self.code = code
        self.http_status = http_status
        self.platform_message = message
        super().__init__(message)

    def __str__(self) -> str:
        bits = [f"{self.platform}"]
        if self.account:
            bits.append(f"account={self.account}")
        bits.append(f"endpoint={self.endpoint}")
        if self.code is not None:
            bits.append(f"code={self.code}")
        if self.http_status is not None:
            bits.append(f"http_status={self.http_status}")
        return f"{self.platform_message} ({' '.join(bits)})"

    def __reduce__(self) -> tuple[object, ...]:
        # Keyword-only constructor: make the error survive pickling (dramatiq, multiprocessing).
        return (
            _rebuild_platform_error,
            (
                type(self),
                self.platform_message,
                self.platform,
                self.endpoint,
                self.account,
                self.code,
                self.http_status,
                self.__dict__,
            ),
        )


def _rebuild_platform_error(
    cls: type[PlatformError],
    message: str,
    platform: str,
    endpoint: str,
    account: str | None,
    code: int | None,
    http_status: int | None,
    state: dict[str, object],
) -> PlatformError:
    err = cls.__new__(cls)
    PlatformError.__init__(
        err,
        message,
        platform=platform,
        endpoint=endpoint,
        account=account,
        code=code,
        http_status=http_status,
    )
    err.__dict__.update(state)
    return err


class TransientError(PlatformError):
    """Worth retrying with backoff: system busy, 5xx, timeouts, malformed answers."""


class AuthError(PlatformError):
    """The access token is invalid or expired: refresh it once and retry."""


class QuotaError(PlatformError):
    """A quota is exhausted; the API must not be called for this account until ``resume_at``.

    ``resume_at`` is a Unix timestamp (seconds) or None when the client could not know it.
    """

    resume_at: float | None = None


class PermanentError(PlatformError):
    """Retrying cannot help; the failure is audited with its code and reason."""


class TargetGoneError(PermanentError):
    """The article or post no longer exists: stop polling it."""


class ActionDisabledError(PermanentError):
    """The account lacks the privilege for this API: disable the action until reload."""


class AlreadyDoneError(PlatformError):
    """The platform reports the effect already holds (e.g. deleting a deleted comment).

    Callers treat it as success; it is an exception so that the code-to-meaning mapping lives
    in one table with every other code.
    """


class PatternError(ModworkerError, ValueError):
    """A rule regex the linear-time engine cannot run (bad syntax, backreference, lookaround)."""


class TemplateError(ModworkerError, ValueError):
    """A reply template with an unknown placeholder or an unbalanced brace."""


class MalformedAnswerError(TransientError):
    """An answer that cannot be used: not JSON, not UTF-8, nested too deep, larger than the
    cap, not a JSON object, or not the documented shape. Retried like a busy answer (a
    damaged answer is usually a dropped connection; the call may have taken effect)."""


class RateLimitedError(TransientError):
    """A rate limit (the platform's per-minute limit, 45011, or our own shared limiter) said
    "not now": retry no earlier than ``retry_at`` (Unix seconds; None when unknown)."""

    retry_at: float | None = None


class UnknownPlatformError(ModworkerError):
    """A platform name no spec declares (config.yaml rejects such an account with a located
    error first, so where this surfaces, a caller skipped the config)."""
