"""Connection test of both sides: Secret Server (version, health) and IGI's database (version, migrations).

On an up-to-date database it also records as ``abandoned`` the reconciliation runs still marked running whose
process is gone, so the run history never shows a run still going that ended hours ago."""

from __future__ import annotations

from dataclasses import dataclass

import sqlalchemy as sa

from connectors.igi import create_engine
from connectors.igi.migrations import status as migration_status
from connectors.igi.runs import mark_abandoned
from pipelines.database import database_url
from pipelines.failures import explain
from pipelines.secret_server import open_secret_server
from pipelines.settings import Settings


@dataclass(frozen=True)
class CheckResult:
    """One system's verdict: reachable and sound or not, and the line that says why."""

    system: str
    ok: bool
    detail: str


def check_secret_server(settings: Settings) -> CheckResult:
    """Log in to Secret Server and ask its version and health."""
    try:
        with open_secret_server(settings, max_attempts=2, max_retry_seconds=10.0) as client:
            report = client.test_connection()
    except Exception as exc:  # the verdict names the reason and what to do; the connector's errors carry no secrets
        return CheckResult("Secret Server", False, explain(exc, settings.instance))
    detail = f"{report['base_url']}: version {report['version']}, healthy={report['healthy']}"
    if report["read_only_mode"]:
        detail += ", read-only mode"
    return CheckResult("Secret Server", report["healthy"] is True, detail)


def check_database(settings: Settings) -> CheckResult:
    """Connect to IGI's database, report its version and migrations, and mark abandoned runs."""
    try:
        engine = create_engine(database_url(settings))
        try:
            with engine.connect() as conn:
                version = conn.execute(sa.text("SHOW server_version")).scalar()
                database = conn.execute(sa.text("SELECT current_database()")).scalar()
            state = migration_status(engine)
            abandoned = [] if state.pending else mark_abandoned(engine)
        finally:
            engine.dispose()
    except Exception as exc:
        return CheckResult("IGI database", False, explain(exc))
    migrations = f"{len(state.applied)} migrations applied"
    if state.pending:
        migrations += f", {len(state.pending)} pending (ss-igi db upgrade, or the next flow run, applies them)"
    if abandoned:
        migrations += (f"; reconciliation run{'s' if len(abandoned) > 1 else ''} "
                       f"{', '.join(map(str, abandoned))} marked abandoned (process gone)")
    return CheckResult("IGI database", True, f"PostgreSQL {version}, database {database}: {migrations}")


def run_checks(settings: Settings) -> list[CheckResult]:
    """Both connection tests, Secret Server first."""
    return [check_secret_server(settings), check_database(settings)]
