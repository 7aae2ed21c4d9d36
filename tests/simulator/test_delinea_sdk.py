"""Delinea's own Python SDK (python-tss-sdk), unmodified, logs in and reads secrets through the simulator.

The SDK first probes `{base}/api/v1/healthcheck` and looks for a `Healthy` key (PascalCase), while the
official collection documents `healthy`; the SDK is evidence of what real servers answer, so the
simulator's default is the SDK's casing (these tests use the defaults). Everything else the SDK does is
the documented API.
"""

from __future__ import annotations

import json
from typing import Any

from delinea.secrets.server import (
    PasswordGrantAuthorizer,
    SecretServer,
    SecretServerClientError,
    SecretServerError,
    ServerSecret,
)

from simulator.state import Organization


def test_the_sdk_logs_in_and_reads_a_secret(make_simulator: Any, sim_org: Organization) -> None:
    server = make_simulator(org=sim_org)
    secret_id = sim_org.add_secret("sdk test", next(iter(sim_org.folder_map)), template_id=6007,
                                   items={"machine": "db01.example.com", "username": "root",
                                          "password": "s3cr3t-value"})
    client = SecretServer(server.base_url, PasswordGrantAuthorizer(server.base_url, "admin", "admin"))

    secret = ServerSecret(**client.get_secret(secret_id))

    assert secret.id == secret_id and secret.name == "sdk test"
    assert secret.secret_template_name == "Unix Account (SSH)"
    assert secret.fields["password"].value == "s3cr3t-value"
    assert secret.fields["machine"].value == "db01.example.com"
    assert [c.path for c in server.calls("POST")] == ["/SecretServer/oauth2/token"]
    # Delinea's own client sends the token request the collection documents (a form; values never logged).
    assert server.calls("POST")[0].body_shape == {"username": "string", "password": "string",
                                                  "grant_type": "string"}
    assert server.calls("GET", "/api/v1/secrets/")[0].status == 200


def test_the_sdk_searches_and_resolves_paths(make_simulator: Any, sim_org: Organization) -> None:
    server = make_simulator(org=sim_org)
    client = SecretServer(server.base_url, PasswordGrantAuthorizer(server.base_url, "admin", "admin"))
    folder = next(f for f in sim_org.folder_map.values() if f.parent_id != -1)
    secret_id = sim_org.add_secret("by path", folder.id)

    found = json.loads(client.search_secrets({"filter.searchText": "by path", "take": 10}))
    by_path = client.get_secret_by_path(f"{folder.path}\\by path")
    folder_by_path = client.get_folder_by_path(folder.path, get_all_children=True)

    assert [r["id"] for r in found["records"]] == [secret_id]
    assert by_path["id"] == secret_id
    assert folder_by_path["id"] == folder.id and folder_by_path["folderPath"] == folder.path


def test_the_sdk_reports_a_wrong_password(make_simulator: Any) -> None:
    server = make_simulator()
    client = SecretServer(server.base_url, PasswordGrantAuthorizer(server.base_url, "admin", "wrong"))
    try:
        client.get_secret(1)
    except SecretServerClientError as exc:
        assert "Login failed" in str(exc.message)
    else:
        raise AssertionError("a wrong password must fail")



def test_the_sdk_does_not_recognise_the_collections_casing(make_simulator: Any) -> None:
    # Why the default is PascalCase: with the collection's `healthy`, Delinea's SDK finds no server.
    server = make_simulator(healthcheck_casing="camel")
    client = SecretServer(server.base_url, PasswordGrantAuthorizer(server.base_url, "admin", "admin"))
    try:
        client.get_secret(1)
    except SecretServerError as exc:
        assert "detect server type" in str(exc.message), exc.message
    else:
        raise AssertionError("the SDK should not recognise a camelCase health check")
    assert server.calls("GET", "/api/v1/secrets") == []  # it gave up before asking for anything
