"""Provisioning writes and single-object reads against the simulator; each checked against its truth."""

from __future__ import annotations

import pytest

from connectors.secret_server import ApiError
from tests.connector.helpers import connect


@pytest.fixture
def client(simulator):
    with connect(simulator) as c:
        yield c


def test_connection_test_reports_version_and_health(client):
    report = client.test_connection()
    assert report["version"] == "10.9.000033" and report["healthy"] is True
    assert report["read_only_mode"] is False and report["database_mismatch"] is False


def test_user_lifecycle(client, simulator):
    org = simulator.org
    created = client.create_user("new.hire", "Initial-Pa55!", display_name="New Hire",
                                 email_address="new.hire@example.com")
    uid = created["id"]
    assert client.find_user("NEW.HIRE")["id"] == uid  # case-insensitive, local by default
    assert client.find_user("new.hire", domain="corp.example.com") is None
    assert client.get_user(uid)["displayName"] == "New Hire"
    assert org.check_password(uid, "Initial-Pa55!")

    updated = client.update_user(uid, displayName="New Hire (Ops)", emailAddress="ops@example.com")
    assert updated["displayName"] == "New Hire (Ops)"
    client.set_user_enabled(uid, False)
    assert next(u for u in org.users() if u["id"] == uid)["enabled"] is False
    assert client.find_user("new.hire")["enabled"] is False  # disabled users are still found
    client.set_user_enabled(uid, True)
    client.reset_password(uid, "Rotated-Pa55!")
    assert org.check_password(uid, "Rotated-Pa55!")
    assert client.get_user(10_000_000) is None


def test_find_user_by_domain_among_repeated_names(client, simulator):
    org = simulator.org
    domain_user = next(u for u in org.users() if u["domainName"])
    found = client.find_user(domain_user["userName"], domain=domain_user["domainName"].upper())
    assert found is not None and found["id"] == domain_user["id"]
    by_id = client.find_user(domain_user["userName"], domain=domain_user["domainId"])
    assert by_id is not None and by_id["id"] == domain_user["id"]


def test_group_membership(client, simulator):
    org = simulator.org
    group = next(g for g in org.groups() if g["name"] != "Everyone")
    assert client.find_group(group["name"].lower(), domain=group["domainName"])["id"] == group["id"]
    assert client.find_group(group["name"]) is None  # no local group of that name
    assert client.find_group("everyone")["id"] == org.groups()[0]["id"]
    outsider = next(u["id"] for u in org.users() if not org.is_member(group["id"], u["id"]))
    added = client.add_group_member(group["id"], outsider)
    assert added["userId"] == outsider and org.is_member(group["id"], outsider)
    assert group["id"] in {g["groupId"] for g in client.iter_user_groups(outsider)}
    with pytest.raises(ApiError) as again:
        client.add_group_member(group["id"], outsider)
    assert again.value.error_code == "API_UserAlreadyInGroup"
    client.remove_group_member(group["id"], outsider)
    assert not org.is_member(group["id"], outsider)


def test_folder_permissions_with_inheritance(client, simulator):
    org = simulator.org
    folder = next(f for f in org.folders() if f["inheritPermissions"] and f["parentFolderId"] != -1)
    user = org.users()[0]
    inherited = org.inherited_folder_permissions(folder["id"])
    with pytest.raises(ApiError) as refused:  # breaking inheritance is the caller's decision
        client.grant_folder_permission(folder["id"], user_id=user["id"], folder_access_role="Add Secret",
                                       secret_access_role="Edit")
    assert refused.value.error_code == "API_PermissionsAreInherited"
    assert next(f for f in org.folders() if f["id"] == folder["id"])["inheritPermissions"] is True
    granted = client.grant_folder_permission(folder["id"], user_id=user["id"], folder_access_role="Add Secret",
                                             secret_access_role="Edit", break_inheritance=True)
    assert granted["userId"] == user["id"] and granted["folderAccessRoleName"] == "Add Secret"
    truth = {p["id"]: p for p in org.folder_permissions()}
    assert truth[granted["id"]] == granted
    listed = list(client.iter_folder_permissions(folder["id"]))
    assert granted in listed  # inheritance was broken: the folder now carries its own list, copied first
    assert len(listed) == len(inherited) + 1
    client.revoke_folder_permission(granted["id"])
    assert granted["id"] not in {p["id"] for p in org.folder_permissions()}
    assert simulator.calls("DELETE", "/api/v1/folder-permissions/")[-1].query == {}  # no breakInheritance


