"""Wires settings into the Secret Server connector."""

from __future__ import annotations

import re
from typing import Any

from connectors.secret_server import SecretServerClient
from pipelines.settings import Settings


class ConfigurationError(RuntimeError):
    """A required setting is missing."""


def open_secret_server(settings: Settings, **options: Any) -> SecretServerClient:
    """A client for the Secret Server of ``settings`` (the default instance's, or an instance's own: see
    pipelines/instances.py) with its credentials; ``options`` go to the client (max_workers, page_size, ...).
    Its messages name that instance's variables (SECRET_SERVER_URL, or DR_SECRET_SERVER_URL for instance dr)."""
    password = settings.secret_server_password_value()
    missing = [
        settings.instance_variable(name)
        for name, value in [
            ("SECRET_SERVER_URL", settings.secret_server_url),
            ("SECRET_SERVER_USERNAME", settings.secret_server_username),
            ("SECRET_SERVER_PASSWORD", password),
        ]
        if not value
    ]
    if missing:
        raise ConfigurationError(f"missing setting(s): {', '.join(missing)}; set them in the environment "
                                 "(README: Configuration)")
    assert settings.secret_server_url and settings.secret_server_username and password
    if not settings.secret_server_url.lower().startswith(("http://", "https://")):
        raise ConfigurationError(f"{settings.instance_variable('SECRET_SERVER_URL')} must be an http(s) URL such as "
                                 "https://vault.example.com/SecretServer")
    return SecretServerClient(
        settings.secret_server_url,
        settings.secret_server_username,
        password.get_secret_value(),
        domain=settings.secret_server_domain,
        verify_tls=settings.secret_server_verify_tls,
        ca_bundle=str(settings.secret_server_ca_bundle) if settings.secret_server_ca_bundle else None,
        **options,
    )


_UNPREFIXED = re.compile(r"(?<![A-Z0-9_])(SECRET_SERVER_[A-Z_]+)")


def name_instance_variables(text: str, settings: Settings) -> str:
    """``text`` (a message that names the default instance's variables, such as `pipelines.failures.explain`'s)
    with the variables of the instance of ``settings`` instead: SECRET_SERVER_PASSWORD -> DR_SECRET_SERVER_PASSWORD."""
    return _UNPREFIXED.sub(lambda m: settings.instance_variable(m.group(1)), text)
