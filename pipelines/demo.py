"""`ss-igi demo`: the whole job on embedded defaults, with no configuration.

Two simulated Secret Servers with generated organizations whose ids overlap (user 7 of one is not user 7 of the
other), as instances ``default`` and ``dr`` of one IGI database: the embedded PostgreSQL (a fresh ``ss_igi_demo``
database each time). A full reconcile of each, provisioning requests for both executed on the instance each one's
IGI target names, changes made "by an administrator" directly in Secret Server, a second reconcile that brings
them back to IGI, and analyst queries on one instance and on all. Everything runs through the real flows, the
real HTTP client and the real database.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, TypeVar

import sqlalchemy as sa
from pydantic import SecretStr
from rich import box
from rich.console import Console
from rich.table import Table
from sqlalchemy.engine import Engine

from connectors.igi import EmbeddedPostgres, create_engine
from connectors.igi.entities import DEFAULT_TARGET
from connectors.igi.queue import Operation, enqueue_request
from pipelines.instances import DEFAULT_INSTANCE
from pipelines.passwords import PasswordBox
from pipelines.settings import Settings, instance_variable

DEMO_DATABASE = "ss_igi_demo"
DEMO_USER = "demo.newhire"
# The second instance: a small organization of its own, whose ids overlap the first one's.
DR, DR_SCALE, DR_SEED, DR_TARGET = "dr", "s", 7, "SecretServer-dr"
DR_VARIABLES = ["URL", "USERNAME", "PASSWORD", "PASSWORD_BLOCK", "DOMAIN", "VERIFY_TLS", "CA_BUNDLE"]

T = TypeVar("T")

# Analyst questions; {secret} is a secret id that both instances have (a different secret on each).
EXAMPLE_QUERIES: list[tuple[str, str]] = [
    (
        "Who can reach secret {secret} on instance default, and why?",
        """SELECT user_name, role, via, via_group_name
FROM ss_staging.effective_access
WHERE instance = 'default' AND secret_id = {secret}
ORDER BY user_name, via_group_name LIMIT 5""",
    ),
    (
        "Who can reach secret {secret} on any instance? (a different secret on each)",
        """SELECT instance, secret_name, count(*) AS users
FROM ss_staging.effective_access
WHERE secret_id = {secret}
GROUP BY instance, secret_name ORDER BY instance""",
    ),
    (
        "How many secrets can the new hire reach on each instance, and how?",
        f"""SELECT instance, via, count(DISTINCT secret_id) AS secrets