def test_a_folder_role_change_updates_the_one_permission(client, simulator):
    org = simulator.org
    folder = next(f for f in org.folders() if not f["inheritPermissions"])
    user = next(u for u in org.users() if not any(p["userId"] == u["id"] for p in org.folder_permissions()))
    granted = client.grant_folder_permission(folder["id"], user_id=user["id"], folder_access_role="View",
                                             secret_access_role="List")
    with pytest.raises(ApiError) as again:  # a second create is refused, not merged
        client.grant_folder_permission(folder["id"], user_id=user["id"], folder_access_role="Edit",
                                       secret_access_role="View")
    assert again.value.error_code == "API_DuplicatePermission"
    updated = client.update_folder_permission(granted["id"], folder_access_role="Edit", secret_access_role="View",
                                              folder_id=folder["id"])
    assert (updated["id"], updated["folderAccessRoleName"], updated["secretAccessRoleName"]) == \
        (granted["id"], "Edit", "View")
    kept = client.update_folder_permission(granted["id"], folder_access_role="Owner")  # secret role kept
    assert (kept["folderAccessRoleName"], kept["secretAccessRoleName"]) == ("Owner", "View")
    mine = [p for p in org.folder_permissions() if p["folderId"] == folder["id"] and p["userId"] == user["id"]]
    assert mine == [kept]
    with pytest.raises(ApiError) as unknown:
        client.update_folder_permission(10_000_000, folder_access_role="View", folder_id=folder["id"])
    assert unknown.value.error_code == "API_AccessDenied"


def test_secret_permissions_and_summary(client, simulator):
    org = simulator.org
    secret = next(s for s in org.secrets() if s["inheritsPermissions"] and org.inherited_secret_permissions(s["id"]))
    copied = org.inherited_secret_permissions(secret["id"])
    group_id = org.add_group("Secret sharers")
    granted = client.grant_secret_permission(secret["id"], group_id=group_id, secret_access_role="View")
    assert granted["groupId"] == group_id and granted["secretAccessRoleName"] == "View"
    listed = list(client.iter_secret_permissions(secret["id"]))
    assert granted in listed and len(listed) == len(copied) + 1  # the folder's list was copied first
    assert client.get_secret_summary(secret["id"])["inheritsPermissions"] is False
    client.revoke_secret_permission(granted["id"])
    assert granted["id"] not in {p["id"] for p in org.secret_permissions()}
    summary = client.get_secret_summary(secret["id"])
    assert summary["id"] == secret["id"] and summary["name"] == secret["name"]
    assert "items" not in summary  # the search shape, never the secret's field values


def test_a_secret_role_change_updates_the_one_permission(client, simulator):
    org = simulator.org
    secret = next(s for s in org.secrets() if not s["inheritsPermissions"])
    group_id = org.add_group("Secret role changers")
    granted = client.grant_secret_permission(secret["id"], group_id=group_id, secret_access_role="List")
    with pytest.raises(ApiError) as again:
        client.grant_secret_permission(secret["id"], group_id=group_id, secret_access_role="Edit")
    assert again.value.error_code == "API_DuplicatePermission"
    updated = client.update_secret_permission(granted["id"], secret_access_role="Edit")
    assert (updated["id"], updated["secretAccessRoleName"]) == (granted["id"], "Edit")
    assert [p for p in org.secret_permissions() if p["secretId"] == secret["id"] and p["groupId"] == group_id] \
        == [updated]
    with pytest.raises(ApiError) as wrong_secret:
        client.update_secret_permission(granted["id"], secret_access_role="View", secret_id=secret["id"] + 1)
    assert wrong_secret.value.status == 400 and org.secret_perms[granted["id"]].role == "Edit"


def test_exactly_one_principal_is_required(client):
    with pytest.raises(ValueError):
        client.grant_secret_permission(1, secret_access_role="View")
    with pytest.raises(ValueError):
        client.grant_folder_permission(1, user_id=1, group_id=2, folder_access_role="View",
                                       secret_access_role="View")
