"""The simulator refuses what Secret Server's model binding and rules refuse (simulator/api.py says why).

Each refusal answers 400 with Secret Server's error body and changes nothing.
"""

from __future__ import annotations

from typing import Any

import pytest
import requests

from simulator.server import SimulatorServer
from simulator.state import Organization
from tests.simulator.helpers import session

ERROR_FIELDS = ["errorCode", "message", "messageDetail", "modelState"]


def url(server: SimulatorServer, path: str) -> str:
    return f"{server.base_url}/api/v1/{path}"


def refused(answer: requests.Response, code: str) -> dict[str, Any]:
    assert answer.status_code == 400, answer.text
    body = dict(answer.json())
    assert sorted(body) == ERROR_FIELDS and body["errorCode"] == code, body
    return body


@pytest.fixture
def world(sim_org: Organization) -> dict[str, int]:
    """A user and a group with no permission anywhere, an own-list folder and secret, inheriting ones."""
    org = sim_org
    own_folder = next(f.id for f in org.folder_map.values() if not f.inherit_permissions)
    inheriting_folder = next(f.id for f in org.folder_map.values() if f.inherit_permissions
                             and org.inherited_folder_permissions(f.id))
    return {
        "user": org.add_user("strict.user", password="Pw-123456!"),
        "group": org.add_group("Strict group"),
        "own_folder": own_folder,
        "inheriting_folder": inheriting_folder,
        "own_secret": next(s.id for s in org.secret_map.values() if not s.inherits_permissions),
        "inheriting_secret": next(s.id for s in org.secret_map.values() if s.inherits_permissions
                                  and org.inherited_secret_permissions(s.id)),
    }


@pytest.mark.parametrize(("path", "body", "field"), [
    ("folder-permissions", None, "args"),
    ("folder-permissions", b"not json", "args"),
    ("folder-permissions", b"[1, 2]", "args"),
    ("folder-permissions", {"folderId": "5", "groupId": 1, "folderAccessRoleName": "View",
                            "secretAccessRoleName": "None"}, "folderId"),
    ("folder-permissions", {"folderId": 5.5, "groupId": 1, "folderAccessRoleName": "View",
                            "secretAccessRoleName": "None"}, "folderId"),
    ("folder-permissions", {"folderId": 5, "groupId": 1, "folderAccessRoleName": "View",
                            "secretAccessRoleName": "None", "breakInheritance": "true"}, "breakInheritance"),
    ("folder-permissions", {"folderId": 5, "groupId": 1, "folderAccessRoleName": "View"}, "secretAccessRoleName"),
    ("folder-permissions", {"folderId": 5, "groupId": 1, "folderAccessRoleName": "View",
                            "secretAccessRoleName": "None", "folderRole": "x"}, "folderRole"),
    ("folder-permissions", {"folderId": 2**31, "groupId": 1, "folderAccessRoleName": "View",
                            "secretAccessRoleName": "None"}, "folderId"),
    ("folder-permissions", {"folderId": 5, "folderAccessRoleName": "View", "secretAccessRoleName": "None"}, "userId"),
    ("folder-permissions", {"folderId": 5, "userId": 1, "groupId": 1, "folderAccessRoleName": "View",
                            "secretAccessRoleName": "None"}, "groupId"),
    ("secret-permissions", {"secretId": 5, "groupId": 1}, "secretAccessRoleName"),
    ("secret-permissions", {"secretId": 5, "groupId": True, "secretAccessRoleName": "View"}, "groupId"),
    ("users", {"userName": "x", "password": "Pw-123456!"}, "displayName"),
    ("users", {"userName": "", "password": "Pw-123456!", "displayName": "X"}, "userName"),
    ("users", {"userName": "x", "password": "Pw-123456!", "displayName": "X", "enabled": "true"}, "enabled"),
    ("users/1/password-reset", {"userId": 1, "password": "Pw-123456!"}, "userId"),
    ("users/1/password-reset", {"data": {"userId": 1}}, "data.password"),
    ("groups/2/users", {}, "userId"),
])
def test_model_binding_refuses_malformed_bodies(simulator: SimulatorServer, path: str, body: Any,
                                                field: str) -> None:
    client = session(simulator)
    before = simulator.org.version
    if body is None or isinstance(body, bytes):
        answer = client.post(url(simulator, path), data=body or b"", timeout=10,
                             headers={"Content-Type": "application/json"})
    else:
        answer = client.post(url(simulator, path), json=body, timeout=10)
    error = refused(answer, "API_InvalidRequest")
    assert error["message"] == "The request is invalid." and list(error["modelState"]) == [field]
    assert simulator.org.version == before