FROM ss_staging.effective_access
WHERE user_name = '{DEMO_USER}'
GROUP BY instance, via ORDER BY instance, via""",
    ),
]


@dataclass
class DemoResult:
    """What the demo did: each instance's reconciliations, the provisioning's summary, where its database is."""

    first: dict[str, dict[str, Any]]
    provisioned: dict[str, Any]
    second: dict[str, dict[str, Any]]
    database_url: str
    psql_command: str


def run_demo(settings: Settings, *, scale: str = "m", seed: int = 42, console: Console | None = None) -> DemoResult:
    """Run the demo (module doc) and print each step; ``settings`` give the data directory (SS_IGI_HOME)."""
    from simulator.generator import generate
    from simulator.server import SimulatorServer

    console = console or Console()
    console.rule("[bold]ss-igi demo")
    with _steps(console) as step:
        orgs = step("Generating two organizations (simulated Secret Servers)",
                    lambda: {DEFAULT_INSTANCE: generate(scale, seed), DR: generate(DR_SCALE, DR_SEED)})
        servers = {name: SimulatorServer(org).start() for name, org in orgs.items()}
        try:
            for name, server in servers.items():
                counts = orgs[name].counts()
                console.print(f"  instance {name}: {server.base_url}, "
                              + ", ".join(f"{n:,} {k}" for k, n in counts.items() if k in ("users", "secrets")))
            console.print(f"  (login admin / admin) {_overlap(orgs)}")
            embedded = step("Starting the embedded PostgreSQL", lambda: _fresh_demo_database(settings))
            demo = _demo_settings(settings, servers[DEFAULT_INSTANCE].base_url, embedded.url(DEMO_DATABASE))
            engine = create_engine(embedded.url(DEMO_DATABASE))
            with _instance_variables(servers[DR].base_url):
                try:
                    first = step("Reconciling both instances into IGI staging (first, full load)",
                                 lambda: _reconcile_each(demo))
                    for name, summary in first.items():
                        _print_reconcile(console, f"First reconcile of {name}", summary)

                    requests = step("Enqueueing provisioning requests, as IGI would",
                                    lambda: _enqueue(engine, demo))
                    for line in requests:
                        console.print(f"  {line}")
                    provisioned = step("Provisioning: each request executed on the instance its target names",
                                       lambda: _provision(demo))
                    _print_provision(console, provisioned, engine)

                    changes = step("Meanwhile, an administrator changes Secret Server directly",
                                   lambda: _drift(orgs[DEFAULT_INSTANCE]))
                    for line in changes:
                        console.print(f"  {line}")
                    second = step("Reconciling again: the changes flow back to IGI", lambda: _reconcile_each(demo))
                    for name, summary in second.items():
                        _print_reconcile(console, f"Second reconcile of {name}", summary)
                    _print_queries(console, engine)
                finally:
                    engine.dispose()
        finally:
            for server in servers.values():
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


def _overlap(orgs: dict[str, Any]) -> str:
    users = [{u["id"] for u in org.users()} for org in orgs.values()]
    secrets = [{s["id"] for s in org.secrets()} for org in orgs.values()]
    return f"ids overlap: {len(users[0] & users[1]):,} users and {len(secrets[0] & secrets[1]):,} secrets share ids"


def _fresh_demo_database(settings: Settings) -> EmbeddedPostgres:
    embedded = EmbeddedPostgres(settings.ss_igi_home / "pgdata").start()
    embedded.create_database(DEMO_DATABASE, replace=True)
    return embedded


def _demo_settings(settings: Settings, base_url: str, database_url: str) -> Settings:
    """``settings`` pointed at the default simulator and the demo database (no Secret blocks), with a Fernet key,
    and two instances: default and dr."""
    return settings.model_copy(update={
        "secret_server_url": base_url, "secret_server_username": "admin",
        "secret_server_password": SecretStr("admin"), "igi_database_url": SecretStr(database_url),
        "ss_igi_fernet_key": settings.ss_igi_fernet_key or SecretStr(PasswordBox.generate_key()),
        "secret_server_password_block": None, "igi_database_url_block": None, "ss_igi_fernet_key_block": None,
        "secret_server_domain": None, "secret_server_verify_tls": True, "secret_server_ca_bundle": None,
        "igi_target": DEFAULT_TARGET, "ss_igi_instances": f"{DEFAULT_INSTANCE},{DR}",
    })


@contextmanager
def _instance_variables(base_url: str) -> Iterator[None]:
    """The dr instance's variables, as an operator would export them (README: Several instances), for the
    demo's duration; any DR_* instance settings of the caller's environment are set aside meanwhile."""
    values: dict[str, str | None] = {instance_variable(DR, f"SECRET_SERVER_{name}"): None for name in DR_VARIABLES}
    values.update({instance_variable(DR, "SECRET_SERVER_URL"): base_url,
                   instance_variable(DR, "SECRET_SERVER_USERNAME"): "admin",
                   instance_variable(DR, "SECRET_SERVER_PASSWORD"): "admin",
                   instance_variable(DR, "IGI_TARGET"): DR_TARGET})
    saved = {name: os.environ.get(name) for name in values}
    try:
        for name, value in values.items():
            _set_variable(name, value)
        yield
    finally:
        for name, value in saved.items():
            _set_variable(name, value)


def _set_variable(name: str, value: str | None) -> None:
    if value is None:
        os.environ.pop(name, None)
    else:
        os.environ[name] = value


def _reconcile_each(settings: Settings) -> dict[str, dict[str, Any]]:
    from pipelines.reconcile_flow import reconcile

    return {name: reconcile(instance=name, settings=settings) for name in (DEFAULT_INSTANCE, DR)}


def _provision(settings: Settings) -> dict[str, Any]:
    from pipelines.provision_flow import provision

    return provision(workers=2, settings=settings)


def _enqueue(engine: Engine, settings: Settings) -> list[str]:
    with engine.connect() as conn:
        group_id, group = conn.execute(sa.text(
            "SELECT group_id, group_name FROM ss_staging.groups WHERE instance = 'default' AND enabled "
            "AND group_name <> 'Everyone' ORDER BY group_id LIMIT 1")).one()
        folder_id, folder = conn.execute(sa.text(
            "SELECT folder_id, folder_path FROM ss_staging.folders WHERE instance = 'default' "
            "AND parent_folder_id IS NOT NULL AND inherit_permissions "
            "AND position('Personal Folders' in folder_path) = 0 ORDER BY folder_id LIMIT 1")).one()
        suspended = conn.execute(sa.text(
            "SELECT CASE WHEN domain_name IS NULL THEN user_name ELSE domain_name || '\\' || user_name END "
            "FROM ss_staging.users WHERE instance = 'default' AND enabled AND NOT is_application_account "
            "AND user_name <> 'admin' ORDER BY user_id LIMIT 1")).scalar_one()
        dr_group_id, dr_group = conn.execute(sa.text(  # a group that opens secrets, for the queries to show
            "SELECT via_group_id, via_group_name FROM ss_staging.effective_access WHERE instance = :dr "
            "AND via_group_enabled AND via_group_name <> 'Everyone' ORDER BY via_group_id LIMIT 1"),
            {"dr": DR}).one()
    box = PasswordBox.from_settings(settings)
    with engine.begin() as conn:
        for target in (None, DR_TARGET):  # None: the default instance's requests, as before instances
            token, encrypted = box.seal(PasswordBox.generate_key())  # a random initial password, never shown
            enqueue_request(conn, operation=Operation.ACCOUNT_CREATE, code=DEMO_USER, person_code="P-1001",
                            attributes={"displayName": "Demo New Hire", "emailAddress": "newhire@example.com"},
                            password=token, password_encrypted=encrypted, target=target)
        enqueue_request(conn, operation=Operation.PERMISSION_ADD, code=DEMO_USER, permission_type="group",
                        permission_id=group_id)
        enqueue_request(conn, operation=Operation.PERMISSION_ADD, code=DEMO_USER, permission_type="folder",
                        permission_id=folder_id, folder_access_role="View", secret_access_role="View",
                        attributes={"breakInheritance": True})  # the folder inherits: asked for, deliberately
        enqueue_request(conn, operation=Operation.ACCOUNT_DISABLE, code=suspended)
        enqueue_request(conn, operation=Operation.PERMISSION_ADD, code=DEMO_USER, permission_type="group",
                        permission_id=dr_group_id, target=DR_TARGET)
    return [
        f"default: ACCOUNT_CREATE {DEMO_USER} (password Fernet-encrypted)",
        f"default: PERMISSION_ADD {DEMO_USER} -> group {group}",
        f"default: PERMISSION_ADD {DEMO_USER} -> folder {folder} (View, breaks inheritance)",
        f"default: ACCOUNT_DISABLE {suspended} (suspend)",
        f"dr: ACCOUNT_CREATE {DEMO_USER} (target {DR_TARGET})",
        f"dr: PERMISSION_ADD {DEMO_USER} -> group {dr_group} (target {DR_TARGET})",
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
    table = Table(title=f"{title}: run {summary['run_id']} {summary['status']}", box=box.SIMPLE_HEAD)
    for column in ("entity", "scanned", "added", "changed", "removed", "unchanged", "rejected"):
        table.add_column(column, justify="left" if column == "entity" else "right")
    for entity, stats in summary["stats"].items():
        table.add_row(entity, *(f"{stats.get(c, 0):,}" for c in
                                ("scanned", "added", "changed", "removed", "unchanged", "rejected")))
    console.print(table)
    if summary.get("events"):
        console.print("  IGI events: " + ", ".join(f"{k} {v:,}" for k, v in summary["events"].items()))


def _print_provision(console: Console, summary: dict[str, Any], engine: Engine) -> None:
    console.print("  " + ", ".join(f"{k} {summary[k]}" for k in ("processed", "succeeded", "failed", "retried")))
    table = Table(title="igi.event_out (target NULL: the default instance)", box=box.SIMPLE_HEAD)
    for column in ("event_id", "target", "request", "state, erc_status: trace"):
        table.add_column(column, overflow="fold")
    with engine.connect() as conn:
        rows = conn.execute(sa.text("SELECT event_id, target, operation, code, state, erc_status, trace "
                                    "FROM igi.event_out ORDER BY event_id"))
        for event_id, target, operation, code, state, erc_status, trace in rows:
            table.add_row(str(event_id), target or "NULL", f"{Operation(operation).name} {code}",
                          f"{state}, {erc_status}: {trace}")
    console.print(table)


def _shared_secret(engine: Engine) -> int:
    """A secret id of both instances (a different secret on each) that someone can reach on each."""
    with engine.connect() as conn:
        return int(conn.execute(sa.text("""
            SELECT s.secret_id FROM (
                SELECT secret_id FROM ss_staging.secrets WHERE deleted_at IS NULL
                GROUP BY secret_id HAVING count(*) = 2 ORDER BY secret_id LIMIT 50) AS s
            WHERE (SELECT count(DISTINCT e.instance) FROM ss_staging.effective_access AS e
                   WHERE e.secret_id = s.secret_id) = 2
            ORDER BY s.secret_id LIMIT 1""")).scalar_one())


def _print_queries(console: Console, engine: Engine) -> None:
    console.rule("Three example queries")
    secret = _shared_secret(engine)
    for title, template in EXAMPLE_QUERIES:
        sql = template.format(secret=secret)
        with engine.connect() as conn:
            result = conn.execute(sa.text(sql))
            table = Table(title=title.format(secret=secret), title_justify="left")
            for column in result.keys():
                table.add_column(str(column))
            for row in result:
                table.add_row(*("" if v is None else str(v) for v in row))
        console.print(sql, style="dim", highlight=False)
        console.print(table)
