"""Wires settings into the Secret Server connector."""

from __future__ import annotations

from typing import Any

from connectors.secret_server import SecretServerClient
from pipelines.settings import Settings, instance_variable


class ConfigurationError(RuntimeError):
    """A required setting is missing."""


def open_secret_server(settings: Settings, **options: Any) -> SecretServerClient:
    """A client for the Secret Server of ``settings`` (the default instance's, or an instance's own: see
    pipelines/instances.py) with its credentials; ``options`` go to the client (max_workers, page_size, ...).
    Its messages name that instance's variables (SECRET_SERVER_URL, or DR_SECRET_SERVER_URL for instance dr)."""
    password = settings.secret_server_password_value()
    missing = [
        instance_variable(settings.instance, name)
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
        url = instance_variable(settings.instance, "SECRET_SERVER_URL")
        raise ConfigurationError(f"{url} must be an http(s) URL such as https://vault.example.com/SecretServer")
    return SecretServerClient(
        settings.secret_server_url,
        settings.secret_server_username,
        password.get_secret_value(),
        domain=settings.secret_server_domain,
        verify_tls=settings.secret_server_verify_tls,
        ca_bundle=str(settings.secret_server_ca_bundle) if settings.secret_server_ca_bundle else None,
        **options,
    )