def test_property_names_bind_case_insensitively_as_powershell_sends_them(simulator: SimulatorServer,
                                                                         world: dict[str, int]) -> None:
    # New-TssSecretPermission sends SecretAccessRoleName, SecretId and Username (PascalCase).
    answer = session(simulator).post(url(simulator, "secret-permissions"), timeout=10, json={
        "SecretAccessRoleName": "view", "SecretId": world["own_secret"], "Username": "strict.user"})
    assert answer.status_code == 200, answer.text
    assert answer.json()["secretAccessRoleName"] == "View" and answer.json()["userId"] == world["user"]


@pytest.mark.parametrize(("method", "path", "body"), [
    ("PUT", "folder-permissions/99999", {"id": 99999, "folderId": 1, "folderAccessRoleName": "View"}),
    ("DELETE", "folder-permissions/99999", None),
    ("PUT", "secret-permissions/99999", {"id": 99999, "secretId": 1, "secretAccessRoleName": "View"}),
    ("DELETE", "secret-permissions/99999", None),
    ("PATCH", "users/99999", {"enabled": {"dirty": True, "value": False}}),
    ("POST", "users/99999/password-reset", {"data": {"userId": 99999, "password": "Pw-123456!"}}),
    ("POST", "groups/99999/users", {"userId": 1}),
    ("POST", "folder-permissions", {"folderId": 99999, "groupId": 2, "folderAccessRoleName": "View",
                                    "secretAccessRoleName": "None", "breakInheritance": True}),
    ("POST", "secret-permissions", {"secretId": 1, "userName": "nobody.at.all", "secretAccessRoleName": "View"}),
])
def test_unknown_ids_are_access_denied(simulator: SimulatorServer, method: str, path: str, body: Any) -> None:
    answer = session(simulator).request(method, url(simulator, path), json=body, timeout=10)
    refused(answer, "API_AccessDenied")


def test_non_integer_ids_match_no_route(simulator: SimulatorServer) -> None:
    answer = session(simulator).put(url(simulator, "folder-permissions/abc"), timeout=10, json={})
    assert answer.status_code == 404


def test_a_second_permission_for_a_principal_is_refused(simulator: SimulatorServer, sim_org: Organization,
                                                        world: dict[str, int]) -> None:
    client = session(simulator)
    body = {"folderId": world["own_folder"], "userId": world["user"], "folderAccessRoleName": "View",
            "secretAccessRoleName": "List"}
    first = client.post(url(simulator, "folder-permissions"), json=body, timeout=10)
    assert first.status_code == 200
    again = client.post(url(simulator, "folder-permissions"), timeout=10,
                        json={**body, "folderAccessRoleName": "Owner"})
    error = refused(again, "API_DuplicatePermission")
    assert f"PUT /folder-permissions/{first.json()['id']}" in error["messageDetail"]
    assert sim_org.folder_perms[first.json()["id"]].folder_role == "View"
    secret_body = {"secretId": world["own_secret"], "groupId": world["group"], "secretAccessRoleName": "View"}
    assert client.post(url(simulator, "secret-permissions"), json=secret_body, timeout=10).status_code == 200
    refused(client.post(url(simulator, "secret-permissions"), json=secret_body, timeout=10), "API_DuplicatePermission")


