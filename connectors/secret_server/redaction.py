"""Keep passwords and tokens out of log lines and exception text.

Two layers, because either alone leaks:
- a registry of the exact secret strings this process handed to or received from Secret Server
  (passwords, access and refresh tokens, OTP codes), replaced wherever they appear;
- patterns for the shapes secrets travel in (``Authorization: Bearer ...``, ``password=...``,
  ``"refresh_token": "..."``), which catch values the registry never saw (e.g. another client's).

`RedactingFilter` is installed on the package logger (``connectors.secret_server``) and rewrites
each record's message before any handler sees it. Exception classes call `redact` in ``__str__``.
"""

from __future__ import annotations

import logging
import re
import threading
from collections import deque

REDACTED = "***"

# Shorter strings are not registered: replacing every "a" or "12" would garble messages and a secret
# that short offers no protection anyway.
_MIN_SECRET_LENGTH = 4
# Shorter secrets are replaced only where they stand alone, not inside a longer word: a password such as "admin"
# must not turn "sysadmin" or "/administration" into "sys***". Longer ones (tokens) are replaced anywhere.
_WORD_SECRET_LENGTH = 12
# Tokens rotate on each refresh; remember enough of them to cover every token still in use.
_MAX_REMEMBERED = 512

_PATTERNS: list[tuple[re.Pattern[str], str]] = [
    (re.compile(r"(?i)(bearer\s+)[A-Za-z0-9\-._~+/=]+"), r"\1" + REDACTED),
    (re.compile(r"(?i)(authorization['\"]?\s*[:=]\s*['\"]?)[^'\",}\s]+"), r"\1" + REDACTED),
    (
        re.compile(
            r"(?i)((?:password|access_token|refresh_token|otp|client_secret)['\"]?\s*[:=]\s*['\"]?)"
            r"[^'\"&,}\s]+"
        ),
        r"\1" + REDACTED,
    ),
]


class SecretRegistry:
    """Process-wide set of literal secrets to scrub (thread-safe, bounded)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._secrets: deque[str] = deque(maxlen=_MAX_REMEMBERED)
        self._pattern: re.Pattern[str] | None = None

    def add(self, secret: str | None) -> None:
        """Scrub ``secret`` from now on (ignored when empty or too short to be worth it)."""
        if not secret or len(secret) < _MIN_SECRET_LENGTH:
            return
        with self._lock:
            if secret in self._secrets:
                return
            self._secrets.append(secret)
            # Longest first, so a secret that contains another is replaced whole.
            ordered = sorted(set(self._secrets), key=len, reverse=True)
            self._pattern = re.compile("|".join(
                re.escape(s) if len(s) >= _WORD_SECRET_LENGTH else rf"(?<![A-Za-z0-9]){re.escape(s)}(?![A-Za-z0-9])"
                for s in ordered))

    def scrub(self, text: str) -> str:
        """``text`` with every registered secret replaced."""
        pattern = self._pattern
        return text if pattern is None else pattern.sub(REDACTED, text)


SECRETS = SecretRegistry()


def register_secret(secret: str | None) -> None:
    """Remember a secret so that `redact` and the log filter remove it from now on."""
    SECRETS.add(secret)


def redact(text: object) -> str:
    """Return ``str(text)`` with every known secret and every secret-shaped value replaced."""
    out = SECRETS.scrub(str(text))
    for pattern, replacement in _PATTERNS:
        out = pattern.sub(replacement, out)
    return out


class RedactingFilter(logging.Filter):
    """Rewrites a record's message (after %-formatting) and exception text through `redact`."""

    def filter(self, record: logging.LogRecord) -> bool:
        """Redact the record in place; never drops it."""
        try:
            message = record.getMessage()
        except Exception:  # a malformed log call must not break the caller
            message = str(record.msg)
        record.msg = redact(message)
        record.args = None
        if record.exc_info and record.exc_info[1] is not None and not record.exc_text:
            record.exc_text = redact(logging.Formatter().formatException(record.exc_info))
            # The handler would format exc_info again from the raw exception; keep only our text.
            record.exc_info = None
        elif record.exc_text:
            record.exc_text = redact(record.exc_text)
        return True


LOGGER_NAME = "connectors.secret_server"


def package_logger() -> logging.Logger:
    """The one logger the connector writes to, with the redacting filter installed once."""
    logger = logging.getLogger(LOGGER_NAME)
    if not any(isinstance(f, RedactingFilter) for f in logger.filters):
        logger.addFilter(RedactingFilter())
    return logger


log = package_logger()
