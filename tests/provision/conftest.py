"""Provisioning tests: a small hand-made organization on a real simulator, a real migrated PostgreSQL."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from connectors.igi.queue import enqueue_request
from connectors.secret_server import SecretServerClient
from pipelines.passwords import PasswordBox
from pipelines.provision import ProvisionOptions, ProvisionSummary, run_provisioning
from simulator.server import SimulatorServer
from simulator.state import Organization

WRITE_METHODS = ("POST", "PUT", "PATCH", "DELETE")


@dataclass
class World:
    """Names and ids of the small organization the tests provision against."""

    org: Organization
    alice: int
    app: int
    ops: int
    dbas: int
    team: int  # folder \Team, breaks inheritance
    unix: int  # folder \Team\Unix, inherits
    secret: int  # secret "db-root" in \Team, breaks inheritance


def build_world() -> World:
    org = Organization()
    org.add_everyone_group()
    alice = org.add_user("alice", "Alice A", email_address="alice@example.com", password="Initial-1")
    app = org.add_user("svc-build", "Build service", is_application_account=True)
    ops = org.add_group("Ops")
    dbas = org.add_group("DBAs")
    team = org.add_folder("Team", inherit_permissions=False)
    unix = org.add_folder("Unix", team, inherit_permissions=True)
    org.grant_folder_permission(team, group_id=ops, folder_access_role="View", secret_access_role="View")
    secret = org.add_secret("db-root", team, inherits_permissions=False)
    return World(org, alice, app, ops, dbas, team, unix, secret)


@pytest.fixture
def world() -> World:
    return build_world()


@pytest.fixture
def sim(world: World, make_simulator: Callable[..., SimulatorServer]) -> SimulatorServer:
    return make_simulator(world.org)


def make_client(server: SimulatorServer, **options: Any) -> SecretServerClient:
    defaults: dict[str, Any] = {"max_attempts": 2, "backoff_base": 0.01, "backoff_cap": 0.05,
                                "max_retry_seconds": 5.0, "read_timeout": 10.0}
    return SecretServerClient(server.base_url, "admin", "admin", **{**defaults, **options})


@pytest.fixture
def client(sim: SimulatorServer) -> Iterator[SecretServerClient]:
    with make_client(sim) as c:
        yield c


@pytest.fixture
def fernet_key() -> str:
    return PasswordBox.generate_key()


@pytest.fixture
def passwords(fernet_key: str) -> PasswordBox:
    return PasswordBox(fernet_key)


FAST = ProvisionOptions(batch_size=20, lease_seconds=30, max_attempts=3, backoff_seconds=0, backoff_cap_seconds=0)


@pytest.fixture
def provision(igi_engine: Engine, client: SecretServerClient,
              passwords: PasswordBox) -> Callable[..., ProvisionSummary]:
    def run(options: ProvisionOptions = FAST, **kwargs: Any) -> ProvisionSummary:
        return run_provisioning(igi_engine, client, passwords, options, **kwargs)

    return run


@pytest.fixture
def enqueue(igi_engine: Engine, passwords: PasswordBox) -> Callable[..., int]:
    def add(operation: int, code: str, *, password: str | None = None, **fields: Any) -> int:
        stored, encrypted = passwords.seal(password) if password is not None else (None, True)
        return enqueue_request(igi_engine, operation=operation, code=code, password=stored,
                               password_encrypted=encrypted, **fields)

    return add


def event(engine: Engine, event_id: int) -> dict[str, Any]:
    with engine.connect() as conn:
        return dict(conn.execute(sa.text("SELECT * FROM igi.event_out WHERE event_id = :i"),
                                 {"i": event_id}).mappings().one())


def rows(engine: Engine, sql: str, **params: Any) -> list[dict[str, Any]]:
    with engine.connect() as conn:
        return [dict(r) for r in conn.execute(sa.text(sql), params).mappings().all()]


def writes(server: SimulatorServer) -> list[tuple[str, str]]:
    """Every state-changing API call the simulator served, as (method, path)."""
    return [(r.method, r.path) for r in server.request_log
            if r.method in WRITE_METHODS and "/api/v1/" in r.path]
