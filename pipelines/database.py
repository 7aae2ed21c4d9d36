"""Wires settings into the IGI database connector: the engine for this process, migrated."""

from __future__ import annotations

from sqlalchemy.engine import Engine

from connectors.igi import EmbeddedPostgres, create_engine, upgrade
from pipelines.settings import Settings


def embedded_server(settings: Settings, *, keep_running: bool = False) -> EmbeddedPostgres:
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
