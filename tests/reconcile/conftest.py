"""Fixtures for the reconciliation tests: Secret Server clients on the simulator (fast retries), and two instances
whose ids collide: ``default`` on ``generate("s", 42)``, ``dr`` on ``generate("s", 7)``."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest

from connectors.secret_server import SecretServerClient
from simulator.generator import generate
from simulator.server import SimulatorServer
from simulator.state import Organization
from tests.reconcile.helpers import make_client


@pytest.fixture
def ss_client(simulator: SimulatorServer) -> Iterator[SecretServerClient]:
    client = make_client(simulator)
    yield client
    client.close()


@pytest.fixture
def client_for() -> Iterator[Callable[..., SecretServerClient]]:
    clients: list[SecretServerClient] = []

    def factory(server: SimulatorServer, **options: Any) -> SecretServerClient:
        clients.append(make_client(server, **options))
        return clients[-1]

    yield factory
    for client in clients:
        client.close()


@pytest.fixture
def settings_env(monkeypatch: pytest.MonkeyPatch, simulator: SimulatorServer, igi_database_url: str) -> str:
    """Settings (environment variables) that point the flow and the CLI at the simulator and the test database."""
    for name in ("SECRET_SERVER_PASSWORD_BLOCK", "IGI_DATABASE_URL_BLOCK", "SECRET_SERVER_DOMAIN"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("SECRET_SERVER_URL", simulator.base_url)
    monkeypatch.setenv("SECRET_SERVER_USERNAME", simulator.username)
    monkeypatch.setenv("SECRET_SERVER_PASSWORD", simulator.password)
    monkeypatch.setenv("IGI_DATABASE_URL", igi_database_url)
    return igi_database_url


@pytest.fixture
def prod_org() -> Organization:
    return generate("s", 42)


@pytest.fixture
def dr_org() -> Organization:
    return generate("s", 7)


@pytest.fixture
def prod_server(make_simulator: Callable[..., SimulatorServer], prod_org: Organization) -> SimulatorServer:
    return make_simulator(prod_org)


@pytest.fixture
def dr_server(make_simulator: Callable[..., SimulatorServer], dr_org: Organization) -> SimulatorServer:
    return make_simulator(dr_org)


@pytest.fixture
def instance_clients(client_for: Callable[..., SecretServerClient], prod_server: SimulatorServer,
                     dr_server: SimulatorServer) -> dict[str, SecretServerClient]:
    """A client per instance: ``default`` (prod) and ``dr``."""
    return {"default": client_for(prod_server), "dr": client_for(dr_server)}


@pytest.fixture
def two_instances_env(monkeypatch: pytest.MonkeyPatch, prod_server: SimulatorServer, dr_server: SimulatorServer,
                      igi_database_url: str) -> str:
    """Settings (environment variables) of two configured instances, ``default`` and ``dr``, and the test database."""
    import os

    for name in list(os.environ):
        if "SECRET_SERVER" in name or name.endswith("IGI_TARGET") or name in ("SS_IGI_INSTANCES",
                                                                           "IGI_DATABASE_URL_BLOCK"):
            monkeypatch.delenv(name)
    monkeypatch.setenv("SS_IGI_INSTANCES", "default,dr")
    for prefix, server in (("", prod_server), ("DR_", dr_server)):
        monkeypatch.setenv(f"{prefix}SECRET_SERVER_URL", server.base_url)
        monkeypatch.setenv(f"{prefix}SECRET_SERVER_USERNAME", server.username)
        monkeypatch.setenv(f"{prefix}SECRET_SERVER_PASSWORD", server.password)
    monkeypatch.setenv("IGI_DATABASE_URL", igi_database_url)
    return igi_database_url
