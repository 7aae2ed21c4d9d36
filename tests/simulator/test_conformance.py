"""Every implemented endpoint answers with the field names of the official collection's example.

The expected names live in tests/data/simulator_expected_keys.json, extracted once from Delinea's
Postman collection for Secret Server 10.9.35: per endpoint, JSON path -> field names.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import requests

from simulator.faults import Faults
from simulator.server import SimulatorServer
from simulator.state import Organization

EXPECTED = json.loads((Path(__file__).parents[1] / "data" / "simulator_expected_keys.json").read_text("utf-8"))
SORT = {"sortBy[0].name": "id", "sortBy[0].direction": "Asc", "take": 3}

# The collection's examples for these two are swagger stubs of three fields; Secret Server (and the
# thycotic.secretserver PowerShell module's TssFolderPermission) returns the whole permission record.
SUPERSET = {"POST folder-permissions", "GET folder-permissions/:id", "PUT folder-permissions/:id"}
# Lists the simulator leaves empty in these answers (no group owners; a new folder has no children).
MAY_BE_EMPTY = {"$.owners[]", "$.childFolders[]", "$.childFolders[].secretTemplates[]", "$.extendedFields[]",
                "$.secretTemplates[]"}


def shapes(value: Any, path: str = "$", out: dict[str, set[str]] | None = None) -> dict[str, set[str]]:
    out = {} if out is None else out
    if isinstance(value, dict):
        out.setdefault(path, set()).update(value)
        for key, item in value.items():
            shapes(item, f"{path}.{key}", out)
    elif isinstance(value, list):
        for item in value:
            shapes(item, f"{path}[]", out)
    return out


def call(server: SimulatorServer, org: Organization, endpoint: str) -> requests.Response:
    """Make a valid request for an endpoint of the collection (e.g. 'GET users/:id')."""
    token = server.login()
    session = requests.Session()
    session.headers["Authorization"] = f"Bearer {token}"
    base = f"{server.base_url}/api/v1"
    method = endpoint.split(" ", 1)[0]
    user_id = next(u.id for u in org.user_map.values() if u.enabled)
    group_id = next(g for g, members in org.members.items()
                    if org.group_map[g].personal_user_id is None and not org.group_map[g].system_group and members)
    member_id = next(iter(org.members[group_id]))
    outsider = next(u for u in org.user_map if u not in org.members[group_id])
    folder_id = next(f.id for f in org.folder_map.values() if org.folder_children[f.id] and f.parent_id == -1)
    secret_id = next(s.id for s in org.secret_map.values() if s.active)
    fperm = org.grant_folder_permission(folder_id, user_id=user_id)
    sperm = org.grant_secret_permission(secret_id, user_id=user_id)
    # A new group holds no permission anywhere: POSTing one for it is not a duplicate.
    newcomer = org.add_group("Conformance newcomers")
    requests_by_endpoint: dict[str, tuple[str, dict[str, Any] | None, dict[str, Any] | None]] = {
        "GET healthcheck": ("healthcheck", None, None),
        "GET domains": ("domains", SORT, None),
        "GET users": ("users", SORT, None),
        "POST users": ("users", None, {"userName": "conformance", "password": "Pw-123456!", "displayName": "C",
                                       "enabled": True}),
        "GET users/:id": (f"users/{user_id}", None, None),
        "PUT users/:id": (f"users/{user_id}", None, {"id": user_id, "displayName": "Changed"}),
        "PATCH users/:id": (f"users/{user_id}", None, {"displayName": {"dirty": True, "value": "Patched"}}),
        "POST users/:userId/password-reset": (f"users/{user_id}/password-reset", None,
                                              {"data": {"userId": user_id, "password": "N3w-Passw0rd!"}}),
        "GET users/:id/groups": (f"users/{member_id}/groups", SORT, None),
        "GET groups": ("groups", SORT, None),
        "POST groups": ("groups", None, {"name": "Conformance group", "enabled": True}),
        "GET groups/:id": (f"groups/{group_id}", None, None),
        "DELETE groups/:id": (f"groups/{group_id}", None, None),
        "GET groups/:id/users": (f"groups/{group_id}/users", SORT, None),
        "POST groups/:id/users": (f"groups/{group_id}/users", None, {"userId": outsider}),
        "DELETE groups/:id/users/:userId": (f"groups/{group_id}/users/{member_id}", None, None),
        "GET folders": ("folders", SORT, None),
        "POST folders": ("folders", None, {"folderName": "Conformance", "parentFolderId": folder_id,
                                           "folderTypeId": 1, "inheritPermissions": True}),
        "GET folders/lookup": ("folders/lookup", SORT, None),
        "GET folders/:id": (f"folders/{folder_id}", {"getAllChildren": "true",
                                                     "includeAssociatedTemplates": "true"}, None),
        "GET folder-permissions": ("folder-permissions", SORT, None),
        "POST folder-permissions": ("folder-permissions", None,
                                    {"folderId": folder_id, "groupId": newcomer, "folderAccessRoleName": "View",
                                     "secretAccessRoleName": "None", "breakInheritance": True}),
        "GET folder-permissions/:id": (f"folder-permissions/{fperm}", None, None),
        "PUT folder-permissions/:id": (f"folder-permissions/{fperm}", None,
                                       {"id": fperm, "folderId": folder_id, "folderAccessRoleName": "Edit",
                                        "secretAccessRoleName": "View"}),
        "DELETE folder-permissions/:id": (f"folder-permissions/{fperm}", None, None),
        "GET secrets": ("secrets", {**SORT, "filter.extendedFields": "Username"}, None),
        "POST secrets": ("secrets", None, {"name": "Conformance", "secretTemplateId": 2, "folderId": folder_id,
                                           "items": [{"slug": "password", "itemValue": "x"}]}),
        "GET secrets/:id": (f"secrets/{secret_id}", None, None),
        "GET secrets/:id/summary": (f"secrets/{secret_id}/summary", None, None),
        "GET secret-permissions": ("secret-permissions", SORT, None),
        "POST secret-permissions": ("secret-permissions", None,
                                    {"secretId": secret_id, "groupId": newcomer, "secretAccessRoleName": "List"}),
        "GET secret-permissions/:id": (f"secret-permissions/{sperm}", None, None),
        "PUT secret-permissions/:id": (f"secret-permissions/{sperm}", None,
                                       {"id": sperm, "secretId": secret_id, "secretAccessRoleName": "Owner"}),
        "DELETE secret-permissions/:id": (f"secret-permissions/{sperm}", None, None),
    }
    relative, params, body = requests_by_endpoint[endpoint]
    return session.request(method, f"{base}/{relative}", params=params, json=body, timeout=10)


@pytest.mark.parametrize("endpoint", sorted(EXPECTED["endpoints"]))
def test_field_names_match_the_official_collection(endpoint: str, make_simulator: Any,
                                                   sim_org: Organization) -> None:
    # The collection's casing of the health check is an option; the default is the SDK's (below).
    simulator = make_simulator(org=sim_org, healthcheck_casing="camel")
    answer = call(simulator, sim_org, endpoint)
    assert answer.status_code == 200, answer.text
    actual = shapes(answer.json())
    for path, names in EXPECTED["endpoints"][endpoint].items():
        if path not in actual:
            assert path in MAY_BE_EMPTY, f"{endpoint}: {path} missing from the answer"
            continue
        if endpoint in SUPERSET:
            assert set(names) <= actual[path], f"{endpoint} {path}"
        else:
            assert sorted(actual[path]) == names, f"{endpoint} {path}"


def test_error_bodies_match_the_official_collection(make_simulator: Any) -> None:
    server = make_simulator(faults=Faults(burst_every=2, burst_length=1, burst_status=500))
    expected = EXPECTED["errors"]
    url = f"{server.base_url}/api/v1/users"
    assert server.faults.active
    unauthenticated = requests.get(url, timeout=10)  # call 1: no burst, no token
    assert unauthenticated.status_code == 403
    assert sorted(unauthenticated.json()) == expected["403"]["$"]
    headers = {"Authorization": f"Bearer {server.login()}"}
    failed = requests.get(url, headers=headers, timeout=10)  # call 2: in the burst
    assert failed.status_code == 500
    assert sorted(failed.json()) == expected["500"]["$"]
    bad = requests.post(f"{server.base_url}/api/v1/secret-permissions", headers=headers, timeout=10,
                        json={"secretId": 1, "groupId": 1, "secretAccessRoleName": "Superuser"})
    assert bad.status_code == 400
    assert sorted(bad.json()) == expected["400"]["$"]
    assert bad.json()["errorCode"] == "API_GenericException"


def test_the_health_check_answers_the_collections_fields_in_the_casing_real_servers_use(
        simulator: SimulatorServer) -> None:
    # Delinea's python-tss-sdk detects a server by reading `Healthy`: PascalCase is what real servers answer.
    body = requests.get(f"{simulator.base_url}/api/v1/healthcheck", timeout=10).json()
    expected = EXPECTED["endpoints"]["GET healthcheck"]["$"]
    assert sorted(body) == sorted(name[0].upper() + name[1:] for name in expected)
    assert body["Healthy"] is True and body["UtcNow"].endswith("Z")


def test_version_and_token_answer_the_documented_fields(simulator: SimulatorServer) -> None:
    # The collection's examples for these two are empty; shared/reference/secret-server-facts.md documents
    # {"model": {"version": ...}, ...} and access_token, token_type, expires_in, refresh_token.
    token = requests.post(f"{simulator.base_url}/oauth2/token", timeout=10,
                          data={"username": "admin", "password": "admin", "grant_type": "password"})
    assert token.status_code == 200
    assert {"access_token", "token_type", "expires_in", "refresh_token"} <= set(token.json())
    assert token.json()["token_type"] == "bearer" and isinstance(token.json()["expires_in"], int)
    version = requests.get(f"{simulator.base_url}/api/v1/version", timeout=10,
                           headers={"Authorization": f"Bearer {token.json()['access_token']}"})
    assert version.status_code == 200 and version.json()["model"]["version"].startswith("10.9.")
    refused = requests.post(f"{simulator.base_url}/oauth2/token", timeout=10,
                            data={"username": "admin", "password": "wrong", "grant_type": "password"})
    assert refused.status_code == 400 and sorted(refused.json()) == ["error"]
