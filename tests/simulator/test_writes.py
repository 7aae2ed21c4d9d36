"""The write endpoints change the organization, with Secret Server's rules and error codes."""

from __future__ import annotations

from simulator.server import SimulatorServer
from simulator.state import Organization
from tests.simulator.helpers import get, session


def api(server: SimulatorServer) -> str:
    return f"{server.base_url}/api/v1"


def test_create_update_and_suspend_a_user(simulator: SimulatorServer, sim_org: Organization) -> None:
    client = session(simulator)
    created = client.post(f"{api(simulator)}/users", timeout=10,
                          json={"userName": "jane.new", "password": "Init-123!", "displayName": "Jane New",
                                "emailAddress": "jane@example.com", "enabled": True})
    assert created.status_code == 200
    user_id = created.json()["id"]
    assert sim_org.user_map[user_id].display_name == "Jane New" and sim_org.check_password(user_id, "Init-123!")
    assert sim_org.is_member(sim_org.everyone_group_id or 0, user_id)
    duplicate = client.post(f"{api(simulator)}/users", timeout=10,
                            json={"userName": "JANE.NEW", "password": "x", "displayName": "Other Jane"})
    assert duplicate.status_code == 400 and duplicate.json()["errorCode"] == "API_DuplicateUserName"
    patched = client.patch(f"{api(simulator)}/users/{user_id}", timeout=10,
                           json={"enabled": {"dirty": True, "value": False},
                                 "displayName": {"dirty": False, "value": "ignored"}})
    assert patched.status_code == 200 and patched.json()["enabled"] is False
    assert sim_org.user_map[user_id].display_name == "Jane New"
    put = client.put(f"{api(simulator)}/users/{user_id}", timeout=10,
                     json={"id": user_id, "enabled": True, "emailAddress": "j@example.com"})
    assert put.json()["enabled"] is True and sim_org.user_map[user_id].email_address == "j@example.com"
    unwrapped = client.patch(f"{api(simulator)}/users/{user_id}", timeout=10, json={"enabled": False})
    assert unwrapped.status_code == 400
    reset = client.post(f"{api(simulator)}/users/{user_id}/password-reset", timeout=10,
                        json={"data": {"userId": user_id, "password": "Changed-456!"}})
    assert reset.json() == {"success": True} and sim_org.check_password(user_id, "Changed-456!")
    deleted = client.delete(f"{api(simulator)}/users/{user_id}", timeout=10)
    assert deleted.status_code == 400 and user_id in sim_org.user_map


def test_group_membership_changes(simulator: SimulatorServer, sim_org: Organization) -> None:
    client = session(simulator)
    group = client.post(f"{api(simulator)}/groups", timeout=10, json={"name": "Ops Night Shift", "enabled": True})
    group_id = group.json()["id"]
    user_id = next(iter(sim_org.user_map))
    added = client.post(f"{api(simulator)}/groups/{group_id}/users", timeout=10, json={"userId": user_id})
    assert added.status_code == 200 and added.json()["userId"] == user_id
    assert (group_id, user_id) in sim_org.group_members()
    again = client.post(f"{api(simulator)}/groups/{group_id}/users", timeout=10, json={"userId": user_id})
    assert again.status_code == 400
    groups_of_user = get(simulator, client, f"users/{user_id}/groups", take=100).json()["records"]
    assert group_id in {r["groupId"] for r in groups_of_user}
    removed = client.delete(f"{api(simulator)}/groups/{group_id}/users/{user_id}", timeout=10)
    assert removed.status_code == 200 and sorted(removed.json()) == ["id", "objectType", "responseCodes"]
    assert (group_id, user_id) not in sim_org.group_members()


