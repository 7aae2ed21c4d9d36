"""Logging for the CLI: its log handlers scrub passwords and tokens (the connector's redaction)."""

from __future__ import annotations

import logging

from connectors.secret_server.redaction import RedactingFilter, register_secret

__all__ = ["install_redaction", "quiet_console", "register_secret"]


class _ConsoleFilter(logging.Filter):
    """Keeps the console to one line per record: Prefect's flow and task run records (their API handler keeps
    them for the UI) and tracebacks are left out, unless --verbose."""

    def filter(self, record: logging.LogRecord) -> bool:
        if record.name.startswith(("prefect.flow_runs", "prefect.task_runs")):
            return False
        record.exc_info, record.exc_text, record.stack_info = None, None, None
        return True


def quiet_console(verbose: bool) -> None:
    """Run after Prefect is imported (it replaces the root logger's handlers): redaction on every handler, and,
    unless ``verbose``, no Prefect run records or tracebacks on the console."""
    install_redaction()
    if verbose:
        return
    for handler in logging.getLogger().handlers:
        if not any(isinstance(f, _ConsoleFilter) for f in handler.filters):
            handler.addFilter(_ConsoleFilter())


def install_redaction(logger: logging.Logger | None = None) -> None:
    """Put the redacting filter on every handler of ``logger`` (default: root). Handler filters see the records
    of every child logger that propagates, which a filter on the logger itself would not."""
    target = logger or logging.getLogger()
    for handler in target.handlers:
        if not any(isinstance(f, RedactingFilter) for f in handler.filters):
            handler.addFilter(RedactingFilter())
