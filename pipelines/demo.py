"""`ss-igi demo`: the whole job on embedded defaults, with no configuration.

A simulated Secret Server with a generated organization, the embedded PostgreSQL (a fresh ``ss_igi_demo``
database each time), a full reconcile, a few provisioning requests executed on Secret Server, changes made
"by an administrator" directly in Secret Server, and a second reconcile that brings them back to IGI.
Everything runs through the real flows, the real HTTP client and the real database.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, TypeVar

import sqlalchemy as sa
from pydantic import SecretStr
from rich.console import Console
from rich.table import Table
from sqlalchemy.engine import Engine

from connectors.igi import EmbeddedPostgres, create_engine
from connectors.igi.queue import Operation, enqueue_request
from pipelines.passwords import PasswordBox
from pipelines.settings import Settings

DEMO_DATABASE = "ss_igi_demo"
DEMO_USER = "demo.newhire"

T = TypeVar("T")

EXAMPLE_QUERIES: list[tuple[str, str]] = [
    (
        "What did the last run change? (IGI target-queue events by operation)",
        """SELECT operation, functionality_type, count(*) AS events
FROM igi.event_target
WHERE run_id = (SELECT max(run_id) FROM ss_staging.reconciliation_runs
                WHERE status IN ('succeeded', 'partial') AND NOT dry_run)
GROUP BY 1, 2 ORDER BY 1, 2""",
    ),
    (
        "Which secrets can the new hire reach, and why?",
        f"""SELECT secret_name, folder_path, role, via
FROM ss_staging.effective_access
WHERE user_name = '{DEMO_USER}'
ORDER BY folder_path, secret_name LIMIT 8""",
    ),
    (
        "Largest groups",
        """SELECT g.group_name, count(*) AS members
FROM ss_staging.group_members m JOIN ss_staging.groups g USING (group_id)
WHERE m.deleted_at IS NULL AND g.deleted_at IS NULL
GROUP BY g.group_name ORDER BY members DESC, g.group_name LIMIT 5""",
    ),
]


@dataclass
class DemoResult:
    """What the demo did: both reconciliations' and the provisioning's summaries, and where its database is."""

    first: dict[str, Any]
    provisioned: dict[str, Any]
    second: dict[str, Any]
    database_url: str
    psql_command: str


def run_demo(settings: Settings, *, scale: str = "m", seed: int = 42, console: Console | None = None) -> DemoResult:
    """Run the demo (module doc) and print each step; ``settings`` give the data directory (SS_IGI_HOME)."""
    from simulator.generator import generate
    from simulator.server import SimulatorServer

    console = console or Console()
    console.rule("[bold]ss-igi demo")
    with _steps(console) as step:
        org = step("Generating a demo organization (simulated Secret Server)", lambda: generate(scale, seed))
        server = SimulatorServer(org).start()
        try:
            counts = org.counts()
            console.print(
                f"  Secret Server simulator at {server.base_url} (login admin / admin): "
                + ", ".join(f"{n:,} {k}" for k, n in counts.items() if isinstance(n, int))
            )
            embedded = step("Starting the embedded PostgreSQL", lambda: _fresh_demo_database(settings))
            demo = _demo_settings(settings, server.base_url, embedded.url(DEMO_DATABASE))
            engine = create_engine(embedded.url(DEMO_DATABASE))
            try:
                first = step("Reconciling Secret Server into IGI staging (first, full load)", lambda: _reconcile(demo))
                _print_reconcile(console, "First reconcile", first)

                requests = step("Enqueueing provisioning requests, as IGI would", lambda: _enqueue(engine, demo))
                for line in requests:
                    console.print(f"  {line}")
                provisioned = step("Provisioning: executing the requests on Secret Server", lambda: _provision(demo))
                _print_provision(console, provisioned, engine)

                changes = step("Meanwhile, an administrator changes Secret Server directly", lambda: _drift(org))
                for line in changes:
                    console.print(f"  {line}")
                second = step("Reconciling again: the changes flow back to IGI", lambda: _reconcile(demo))
                _print_reconcile(console, "Second reconcile", second)
                _print_queries(console, engine)
            finally:
                engine.dispose()
        finally:
            server.stop()

    result = DemoResult(first, provisioned, second, embedded.url(DEMO_DATABASE), embedded.psql_command(DEMO_DATABASE))
    console.rule("Explore")
    console.print("The demo database stays in the embedded server. To explore it with psql:")
    console.print("  ss-igi db start        # keeps the embedded server running and prints its URL")
    console.print(f"  {result.psql_command}")
    console.print("  ss-igi db stop")
    return result


@contextmanager
def _steps(console: Console) -> Iterator[Callable[[str, Callable[[], T]], T]]:
    """``step(title, work)`` runs ``work`` under a spinner, then prints a tick with the elapsed time, so the
    steps and their results read top to bottom."""

    def step(title: str, work: Callable[[], T]) -> T:
        started = time.monotonic()
        with console.status(title):
            result = work()
        console.print(f"[green]✓[/green] {title} [dim]({time.monotonic() - started:.1f} s)[/dim]")
        return result

    yield step


def _fresh_demo_database(settings: Settings) -> EmbeddedPostgres:
    embedded = EmbeddedPostgres(settings.ss_igi_home / "pgdata").start()
    embedded.create_database(DEMO_DATABASE, replace=True)
    return embedded


def _demo_settings(settings: Settings, base_url: str, database_url: str) -> Settings:
    """``settings`` pointed at the simulator and the demo database (no Secret blocks), with a Fernet key."""
    return settings.model_copy(update={
        "secret_server_url": base_url, "secret_server_username": "admin",
        "secret_server_password": SecretStr("admin"), "igi_database_url": SecretStr(database_url),
        "ss_igi_fernet_key": settings.ss_igi_fernet_key or SecretStr(PasswordBox.generate_key()),
        "secret_server_password_block": None, "igi_database_url_block": None, "ss_igi_fernet_key_block": None,
    })


def _reconcile(settings: Settings) -> dict[str, Any]:
    from pipelines.reconcile_flow import reconcile

    return reconcile(settings=settings)


def _provision(settings: Settings) -> dict[str, Any]:
    from pipelines.provision_flow import provision

    return provision(workers=2, settings=settings)


def _enqueue(engine: Engine, settings: Settings) -> list[str]:
    with engine.connect() as conn:
        group_id, group = conn.execute(sa.text(
            "SELECT group_id, group_name FROM ss_staging.groups WHERE enabled AND group_name <> 'Everyone' "
            "ORDER BY group_id LIMIT 1")).one()
        folder_id, folder = conn.execute(sa.text(
            "SELECT folder_id, folder_path FROM ss_staging.folders WHERE parent_folder_id IS NOT NULL "
            "AND inherit_permissions AND position('Personal Folders' in folder_path) = 0 "
            "ORDER BY folder_id LIMIT 1")).one()
        suspended = conn.execute(sa.text(
            "SELECT CASE WHEN domain_name IS NULL THEN user_name ELSE domain_name || '\\' || user_name END "
            "FROM ss_staging.users WHERE enabled AND NOT is_application_account AND user_name <> 'admin' "
            "ORDER BY user_id LIMIT 1")).scalar_one()
    box = PasswordBox.from_settings(settings)
    token, encrypted = box.seal(PasswordBox.generate_key())  # a random initial password, never shown
    with engine.begin() as conn:
        enqueue_request(conn, operation=Operation.ACCOUNT_CREATE, code=DEMO_USER, person_code="P-1001",
                        attributes={"displayName": "Demo New Hire", "emailAddress": "newhire@example.com"},
                        password=token, password_encrypted=encrypted)
        enqueue_request(conn, operation=Operation.PERMISSION_ADD, code=DEMO_USER, permission_type="group",
                        permission_id=group_id)
        enqueue_request(conn, operation=Operation.PERMISSION_ADD, code=DEMO_USER, permission_type="folder",
                        permission_id=folder_id, folder_access_role="View", secret_access_role="View",
                        attributes={"breakInheritance": True})  # the folder inherits: asked for, deliberately
        enqueue_request(conn, operation=Operation.ACCOUNT_DISABLE, code=suspended)
    return [
        f"ACCOUNT_CREATE {DEMO_USER} (password Fernet-encrypted in igi.event_out)",
        f"PERMISSION_ADD {DEMO_USER} -> group {group}",
        f"PERMISSION_ADD {DEMO_USER} -> folder {folder} (View / secrets View, breaking its inheritance)",
        f"ACCOUNT_DISABLE {suspended} (suspend)",
    ]


def _drift(org: Any) -> list[str]:
    """Changes made in Secret Server behind IGI's back, which reconciliation must find."""
    hire = org.add_user("contractor.jane", display_name="Jane Contractor", email_address="jane@example.com")
    users = [u for u in org.users()
             if u["enabled"] and not u["isApplicationAccount"] and u["id"] != hire and u["userName"] != DEMO_USER]
    leaver = users[-1]
    org.set_user_enabled(leaver["id"], False)
    group_id, member_id = org.group_members()[-1]
    org.remove_member(group_id, member_id)
    return [
        "added user contractor.jane",
        f"disabled user {leaver['userName']}",
        f"removed user {member_id} from group {group_id}",
    ]


