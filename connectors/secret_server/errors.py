"""Typed errors. Their text goes through `redact`, so it never carries a password or a token.

Callers decide retry vs permanent failure by type: `TransientError` (the connector already retried
and gave up; trying later may work), `ApiError` (Secret Server refused the request; `error_code`
says why), `AuthenticationError` (credentials or tokens refused).
"""

from __future__ import annotations

from typing import Any

from connectors.secret_server.redaction import redact


class SecretServerError(Exception):
    """Base class. ``str()`` and ``repr()`` are redacted."""

    def __init__(self, message: str) -> None:
        super().__init__(redact(message))

    def __str__(self) -> str:
        return redact(super().__str__())

    def __repr__(self) -> str:
        return f"{type(self).__name__}({str(self)!r})"


class ApiError(SecretServerError):
    """Secret Server answered with an error status (400 in the documented cases; also 404/405/500).

    ``method`` and ``path`` name the request that failed; ``path`` has no query string and no body,
    so nothing secret can ride along. ``after_retry`` is true when an earlier attempt of the same
    request failed in a way that leaves open whether the server acted on it (dropped connection,
    read timeout, 502/504, a non-JSON 200): for a non-idempotent write, the first attempt may have
    taken effect and this error may be the echo of that success ("already exists").
    """

    def __init__(
        self,
        *,
        status: int,
        error_code: str | None,
        message: str | None,
        method: str,
        path: str,
        message_detail: str | None = None,
        model_state: Any = None,
        after_retry: bool = False,
    ) -> None:
        self.status = status
        self.error_code = error_code
        self.message = redact(message) if message is not None else None
        self.message_detail = redact(message_detail) if message_detail is not None else None
        self.model_state = model_state
        self.method = method
        self.path = path
        self.after_retry = after_retry
        text = f"{method} {path} -> HTTP {status}"
        if error_code:
            text += f" {error_code}"
        if message:
            text += f": {message}"
        if message_detail and message_detail != message:
            text += f" ({message_detail})"
        super().__init__(text)

    @property
    def is_not_found(self) -> bool:
        """True when the server said the object does not exist (404, or an error code that says so)."""
        code = (self.error_code or "").lower()
        return self.status == 404 or "notfound" in code or "doesnotexist" in code


class AuthenticationError(SecretServerError):
    """Login or refresh refused, or a fresh token was still rejected (403/401)."""


class TlsError(SecretServerError):
    """Secret Server's TLS certificate failed verification: every call would fail the same way."""


class TransientError(SecretServerError):
    """Retries exhausted (attempts or time) on 429/5xx/connection errors/timeouts/non-JSON 200s.

    ``last_cause`` is the last failure (also chained as ``__cause__``); ``attempts`` how many
    requests were sent.
    """

    def __init__(self, message: str, *, last_cause: BaseException | str | None = None, attempts: int = 0,
                 retry_after: float | None = None):
        self.last_cause = last_cause
        self.attempts = attempts
        self.retry_after = retry_after  # the server's last Retry-After, in seconds: when trying again makes sense
        super().__init__(message)


class OutOfTime(SecretServerError):
    """The caller's time to act (`ClientCore.within`) ran out before the request could be sent: nothing was sent
    in this attempt. A provisioning worker whose claim is no longer surely held gets this instead of a write."""


class PagingError(SecretServerError):
    """A search could not be paged safely (server ignored the sort, or the data kept shifting)."""


class FanOutError(SecretServerError):
    """One or more per-object calls failed. ``failures`` pairs each failed item with its exception,
    in input order; ``succeeded`` counts the calls that did not fail (their results were yielded)."""

    def __init__(self, failures: list[tuple[Any, BaseException]], succeeded: int = 0):
        self.failures = failures
        self.succeeded = succeeded
        first = failures[0] if failures else None
        text = f"{len(failures)} of the fanned-out calls failed"
        if first is not None:
            text += f"; first: {first[0]!r}: {type(first[1]).__name__}: {first[1]}"
        super().__init__(text)
