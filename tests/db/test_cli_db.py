"""`ss-igi db upgrade` as a user runs it: through the console script, with IGI_DATABASE_URL or embedded."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import sqlalchemy as sa
from sqlalchemy.engine import make_url

from connectors.igi import create_engine
from pipelines.cli import COMMANDS

SS_IGI = str(Path(sys.executable).with_name("ss-igi"))


def _run(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run([SS_IGI, *args], env=env, capture_output=True, text=True, timeout=300)


def _env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k != "IGI_DATABASE_URL"}
    env.update(extra)
    return env


def test_db_upgrade_with_a_database_url_twice(empty_database_url):
    env = _env(IGI_DATABASE_URL=empty_database_url)
    first = _run("db", "upgrade", env=env)
    assert first.returncode == 0, first.stderr
    assert "applied 001_staging_objects.sql" in first.stdout
    second = _run("db", "upgrade", env=env)
    assert second.returncode == 0, second.stderr
    assert second.stdout.strip() == "database is up to date"


def test_db_upgrade_without_a_url_uses_the_embedded_server_twice(tmp_path):
    env = _env(SS_IGI_HOME=str(tmp_path / "home"))
    first = _run("db", "upgrade", env=env)
    assert first.returncode == 0, first.stderr
    assert "applied 003_igi_events.sql" in first.stdout
    second = _run("db", "upgrade", env=env)
    assert second.returncode == 0, second.stderr
    assert second.stdout.strip() == "database is up to date"
    assert (tmp_path / "home" / "pgdata" / "PG_VERSION").exists()

    # The embedded server stopped with the command; `db start` brings it up for a psql session.
    started = _run("db", "start", env=env)
    try:
        assert started.returncode == 0, started.stderr
        url = next(line.split("=", 1)[1] for line in started.stdout.splitlines()
                   if line.startswith("IGI_DATABASE_URL="))
        assert "ss_igi_demo" not in started.stdout  # no demo ran here
        engine = create_engine(url).execution_options(isolation_level="AUTOCOMMIT")
        with engine.connect() as conn:
            assert conn.execute(sa.text("SELECT count(*) FROM ss_staging.schema_migrations")).scalar() >= 3
            conn.exec_driver_sql("CREATE DATABASE ss_igi_demo")  # what `ss-igi demo` leaves behind
        engine.dispose()

        # Once the demo has run, `db start` also names the database that holds its data.
        again = _run("db", "start", env=env)
        assert again.returncode == 0, again.stderr
        assert "The demo's data (ss-igi demo) is in the database ss_igi_demo:" in again.stdout
        demo_url = next(line.split("=", 1)[1] for line in again.stdout.splitlines()
                        if line.strip().startswith("IGI_DATABASE_URL=") and "ss_igi_demo" in line)
        assert make_url(demo_url).database == "ss_igi_demo"
    finally:
        stopped = _run("db", "stop", env=env)
    assert stopped.returncode == 0, stopped.stderr
    assert stopped.stdout.strip().endswith("stopped")
    idle = _run("db", "stop", env=env)
    assert idle.returncode == 0, idle.stderr
    assert idle.stdout.strip().endswith("is not running")


def test_db_upgrade_reports_an_unreachable_database_in_one_line():
    env = _env(IGI_DATABASE_URL="postgresql+psycopg://nobody@127.0.0.1:1/nowhere")
    result = _run("db", "upgrade", env=env)
    assert result.returncode == 1
    assert result.stderr.startswith("ss-igi db: ")
    assert len(result.stderr.strip().splitlines()) == 1


def test_help_lists_every_command_of_the_design():
    result = _run("--help", env=_env())
    assert result.returncode == 0
    for command in ["demo", "reconcile", "provision", "request", "check", "db", "simulator", "serve"]:
        assert command in COMMANDS
        assert f"    {command} " in result.stdout
