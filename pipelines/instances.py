"""Secret Server instances by name: each has its own URL, credentials, TLS settings and IGI target.

Unset ``SS_IGI_INSTANCES``: one instance, ``default``, read from the unprefixed ``SECRET_SERVER_*`` variables
and ``IGI_TARGET`` (default ``SecretServer``), exactly as a single-instance setup always was. Set, e.g.
``SS_IGI_INSTANCES=prod,dr``: instance ``prod`` reads ``PROD_SECRET_SERVER_URL``, ``PROD_SECRET_SERVER_USERNAME``,
``PROD_SECRET_SERVER_PASSWORD`` (or ``PROD_SECRET_SERVER_PASSWORD_BLOCK``), ``PROD_SECRET_SERVER_DOMAIN``,
``PROD_SECRET_SERVER_VERIFY_TLS``, ``PROD_SECRET_SERVER_CA_BUNDLE`` and ``PROD_IGI_TARGET`` (default
``SecretServer-prod``). The name ``default`` in the list stands for the unprefixed variables, so an existing
setup adds a second instance with ``SS_IGI_INSTANCES=default,dr`` and keeps its staging rows as they are.

Each instance's settings are a copy of the global `Settings` with its own ``secret_server_*`` fields, so the
code that opens a client (`pipelines.secret_server.open_secret_server`) is the same for every instance.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from pydantic import SecretStr, ValidationError
from pydantic_settings import BaseSettings, SettingsConfigDict

from connectors.igi.entities import DEFAULT_INSTANCE
from pipelines.secret_server import ConfigurationError
from pipelines.settings import Settings, instance_variable

_NAME = re.compile(r"^[a-z][a-z0-9_]{0,39}$")  # as the CHECK on ss_staging.reconciliation_runs.instance


@dataclass(frozen=True)
class Instance:
    """One configured Secret Server: its name (the ``instance`` column of staging), its IGI target, and the
    settings to open it with (`Settings` whose ``secret_server_*`` fields are this instance's)."""

    name: str
    target: str
    settings: Settings


class _InstanceVariables(BaseSettings):
    """The variables of one named instance, read with the prefix ``<NAME>_``."""

    model_config = SettingsConfigDict(case_sensitive=False, extra="ignore", env_file=None)

    secret_server_url: str | None = None
    secret_server_username: str | None = None
    secret_server_password: SecretStr | None = None
    secret_server_password_block: str | None = None
    secret_server_domain: str | None = None
    secret_server_verify_tls: bool = True
    secret_server_ca_bundle: Path | None = None
    igi_target: str | None = None


def instance_names(settings: Settings) -> list[str]:
    """The configured instance names, in the order given (``["default"]`` when SS_IGI_INSTANCES is unset)."""
    if not settings.ss_igi_instances or not settings.ss_igi_instances.strip():
        return [DEFAULT_INSTANCE]
    names = [n.strip().lower() for n in settings.ss_igi_instances.split(",") if n.strip()]
    bad = [n for n in names if not _NAME.match(n)]
    if bad:
        raise ConfigurationError(f"SS_IGI_INSTANCES: {', '.join(bad)} is not an instance name (a lower-case letter, "
                                 "then letters, digits or _; at most 40)")
    repeated = sorted({n for n in names if names.count(n) > 1})
    if repeated:
        raise ConfigurationError(f"SS_IGI_INSTANCES names {', '.join(repeated)} twice")
    return names


def _named(settings: Settings, name: str) -> Instance:
    if name == DEFAULT_INSTANCE:
        return Instance(name, settings.igi_target, settings)
    try:
        own = _InstanceVariables(_env_prefix=instance_variable(name, ""))
    except ValidationError as exc:
        wrong = ", ".join(instance_variable(name, "_".join(map(str, e["loc"])).upper()) for e in exc.errors())
        raise ConfigurationError(f"instance {name}: invalid value of {wrong}") from None
    values = own.model_dump(exclude={"igi_target"})
    return Instance(name, own.igi_target or f"SecretServer-{name}", settings.for_instance(name, values))


def configured_instances(settings: Settings) -> list[Instance]:
    """Every configured instance, in the order of SS_IGI_INSTANCES; their IGI targets must differ."""
    instances = [_named(settings, n) for n in instance_names(settings)]
    targets = [i.target for i in instances]
    shared = sorted({t for t in targets if targets.count(t) > 1})
    if shared:
        raise ConfigurationError(f"IGI target {', '.join(shared)} is named by more than one instance; "
                                 "each instance needs its own <NAME>_IGI_TARGET")
    return instances


def instance_named(settings: Settings, name: str | None) -> Instance:
    """The instance called ``name``; None: the only configured one (an error when several are configured)."""
    instances = configured_instances(settings)
    if name is None:
        if len(instances) > 1:
            raise ConfigurationError(f"several instances are configured ({', '.join(i.name for i in instances)}); "
                                     "name one with --instance")
        return instances[0]
    for instance in instances:
        if instance.name == name.strip().lower():
            return instance
    raise ConfigurationError(f"no instance {name!r} is configured (SS_IGI_INSTANCES: "
                             f"{', '.join(i.name for i in instances)})")
