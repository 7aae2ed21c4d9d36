"""Settings from environment variables (CLI flags override them). Secrets are SecretStr; each one may instead
come from a Prefect Secret block named by the matching ``*_BLOCK`` variable."""

from __future__ import annotations

from pathlib import Path
from typing import cast

import platformdirs
from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict


def _default_home() -> Path:
    return platformdirs.user_data_path("ss-igi")


class Settings(BaseSettings):
    model_config = SettingsConfigDict(case_sensitive=False, extra="ignore", env_file=None)

    secret_server_url: str | None = Field(None, description="Base URL, e.g. https://vault.example.com/SecretServer")
    secret_server_username: str | None = None
    secret_server_password: SecretStr | None = None
    secret_server_password_block: str | None = Field(None, description="Prefect Secret block with the password")
    secret_server_domain: str | None = None
    secret_server_verify_tls: bool = True
    secret_server_ca_bundle: Path | None = None

    igi_database_url: SecretStr | None = Field(None, description="SQLAlchemy URL; unset: the embedded server")
    igi_database_url_block: str | None = None

    ss_igi_home: Path = Field(default_factory=_default_home, description="Data directory (embedded database)")

    def secret_server_password_value(self) -> SecretStr | None:
        return resolve_secret(self.secret_server_password, self.secret_server_password_block)

    def igi_database_url_value(self) -> SecretStr | None:
        return resolve_secret(self.igi_database_url, self.igi_database_url_block)


def resolve_secret(value: SecretStr | None, block_name: str | None) -> SecretStr | None:
    """The value itself, or the named Prefect Secret block's value when a block is given."""
    if block_name:
        from prefect.blocks.system import Secret

        block = cast(Secret, Secret.load(block_name))  # sync context: load() returns the block itself
        return SecretStr(str(block.get()))
    return value
