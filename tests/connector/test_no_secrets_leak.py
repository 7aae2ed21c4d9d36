"""No password or token ever appears in captured logs (every logger, DEBUG) or in exception text,
across logins, refreshes, retries, writes that carry passwords, and every kind of failure."""

from __future__ import annotations

import logging
import traceback
from typing import Any

import pytest

from connectors.secret_server import ApiError, AuthenticationError, SecretServerClient, TransientError
from simulator.faults import Faults
from tests.connector.helpers import connect

ADMIN_PASSWORD = "Adm1n-Vault-Pa55!"
NEW_USER_PASSWORD = "N3w-User-Pa55#1"
RESET_PASSWORD = "Res3t-Pa55#2-xyz"
PATCH_PASSWORD = "Patch3d-Pa55#3"
WRONG_PASSWORD = "Wr0ng-Pa55-Word"


def capture_tokens(client: SecretServerClient, tokens: list[str]) -> None:
    """Record every access and refresh token the server hands out to this client."""
    original = client._transport.request

    def request(method: str, path: str, **kwargs: Any) -> Any:
        body = original(method, path, **kwargs)
        if path == "/oauth2/token" and isinstance(body, dict):
            tokens.extend(t for t in (body.get("access_token"), body.get("refresh_token")) if t)
        return body

    client._transport.request = request  # type: ignore[method-assign]


def test_no_password_or_token_in_logs_or_errors(make_simulator, caplog: pytest.LogCaptureFixture):
    server = make_simulator(page_cap=10, refresh_cap=1, password=ADMIN_PASSWORD, faults=Faults(
        token_expire_after_calls=3, rate_429=0.1, retry_after_s=0, html_200_rate=0.1,
        drop_connection_rate=0.05, seed=21))
    tokens: list[str] = []
    errors: list[BaseException] = []
    caplog.set_level(logging.DEBUG)  # every logger, urllib3 included

    with connect(server, max_attempts=10) as client:
        capture_tokens(client, tokens)
        assert len(list(client.iter_users())) == len(server.org.users())
        user = client.create_user("leak.test", NEW_USER_PASSWORD, display_name="Leak Test")
        client.reset_password(user["id"], RESET_PASSWORD)
        client.update_user(user["id"], password=PATCH_PASSWORD)
        server.faults = Faults()
        with pytest.raises(ApiError) as duplicate:
            client.create_user("leak.test", NEW_USER_PASSWORD)
        errors.append(duplicate.value)
        server.faults = Faults(html_200_rate=1.0)
        with pytest.raises(TransientError) as transient:
            client.reset_password(user["id"], RESET_PASSWORD)
        errors.append(transient.value)
        server.faults = Faults()
        client._transport.headers["X-Debug"] = f"Bearer {tokens[-1]}"  # even if it were logged
        logging.getLogger("connectors.secret_server").debug("headers %s", dict(client._transport.headers))

    with SecretServerClient(server.base_url, "admin", WRONG_PASSWORD) as bad, \
            pytest.raises(AuthenticationError) as refused:
        bad.test_connection()
    errors.append(refused.value)

    assert server.org.check_password(user["id"], PATCH_PASSWORD)
    assert client.stats.refreshes >= 1 and client.stats.logins >= 2 and client.stats.retries >= 1
    assert len(tokens) >= 6

    texts = [caplog.text]
    for exc in errors:
        texts += [str(exc), repr(exc), "".join(traceback.format_exception(exc))]
    everything = "\n".join(texts)
    assert "Bearer ***" in everything
    for secret in [ADMIN_PASSWORD, NEW_USER_PASSWORD, RESET_PASSWORD, PATCH_PASSWORD, WRONG_PASSWORD, *tokens]:
        assert secret not in everything, f"leaked {secret[:4]}..."
