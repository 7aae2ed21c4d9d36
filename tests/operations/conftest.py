"""Operations tests: the settings a user would export, pointing at the simulator and a fresh database; and the
same with a second Secret Server instance, ``dr``, whose organization's ids overlap the first one's."""

from __future__ import annotations

import os
from dataclasses import dataclass

import pytest

from simulator.generator import generate
from simulator.server import SimulatorServer

SETTINGS = [
    "SECRET_SERVER_URL", "SECRET_SERVER_USERNAME", "SECRET_SERVER_PASSWORD", "SECRET_SERVER_PASSWORD_BLOCK",
    "SECRET_SERVER_DOMAIN", "IGI_DATABASE_URL", "IGI_DATABASE_URL_BLOCK", "SS_IGI_FERNET_KEY",
    "SS_IGI_FERNET_KEY_BLOCK", "SS_IGI_INSTANCES", "IGI_TARGET",
]
DR_SEED = 7  # generate("s", 7): ids 1.. like generate("s", 42)'s, other objects behind them


@pytest.fixture
def ops_env(monkeypatch, simulator, igi_database_url, tmp_path) -> dict[str, str]:
    """The settings exported for the simulator and a fresh database (other ss-igi settings cleared)."""
    for name in SETTINGS:
        monkeypatch.delenv(name, raising=False)
    values = {
        "SECRET_SERVER_URL": simulator.base_url,
        "SECRET_SERVER_USERNAME": "admin",
        "SECRET_SERVER_PASSWORD": "admin",
        "IGI_DATABASE_URL": igi_database_url,
        "SS_IGI_HOME": str(tmp_path / "home"),
    }
    for name, value in values.items():
        monkeypatch.setenv(name, value)
    return values


@dataclass(frozen=True)
class TwoInstances:
    """Instance ``default`` (the `simulator` fixture's, the unprefixed variables) and instance ``dr`` (a simulator
    of its own, the DR_ variables, IGI target SecretServer-dr), configured with SS_IGI_INSTANCES=default,dr."""

    default: SimulatorServer
    dr: SimulatorServer
    env: dict[str, str]


@pytest.fixture
def two_instances(ops_env, monkeypatch, simulator, make_simulator) -> TwoInstances:
    """`ops_env` plus a second instance, dr, on a simulator whose ids overlap the first one's."""
    for name in list(os.environ):
        if name.startswith("DR_"):
            monkeypatch.delenv(name)
    dr = make_simulator(org=generate("s", DR_SEED))
    values = {"SS_IGI_INSTANCES": "default,dr", "DR_SECRET_SERVER_URL": dr.base_url,
              "DR_SECRET_SERVER_USERNAME": "admin", "DR_SECRET_SERVER_PASSWORD": "admin"}
    for name, value in values.items():
        monkeypatch.setenv(name, value)
    return TwoInstances(simulator, dr, {**ops_env, **values})
