"""Operations tests: the settings a user would export, pointing at the simulator and a fresh database."""

from __future__ import annotations

import pytest

SETTINGS = [
    "SECRET_SERVER_URL", "SECRET_SERVER_USERNAME", "SECRET_SERVER_PASSWORD", "SECRET_SERVER_PASSWORD_BLOCK",
    "SECRET_SERVER_DOMAIN", "IGI_DATABASE_URL", "IGI_DATABASE_URL_BLOCK", "SS_IGI_FERNET_KEY",
    "SS_IGI_FERNET_KEY_BLOCK",
]


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
