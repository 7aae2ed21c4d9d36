"""Settings from environment variables, read once into a `Settings` object that is handed on; the CLI's flags
are constructor arguments (``Settings(secret_server_url=...)``) that override the environment. Secrets are
SecretStr; each one may instead come from a Prefect Secret block named by the matching ``*_BLOCK`` variable."""

from __future__ import annotations

from pathlib import Path
from typing import Any, cast

import platformdirs
from pydantic import Field, PrivateAttr, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

from connectors.igi.entities import DEFAULT_INSTANCE, DEFAULT_TARGET


def _default_home() -> Path:
    return platformdirs.user_data_path("ss-igi")


class Settings(BaseSettings):
    """Every setting of ss-igi: field ``x`` is the environment variable ``X``; keyword arguments override them."""

    model_config = SettingsConfigDict(case_sensitive=False, extra="ignore", env_file=None)

    secret_server_url: str | None = Field(None, description="Base URL, e.g. https://vault.example.com/SecretServer")
    secret_server_username: str | None = None
    secret_server_password: SecretStr | None = None
    secret_server_password_block: str | None = Field(None, description="Prefect Secret block with the password")
    secret_server_domain: str | None = None
    secret_server_verify_tls: bool = True
    secret_server_ca_bundle: Path | None = None
    igi_target: str = Field(DEFAULT_TARGET, description="IGI target (service) name of the default instance")
    ss_igi_instances: str | None = Field(
        None, description="Comma-separated instance names; each reads <NAME>_SECRET_SERVER_* (pipelines/instances.py)")

    igi_database_url: SecretStr | None = Field(None, description="SQLAlchemy URL; unset: the embedded server")
    igi_database_url_block: str | None = None

    ss_igi_home: Path = Field(default_factory=_default_home, description="Data directory (embedded database)")

    # Provisioning: passwords of requests are Fernet tokens made with this key (or plain text, if allowed).
    ss_igi_fernet_key: SecretStr | None = Field(None, description="Fernet key for request passwords")
    ss_igi_fernet_key_block: str | None = Field(None, description="Prefect Secret block with the Fernet key")
    ss_igi_allow_plaintext_passwords: bool = Field(False, description="Accept plain-text request passwords")
    ss_igi_provision_batch_size: int = Field(50, ge=1, description="Requests claimed per batch")
    ss_igi_provision_lease_seconds: float = Field(300.0, gt=0, description="Claim lease; then others may take it")
    ss_igi_provision_max_attempts: int = Field(5, ge=1, description="Attempts before a request fails for good")
    ss_igi_provision_backoff_seconds: float = Field(30.0, ge=0, description="First retry delay (doubles, capped)")
    ss_igi_provision_break_inheritance: bool = Field(
        False, description="Let folder and secret grants break inheritance without the request asking")
    ss_igi_dask_address: str | None = Field(
        None, description="Reconciliation fan-out on Dask: 'local' or a scheduler's tcp://host:8786")

    # The Secret Server instance this object's secret_server_* settings belong to (pipelines/instances.py), so
    # that messages name the variables the operator has to set.
    _instance: str = PrivateAttr(DEFAULT_INSTANCE)

    @property
    def instance(self) -> str:
        """The Secret Server instance whose settings these are ("default" unless made by `for_instance`)."""
        return self._instance

    def for_instance(self, instance: str, values: dict[str, Any]) -> Settings:
        """A copy with the Secret Server ``values`` of instance ``instance``."""
        copy = self.model_copy(update=values)
        copy._instance = instance
        return copy

    def secret_server_password_value(self) -> SecretStr | None:
        """The Secret Server password, from its variable or its Prefect Secret block."""
        return resolve_secret(self.secret_server_password, self.secret_server_password_block)

    def igi_database_url_value(self) -> SecretStr | None:
        """IGI's database URL, from its variable or its Prefect Secret block (None: the embedded server)."""
        return resolve_secret(self.igi_database_url, self.igi_database_url_block)

    def ss_igi_fernet_key_value(self) -> SecretStr | None:
        """The Fernet key of request passwords, from its variable or its Prefect Secret block."""
        return resolve_secret(self.ss_igi_fernet_key, self.ss_igi_fernet_key_block)


def resolve_secret(value: SecretStr | None, block_name: str | None) -> SecretStr | None:
    """The value itself, or the named Prefect Secret block's value when a block is given."""
    if block_name:
        from prefect.blocks.system import Secret

        block = cast(Secret, Secret.load(block_name))  # sync context: load() returns the block itself
        return SecretStr(str(block.get()))
    return value


def instance_variable(instance: str, name: str) -> str:
    """The environment variable that sets ``name`` (SECRET_SERVER_URL, ...) for Secret Server instance ``instance``:
    the name itself for the default instance, DR_SECRET_SERVER_URL for instance dr."""
    return name if instance == DEFAULT_INSTANCE else f"{instance.upper()}_{name}"