def test_a_user_name_is_unique_within_its_domain(simulator: SimulatorServer, sim_org: Organization) -> None:
    client = session(simulator)
    domain_user = next(u for u in sim_org.user_map.values() if u.domain_id != -1)
    body = {"userName": domain_user.user_name.upper(), "password": "Pw-123456!", "displayName": "Dup"}
    refused(client.post(url(simulator, "users"), timeout=10, json={**body, "domainId": domain_user.domain_id}),
            "API_DuplicateUserName")
    elsewhere = next(d for d in sim_org.domains if sim_org.find_user(domain_user.user_name, d) is None)
    created = client.post(url(simulator, "users"), timeout=10, json={**body, "domainId": elsewhere})
    assert created.status_code == 200 and created.json()["domainId"] == elsewhere
    refused(client.post(url(simulator, "users"), timeout=10, json={**body, "domainId": 4242}), "API_InvalidDomain")


def test_a_user_created_without_enabled_is_disabled(simulator: SimulatorServer) -> None:
    created = session(simulator).post(url(simulator, "users"), timeout=10,
                                      json={"userName": "quiet.one", "password": "Pw-123456!", "displayName": "Q"})
    assert created.status_code == 200 and created.json()["enabled"] is False


def test_patch_takes_dirty_wrappers_at_the_top_level_only(simulator: SimulatorServer, world: dict[str, int]) -> None:
    client = session(simulator)
    path = url(simulator, f"users/{world['user']}")
    refused(client.patch(path, timeout=10, json={"data": {"enabled": {"dirty": True, "value": False}}}),
            "API_InvalidRequest")
    refused(client.patch(path, timeout=10, json={"displayName": {"dirty": True, "value": None}}),
            "API_InvalidRequest")
    refused(client.patch(path, timeout=10, json={"enabled": {"dirty": True, "value": "no"}}), "API_InvalidRequest")
    refused(client.patch(path, timeout=10, json={"id": world["user"] + 1, "enabled": {"dirty": True, "value": False}}),
            "API_InvalidRequest")
    done = client.patch(path, timeout=10, json={"id": world["user"], "enabled": {"dirty": True, "value": False}})
    assert done.status_code == 200 and done.json()["enabled"] is False


def test_a_folder_that_inherits_refuses_a_permission_unless_asked_to_break(
        simulator: SimulatorServer, sim_org: Organization, world: dict[str, int]) -> None:
    client = session(simulator)
    folder_id = world["inheriting_folder"]
    inherited = {(p.group_id, p.folder_role, p.secret_role) for p in sim_org.inherited_folder_permissions(folder_id)}
    body = {"folderId": folder_id, "groupId": world["group"], "folderAccessRoleName": "View",
            "secretAccessRoleName": "List"}
    for extra in ({}, {"breakInheritance": False}):
        error = refused(client.post(url(simulator, "folder-permissions"), json={**body, **extra}, timeout=10),
                        "API_PermissionsAreInherited")
        assert error["message"] == "API_PermissionsAreInherited"  # where New-TssFolderPermission looks
    assert sim_org.folder_map[folder_id].inherit_permissions is True
    assert not sim_org.folder_perms_by_folder.get(folder_id)
    granted = client.post(url(simulator, "folder-permissions"), json={**body, "breakInheritance": True}, timeout=10)
    assert granted.status_code == 200
    own = {(p.group_id, p.folder_role, p.secret_role) for p in sim_org.folder_perms.values()
           if p.folder_id == folder_id}
    assert own == inherited | {(world["group"], "View", "List")}
    assert sim_org.folder_map[folder_id].inherit_permissions is False


def test_a_principal_already_in_the_inherited_list_is_refused_without_breaking(
        simulator: SimulatorServer, sim_org: Organization, world: dict[str, int]) -> None:
    client = session(simulator)
    folder_id = world["inheriting_folder"]
    holder = sim_org.inherited_folder_permissions(folder_id)[0].group_id
    refused(client.post(url(simulator, "folder-permissions"), timeout=10, json={
        "folderId": folder_id, "groupId": holder, "folderAccessRoleName": "Owner", "secretAccessRoleName": "Owner",
        "breakInheritance": True}), "API_DuplicatePermission")
    assert sim_org.folder_map[folder_id].inherit_permissions is True
    secret_id = world["inheriting_secret"]
    holder = sim_org.inherited_secret_permissions(secret_id)[0][0]
    refused(client.post(url(simulator, "secret-permissions"), timeout=10, json={
        "secretId": secret_id, "groupId": holder, "secretAccessRoleName": "Owner"}), "API_DuplicatePermission")
    assert sim_org.secret_map[secret_id].inherits_permissions is True


