"""Wires settings into the IGI database connector: the engine for this process, migrated."""

from __future__ import annotations

from sqlalchemy.engine import Engine

from connectors.igi import EmbeddedPostgres, create_engine, upgrade
from connectors.igi.migrations import status as migration_status
from pipelines.settings import Settings


def embedded_server(settings: Settings, *, keep_running: bool = False) -> EmbeddedPostgres:
    """The embedded PostgreSQL in SS_IGI_HOME/pgdata, started; ``keep_running``: it outlives this process."""
    return EmbeddedPostgres(settings.ss_igi_home / "pgdata", keep_running=keep_running).start()


def database_url(settings: Settings) -> str:
    """IGI_DATABASE_URL (or its Prefect block); unset, the embedded server, started on demand."""
    url = settings.igi_database_url_value()
    if url is not None:
        return url.get_secret_value()
    return embedded_server(settings).url()


def open_database(settings: Settings, *, migrate: bool = True, pool_size: int = 5) -> Engine:
    """An engine on IGI's database, with pending migrations applied first (the flows call this)."""
    engine = create_engine(database_url(settings), pool_size=pool_size)
    if migrate:
        upgrade(engine)
    return engine


class SchemaNotCurrent(RuntimeError):
    """The database has migrations still to apply (commands that only read or act on it do not migrate)."""


def open_current_database(settings: Settings) -> Engine:
    """An engine on IGI's database, refused with what to do when migrations are pending (operator commands
    read and act on the schema as it is; the flows and ``ss-igi db upgrade`` migrate)."""
    engine = create_engine(database_url(settings))
    try:
        pending = migration_status(engine).pending
    except Exception:
        engine.dispose()
        raise
    if pending:
        engine.dispose()
        names = pending[0].file_name + (f" .. {pending[-1].file_name}" if len(pending) > 1 else "")
        raise SchemaNotCurrent(f"the IGI database has {len(pending)} pending migration(s) ({names}); "
                               "run ss-igi db upgrade")
    return engine
