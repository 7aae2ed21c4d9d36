"""The redacting filter and `redact`: no password or token survives into log text or error text."""

from __future__ import annotations

import logging

import pytest

from connectors.secret_server import ApiError, AuthenticationError, SecretServerError, TransientError, redact
from connectors.secret_server.redaction import LOGGER_NAME, register_secret


def test_registered_secrets_are_replaced_wherever_they_appear():
    register_secret("s3cr3t-Pa55word!")
    assert "s3cr3t-Pa55word!" not in redact("login with s3cr3t-Pa55word! failed")
    assert redact("login with s3cr3t-Pa55word! failed") == "login with *** failed"


@pytest.mark.parametrize(
    "text, leaked",
    [
        ("Authorization: Bearer eyJhbGciOi.abc-def_123", "eyJhbGciOi.abc-def_123"),
        ("headers={'Authorization': 'Bearer tok.en'}", "tok.en"),
        ("grant_type=password&username=admin&password=unknownValue1", "unknownValue1"),
        ('{"access_token": "AAAA-unknown-token", "token_type": "bearer"}', "AAAA-unknown-token"),
        ("refresh_token=RRRR-unknown&grant_type=refresh_token", "RRRR-unknown"),
    ],
)
def test_secret_shaped_values_are_replaced_even_when_never_registered(text: str, leaked: str):
    assert leaked not in redact(text)


def test_log_filter_scrubs_message_args_and_tracebacks(caplog: pytest.LogCaptureFixture):
    register_secret("hunter2-hunter2")
    logger = logging.getLogger(LOGGER_NAME)
    with caplog.at_level(logging.DEBUG, logger=LOGGER_NAME):
        logger.info("sending password %s with %s", "hunter2-hunter2", "Bearer abc.def.ghi")
        try:
            raise RuntimeError("boom hunter2-hunter2")
        except RuntimeError:
            logger.exception("failed")
    assert "hunter2-hunter2" not in caplog.text
    assert "abc.def.ghi" not in caplog.text
    assert "***" in caplog.text


def test_error_text_is_redacted():
    register_secret("TopSecretValue9")
    errors: list[SecretServerError] = [
        SecretServerError("x TopSecretValue9"),
        AuthenticationError("refused TopSecretValue9"),
        TransientError("gave up; Bearer TopSecretValue9", last_cause="TopSecretValue9"),
        ApiError(status=400, error_code="API_X", message="bad password TopSecretValue9",
                 message_detail="TopSecretValue9", method="POST", path="/api/v1/users"),
    ]
    for err in errors:
        assert "TopSecretValue9" not in str(err)
        assert "TopSecretValue9" not in repr(err)
    api = errors[-1]
    assert isinstance(api, ApiError)
    assert api.error_code == "API_X" and api.method == "POST" and api.path == "/api/v1/users"


def test_a_short_secret_is_masked_where_it_stands_alone_not_inside_ordinary_words():
    register_secret("admin")
    assert redact("GET /SecretServer/api/v1/users?filter.searchText=sysadmin") == \
        "GET /SecretServer/api/v1/users?filter.searchText=sysadmin"
    assert redact("https://administration.example.com/SecretServer") == "https://administration.example.com/SecretServer"
    assert redact("refused the login for 'admin' with admin") == "refused the login for '***' with ***"
    register_secret("Long-Token-Value-0123456789")
    assert redact("x%3DLong-Token-Value-0123456789&y") == "x%3D***&y"  # long secrets go wherever they appear