def _print_reconcile(console: Console, title: str, summary: dict[str, Any]) -> None:
    table = Table(title=f"{title}: run {summary['run_id']} {summary['status']}")
    for column in ("entity", "scanned", "added", "changed", "removed", "unchanged", "rejected"):
        table.add_column(column, justify="left" if column == "entity" else "right")
    for entity, stats in summary["stats"].items():
        table.add_row(entity, *(f"{stats.get(c, 0):,}" for c in
                                ("scanned", "added", "changed", "removed", "unchanged", "rejected")))
    console.print(table)
    if summary.get("events"):
        console.print("  IGI target-queue events: " + ", ".join(f"{k} {v:,}" for k, v in summary["events"].items()))


def _print_provision(console: Console, summary: dict[str, Any], engine: Engine) -> None:
    console.print("  " + ", ".join(f"{k} {summary[k]}" for k in ("processed", "succeeded", "failed", "retried")))
    table = Table(title="igi.event_out")
    for column in ("event_id", "operation", "code", "state", "erc_status", "trace"):
        table.add_column(column, overflow="fold")
    with engine.connect() as conn:
        rows = conn.execute(sa.text(
            "SELECT event_id, operation, code, state, erc_status, trace FROM igi.event_out ORDER BY event_id"))
        for row in rows:
            table.add_row(*(str(v) for v in row))
    console.print(table)


def _print_queries(console: Console, engine: Engine) -> None:
    console.rule("Three example queries")
    for title, sql in EXAMPLE_QUERIES:
        with engine.connect() as conn:
            result = conn.execute(sa.text(sql))
            table = Table(title=title, title_justify="left")
            for column in result.keys():
                table.add_column(str(column))
            for row in result:
                table.add_row(*("" if v is None else str(v) for v in row))
        console.print(sql, style="dim", highlight=False)
        console.print(table)