def test_a_permission_on_an_inheriting_secret_breaks_its_inheritance_copying_the_folders(
        simulator: SimulatorServer, sim_org: Organization, world: dict[str, int]) -> None:
    secret_id = world["inheriting_secret"]
    copied = set(sim_org.inherited_secret_permissions(secret_id))
    answer = session(simulator).post(url(simulator, "secret-permissions"), timeout=10, json={
        "secretId": secret_id, "groupId": world["group"], "secretAccessRoleName": "Edit"})
    assert answer.status_code == 200
    own = {(p.group_id, p.user_id, p.role) for p in sim_org.secret_perms.values() if p.secret_id == secret_id}
    assert own == copied | {(world["group"], None, "Edit")}
    assert sim_org.secret_map[secret_id].inherits_permissions is False


def test_put_changes_the_role_of_the_one_permission(simulator: SimulatorServer, sim_org: Organization,
                                                    world: dict[str, int]) -> None:
    client = session(simulator)
    created = client.post(url(simulator, "folder-permissions"), timeout=10, json={
        "folderId": world["own_folder"], "groupId": world["group"], "folderAccessRoleName": "View",
        "secretAccessRoleName": "List"}).json()
    path = url(simulator, f"folder-permissions/{created['id']}")
    refused(client.put(path, timeout=10, json={"id": created["id"] + 1, "folderId": world["own_folder"],
                                               "folderAccessRoleName": "Edit"}), "API_InvalidRequest")
    refused(client.put(path, timeout=10, json={"id": created["id"], "folderId": world["own_folder"] + 1,
                                               "folderAccessRoleName": "Edit"}), "API_InvalidRequest")
    refused(client.put(path, timeout=10, json={"id": created["id"], "folderId": world["own_folder"]}),
            "API_InvalidRequest")
    refused(client.put(path, timeout=10, json={"id": created["id"], "folderId": world["own_folder"],
                                               "folderAccessRoleName": "Superuser"}), "API_GenericException")
    changed = client.put(path, timeout=10, json={"id": created["id"], "folderId": world["own_folder"],
                                                 "folderAccessRoleName": "edit", "secretAccessRoleName": "Owner",
                                                 "breakInheritance": False})
    assert changed.status_code == 200
    assert {k: changed.json()[k] for k in ("id", "folderAccessRoleName", "secretAccessRoleName")} == \
        {"id": created["id"], "folderAccessRoleName": "Edit", "secretAccessRoleName": "Owner"}
    mine = [p for p in sim_org.folder_perms.values() if p.folder_id == world["own_folder"]
            and p.group_id == world["group"]]
    assert [(p.id, p.folder_role, p.secret_role) for p in mine] == [(created["id"], "Edit", "Owner")]

    shared = client.post(url(simulator, "secret-permissions"), timeout=10, json={
        "secretId": world["own_secret"], "groupId": world["group"], "secretAccessRoleName": "List"}).json()
    path = url(simulator, f"secret-permissions/{shared['id']}")
    refused(client.put(path, timeout=10, json={"id": shared["id"], "secretId": world["own_secret"]}),
            "API_InvalidRequest")
    changed = client.put(path, timeout=10, json={"id": shared["id"], "secretId": world["own_secret"],
                                                 "secretAccessRoleName": "Owner"})
    assert changed.status_code == 200 and changed.json()["secretAccessRoleName"] == "Owner"
    assert sim_org.secret_perms[shared["id"]].role == "Owner"


def test_delete_binds_break_inheritance_strictly(simulator: SimulatorServer, world: dict[str, int]) -> None:
    client = session(simulator)
    created = client.post(url(simulator, "folder-permissions"), timeout=10, json={
        "folderId": world["own_folder"], "groupId": world["group"], "folderAccessRoleName": "View",
        "secretAccessRoleName": "None"}).json()
    path = url(simulator, f"folder-permissions/{created['id']}")
    refused(client.delete(path, params={"breakInheritance": "perhaps"}, timeout=10), "API_InvalidRequest")
    assert client.delete(path, params={"breakInheritance": "false"}, timeout=10).status_code == 200