def test_folder_permissions_respect_inheritance(simulator: SimulatorServer, sim_org: Organization) -> None:
    client = session(simulator)
    parent = next(f for f in sim_org.folder_map.values() if f.parent_id == -1)
    folder = client.post(f"{api(simulator)}/folders", timeout=10,
                         json={"folderName": "Inherits", "parentFolderId": parent.id, "inheritPermissions": True,
                               "folderTypeId": 1}).json()
    assert folder["folderPath"] == f"{parent.path}\\Inherits" and folder["inheritPermissions"] is True
    body = {"folderId": folder["id"], "groupId": sim_org.everyone_group_id, "folderAccessRoleName": "Add Secret",
            "secretAccessRoleName": "None"}
    refused = client.post(f"{api(simulator)}/folder-permissions", timeout=10, json=body)
    assert refused.status_code == 400 and refused.json()["errorCode"] == "API_PermissionsAreInherited"
    granted = client.post(f"{api(simulator)}/folder-permissions", timeout=10, json={**body, "breakInheritance": True})
    assert granted.status_code == 200
    perm = granted.json()
    assert (perm["folderAccessRoleName"], perm["secretAccessRoleName"]) == ("Add Secret", "None")
    assert sim_org.folder_map[folder["id"]].inherit_permissions is False
    copied = {p.group_id for p in sim_org.folder_perms.values() if p.folder_id == folder["id"]}
    assert {p.group_id for p in sim_org.folder_perms.values() if p.folder_id == parent.id} <= copied
    unknown = client.post(f"{api(simulator)}/folder-permissions", timeout=10,
                          json={**body, "folderAccessRoleName": "Superuser", "breakInheritance": True})
    assert unknown.status_code == 400 and unknown.json()["errorCode"] == "API_GenericException"
    deleted = client.delete(f"{api(simulator)}/folder-permissions/{perm['id']}", timeout=10)
    assert deleted.json() == {"id": perm["id"], "objectType": "FolderPermission", "responseCodes": []}
    assert perm["id"] not in sim_org.folder_perms


def test_create_a_secret_and_share_it(simulator: SimulatorServer, sim_org: Organization) -> None:
    client = session(simulator)
    folder_id = next(iter(sim_org.folder_map))
    created = client.post(f"{api(simulator)}/secrets", timeout=10, json={
        "name": "new db", "secretTemplateId": 6010, "folderId": folder_id,
        "items": [{"slug": "server", "itemValue": "sql1"}, {"fieldName": "Password", "itemValue": "pw"}]})
    assert created.status_code == 200
    secret_id = created.json()["id"]
    values = {i["slug"]: i["itemValue"] for i in get(simulator, client, f"secrets/{secret_id}").json()["items"]}
    assert values["server"] == "sql1" and values["password"] == "pw"
    user_id = next(iter(sim_org.user_map))
    shared = client.post(f"{api(simulator)}/secret-permissions", timeout=10,
                         json={"secretId": secret_id, "userId": user_id, "secretAccessRoleName": "Edit"})
    assert shared.status_code == 200 and shared.json()["secretAccessRoleName"] == "Edit"
    assert shared.json()["groupId"] == sim_org.user_map[user_id].personal_group_id
    summary = get(simulator, client, f"secrets/{secret_id}/summary").json()
    assert summary["inheritsPermissions"] is False
    unknown = client.post(f"{api(simulator)}/secret-permissions", timeout=10,
                          json={"secretId": secret_id, "userId": user_id, "secretAccessRoleName": "Add Secret"})
    assert unknown.status_code == 400 and unknown.json()["errorCode"] == "API_GenericException"
    removed = client.delete(f"{api(simulator)}/secret-permissions/{shared.json()['id']}", timeout=10)
    assert removed.status_code == 200 and shared.json()["id"] not in sim_org.secret_perms


def test_inactive_secrets_need_include_inactive(simulator: SimulatorServer, sim_org: Organization) -> None:
    client = session(simulator)
    secret_id = next(s.id for s in sim_org.secret_map.values() if not s.active)
    assert get(simulator, client, f"secrets/{secret_id}").status_code == 400
    assert get(simulator, client, f"secrets/{secret_id}", includeInactive="true").status_code == 200


def test_each_password_reset_stamps_a_later_password_last_changed(simulator: SimulatorServer,
                                                                  sim_org: Organization) -> None:
    client = session(simulator)
    user_id = sim_org.add_user("pw.rotator", password="First-1!")
    stamps = []
    for password in ("Second-2!", "Third-3!"):
        before = client.get(f"{api(simulator)}/users/{user_id}", timeout=10).json()["passwordLastChanged"]
        reset = client.post(f"{api(simulator)}/users/{user_id}/password-reset", timeout=10,
                            json={"data": {"userId": user_id, "password": password}})
        assert reset.json() == {"success": True}
        after = client.get(f"{api(simulator)}/users/{user_id}", timeout=10).json()["passwordLastChanged"]
        assert after > before
        stamps.append(after)
    assert stamps[0] != stamps[1]
