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
    folder = next(f for f in org.folders() if f["inheritPermissions"])
    user = org.users()[0]
    granted = client.grant_folder_permission(folder["id"], user_id=user["id"], folder_access_role="Add Secret",
                                             secret_access_role="Edit")
    assert granted["userId"] == user["id"] and granted["folderAccessRoleName"] == "Add Secret"
    truth = {p["id"]: p for p in org.folder_permissions()}
    assert truth[granted["id"]] == granted
    listed = list(client.iter_folder_permissions(folder["id"]))
    assert granted in listed  # inheritance was broken: the folder now carries its own list
    client.revoke_folder_permission(granted["id"])
    assert granted["id"] not in {p["id"] for p in org.folder_permissions()}


def test_secret_permissions_and_summary(client, simulator):
    org = simulator.org
    secret = next(s for s in org.secrets() if s["inheritsPermissions"])
    group = org.groups()[1]
    granted = client.grant_secret_permission(secret["id"], group_id=group["id"], secret_access_role="View")
    assert granted["groupId"] == group["id"] and granted["secretAccessRoleName"] == "View"
    assert granted in list(client.iter_secret_permissions(secret["id"]))
    client.revoke_secret_permission(granted["id"])
    assert granted["id"] not in {p["id"] for p in org.secret_permissions()}
    summary = client.get_secret_summary(secret["id"])
    assert summary["id"] == secret["id"] and summary["name"] == secret["name"]
    assert "items" not in summary  # the search shape, never the secret's field values


def test_exactly_one_principal_is_required(client):
    with pytest.raises(ValueError):
        client.grant_secret_permission(1, secret_access_role="View")
    with pytest.raises(ValueError):
        client.grant_folder_permission(1, user_id=1, group_id=2, folder_access_role="View",
                                       secret_access_role="View")
