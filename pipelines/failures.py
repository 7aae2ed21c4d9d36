"""Failures an operator can act on: each exception the commands meet, said in one line with what to do.

`explain` is what the CLI prints after ``ss-igi COMMAND:`` and what a failed reconciliation run records. Texts
come from the connector's errors (already redacted) and from the database driver's own message, never from
SQLAlchemy's rendering of an error, which embeds the SQL statement and its parameters.
"""

from __future__ import annotations

import sqlalchemy.exc

from connectors.igi.entities import DEFAULT_INSTANCE
from connectors.igi.migrations import MigrationError
from connectors.secret_server import AuthenticationError, FanOutError, TlsError, TransientError, never_connected
from pipelines.settings import instance_variable

MAX_LINE = 600


class CommandFailed(RuntimeError):
    """A command's own verdict (a failed run, requests that ended in error): its text is the line to print."""


def one_line(text: str, limit: int = MAX_LINE) -> str:
    """Whitespace collapsed, cut at ``limit`` characters."""
    flat = " ".join(text.split())
    return flat if len(flat) <= limit else flat[: limit - 3] + "..."


def fatal_for_run(exc: BaseException) -> BaseException | None:
    """The error behind ``exc`` when no call of this run can succeed (a refused login, an untrusted certificate),
    else None. A rejected login is final: the run stops instead of logging in again for every entity."""
    if isinstance(exc, AuthenticationError | TlsError):
        return exc
    if isinstance(exc, FanOutError) and exc.failures:
        inner = [fatal_for_run(e) for _, e in exc.failures]
        if all(inner):
            return inner[0]
    return None


def _database(exc: sqlalchemy.exc.DBAPIError) -> str:
    driver = one_line(str(exc.orig).splitlines()[0] if str(exc.orig) else type(exc.orig).__name__, 300)
    if exc.statement is None or "connection failed" in driver or "could not translate host" in driver:
        return (f"cannot connect to the IGI database ({driver}); check IGI_DATABASE_URL (or --database-url) "
                "and that PostgreSQL is up")
    if isinstance(exc, sqlalchemy.exc.OperationalError | sqlalchemy.exc.InterfaceError) or \
            exc.connection_invalidated:
        return (f"lost the connection to the IGI database ({driver}); what was not committed was rolled back: "
                "run the command again when the database is back")
    if isinstance(exc, sqlalchemy.exc.ProgrammingError) and "does not exist" in driver:
        return f"the IGI database is missing part of its schema ({driver}); run ss-igi db upgrade"
    return f"the IGI database refused a statement ({type(exc.orig).__name__}: {driver})"


def explain(exc: BaseException, instance: str | None = None) -> str:
    """One line: what failed and what to do about it. ``instance``: the Secret Server instance it concerns, whose
    variables the advice names (``DR_SECRET_SERVER_URL``; the default instance's are unprefixed)."""
    ss = instance_variable(instance or DEFAULT_INSTANCE, "SECRET_SERVER_")
    if isinstance(exc, AuthenticationError) and "HTTP 404" in str(exc):
        return (f"{one_line(str(exc), 300)}: no token endpoint at that address; check {ss}URL (the base "
                "URL, e.g. https://vault.example.com/SecretServer)")
    if isinstance(exc, AuthenticationError):
        return f"{one_line(str(exc))}; check {ss}USERNAME, {ss}PASSWORD and {ss}DOMAIN"
    if isinstance(exc, TlsError):
        return (f"{one_line(str(exc), 300)}. Set {ss}CA_BUNDLE to the PEM file of the certificate "
                "authority that signed Secret Server's certificate")
    if isinstance(exc, TransientError) and never_connected(exc):
        return f"cannot reach Secret Server ({one_line(str(exc), 300)}); check {ss}URL and that the server is up"
    if isinstance(exc, TransientError):
        return f"Secret Server did not answer ({one_line(str(exc), 400)}); try again later"
    if isinstance(exc, FanOutError) and (fatal := fatal_for_run(exc)) is not None:
        return explain(fatal, instance)
    if isinstance(exc, sqlalchemy.exc.DBAPIError):
        return _database(exc)
    if isinstance(exc, MigrationError):
        return (f"{one_line(str(exc), 400)}; ss-igi changes nothing until sql/ and the database's migration "
                "history agree")
    if isinstance(exc, LookupError | ValueError) or type(exc).__module__.startswith("pipelines"):
        return one_line(str(exc)) or type(exc).__name__  # our own errors already say what to do
    text = one_line(str(exc), 300)
    return f"{type(exc).__name__}{': ' + text if text else ''} (rerun with --verbose for the details)"
