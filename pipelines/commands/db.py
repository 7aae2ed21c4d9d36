"""`ss-igi db`: upgrade the IGI database schema; start or stop the embedded server for psql sessions."""

from __future__ import annotations

import argparse
from typing import Any

from connectors.igi import EmbeddedPostgres, create_engine, upgrade
from pipelines.database import database_url, embedded_server
from pipelines.settings import Settings


def add_parser(sub: Any) -> None:
    """Register ``ss-igi db`` and its subcommands."""
    parser = sub.add_parser("db", help="database schema and the embedded server")
    db_sub = parser.add_subparsers(dest="db_command", metavar="DB_COMMAND", required=True)

    up = db_sub.add_parser("upgrade", help="apply pending SQL migrations (a no-op when up to date)")
    up.set_defaults(run=run_upgrade)
    start = db_sub.add_parser("start", help="start the embedded server and keep it running (for psql)")
    start.set_defaults(run=run_start)
    stop = db_sub.add_parser("stop", help="stop the embedded server")
    stop.set_defaults(run=run_stop)


def run_upgrade(args: argparse.Namespace, settings: Settings) -> int:
    """Apply the pending migrations."""
    engine = create_engine(database_url(settings))
    try:
        applied = upgrade(engine)
    finally:
        engine.dispose()
    if applied:
        for migration in applied:
            print(f"applied {migration.file_name}")
    else:
        print("database is up to date")
    return 0


def run_start(args: argparse.Namespace, settings: Settings) -> int:
    """Start the embedded server and leave it running; print how to reach it."""
    from pipelines.demo import DEMO_DATABASE

    server = embedded_server(settings, keep_running=True)
    print(f"embedded PostgreSQL running in {server.data_dir}")
    print(f"IGI_DATABASE_URL={server.url()}")
    print(f"psql: {server.psql_command()}")
    if server.database_exists(DEMO_DATABASE):
        print(f"The demo's data (ss-igi demo) is in the database {DEMO_DATABASE}:")
        print(f"  IGI_DATABASE_URL={server.url(DEMO_DATABASE)}")
        print(f"  psql: {server.psql_command(DEMO_DATABASE)}")
    print("stop it with: ss-igi db stop")
    return 0


def run_stop(args: argparse.Namespace, settings: Settings) -> int:
    """Stop the embedded server, if it runs."""
    data_dir = settings.ss_igi_home / "pgdata"
    if not EmbeddedPostgres(data_dir).is_running():
        print(f"embedded PostgreSQL in {data_dir} is not running")
        return 0
    server = embedded_server(settings, keep_running=True)
    server.stop()
    print(f"embedded PostgreSQL in {server.data_dir} stopped")
    return 0
