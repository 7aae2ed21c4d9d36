"""Fixtures for the reconciliation tests: Secret Server clients on the simulator (fast retries)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest

from connectors.secret_server import SecretServerClient
from simulator.server import SimulatorServer
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
