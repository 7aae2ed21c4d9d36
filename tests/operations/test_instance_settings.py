"""Instances by name: SS_IGI_INSTANCES and the <NAME>_ prefixed variables (pipelines/instances.py)."""

from __future__ import annotations

import pytest

from pipelines.instances import configured_instances, instance_named
from pipelines.secret_server import ConfigurationError
from pipelines.settings import Settings


@pytest.fixture
def clean_env(monkeypatch: pytest.MonkeyPatch) -> pytest.MonkeyPatch:
    import os

    for name in list(os.environ):
        if "SECRET_SERVER" in name or name.endswith("IGI_TARGET") or name == "SS_IGI_INSTANCES":
            monkeypatch.delenv(name)
    return monkeypatch


def test_unset_means_one_default_instance_from_the_unprefixed_variables(clean_env: pytest.MonkeyPatch) -> None:
    clean_env.setenv("SECRET_SERVER_URL", "https://one.example/SecretServer")
    (only,) = configured_instances(Settings())
    assert (only.name, only.target, only.settings.secret_server_url) == (
        "default", "SecretServer", "https://one.example/SecretServer")
    assert instance_named(Settings(), None) is not None


def test_named_instances_read_their_own_prefixed_variables(clean_env: pytest.MonkeyPatch) -> None:
    clean_env.setenv("SS_IGI_INSTANCES", "default, DR")
    clean_env.setenv("SECRET_SERVER_URL", "https://prod.example/SecretServer")
    clean_env.setenv("SECRET_SERVER_PASSWORD", "p-prod")
    clean_env.setenv("DR_SECRET_SERVER_URL", "https://dr.example/SecretServer")
    clean_env.setenv("DR_SECRET_SERVER_USERNAME", "svc-dr")
    clean_env.setenv("DR_SECRET_SERVER_PASSWORD", "p-dr")
    clean_env.setenv("DR_SECRET_SERVER_VERIFY_TLS", "false")
    clean_env.setenv("DR_IGI_TARGET", "SS-DR")
    default, dr = configured_instances(Settings())
    assert default.name == "default" and default.settings.secret_server_url == "https://prod.example/SecretServer"
    assert (dr.name, dr.target, dr.settings.secret_server_url, dr.settings.secret_server_username) == (
        "dr", "SS-DR", "https://dr.example/SecretServer", "svc-dr")
    assert dr.settings.secret_server_verify_tls is False and default.settings.secret_server_verify_tls is True
    pw = dr.settings.secret_server_password_value()
    assert pw is not None and pw.get_secret_value() == "p-dr"
    with pytest.raises(ConfigurationError, match="several instances are configured \\(default, dr\\)"):
        instance_named(Settings(), None)
    with pytest.raises(ConfigurationError, match="no instance 'eu' is configured"):
        instance_named(Settings(), "eu")


def test_a_named_instance_defaults_its_target(clean_env: pytest.MonkeyPatch) -> None:
    clean_env.setenv("SS_IGI_INSTANCES", "prod,dr")
    prod, dr = configured_instances(Settings())
    assert (prod.target, dr.target) == ("SecretServer-prod", "SecretServer-dr")


@pytest.mark.parametrize("value, reason", [
    ("prod,prod", "names prod twice"),
    ("prod,1dr", "1dr is not an instance name"),
    ("prod,dr-eu", "dr-eu is not an instance name"),
])
def test_bad_instance_lists_are_refused_with_a_reason(clean_env: pytest.MonkeyPatch, value: str, reason: str) -> None:
    clean_env.setenv("SS_IGI_INSTANCES", value)
    with pytest.raises(ConfigurationError, match=reason):
        configured_instances(Settings())


def test_two_instances_may_not_share_an_igi_target(clean_env: pytest.MonkeyPatch) -> None:
    clean_env.setenv("SS_IGI_INSTANCES", "default,dr")
    clean_env.setenv("DR_IGI_TARGET", "SecretServer")
    with pytest.raises(ConfigurationError, match="IGI target SecretServer is named by more than one instance"):
        configured_instances(Settings())


def test_a_wrong_value_names_the_prefixed_variable(clean_env: pytest.MonkeyPatch) -> None:
    clean_env.setenv("SS_IGI_INSTANCES", "dr")
    clean_env.setenv("DR_SECRET_SERVER_VERIFY_TLS", "perhaps")
    with pytest.raises(ConfigurationError, match="DR_SECRET_SERVER_VERIFY_TLS"):
        configured_instances(Settings())
