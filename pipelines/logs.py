"""Logging for the CLI: its log handlers scrub passwords and tokens (the connector's redaction)."""

from __future__ import annotations

import logging

from connectors.secret_server.redaction import RedactingFilter, register_secret

__all__ = ["install_redaction", "register_secret"]


def install_redaction(logger: logging.Logger | None = None) -> None:
    """Put the redacting filter on every handler of ``logger`` (default: root). Handler filters see the records
    of every child logger that propagates, which a filter on the logger itself would not."""
    target = logger or logging.getLogger()
    for handler in target.handlers:
        if not any(isinstance(f, RedactingFilter) for f in handler.filters):
            handler.addFilter(RedactingFilter())
