"""Each IGI operation, end to end: Secret Server changed, the request final, staging updated, change logged."""

from __future__ import annotations

from connectors.igi.queue import Operation as Op
from tests.provision.conftest import event, rows, writes


def test_account_create_creates_the_user_and_stages_it(sim, world, igi_engine, enqueue, provision):
    eid = enqueue(Op.ACCOUNT_CREATE, "bob", password="S3cure-Pass!",
                  attributes={"displayName": "Bob B", "emailAddress": "bob@example.com"})
    summary = provision()
    assert (summary.processed, summary.succeeded) == (1, 1)
    bob = world.org.find_user("bob")
    assert bob is not None and bob.display_name == "Bob B" and bob.email_address == "bob@example.com"
    assert world.org.check_password(bob.id, "S3cure-Pass!")
    row = event(igi_engine, eid)
    assert (row["state"], row["erc_status"], row["trace"]) == (2, "Success", "account created")
    assert row["password"] is None and row["processed_at"] is not None
    staged = rows(igi_engine, "SELECT * FROM ss_staging.users WHERE user_id = :u", u=bob.id)
    assert staged[0]["user_name"] == "bob" and staged[0]["enabled"] and staged[0]["deleted_at"] is None
    log = rows(igi_engine, "SELECT * FROM ss_staging.change_log WHERE event_id = :e", e=eid)
    assert [(c["entity"], c["change_type"], c["run_id"]) for c in log] == [("users", "added", None)]


def test_create_over_an_existing_account_is_refused_without_a_call(sim, world, enqueue, provision, igi_engine):
    # Even with the same attributes: IGI asked for a new account, and this one's password and state are not
    # what it asked for. Nothing is taken over, and the trace says so.
    eid = enqueue(Op.ACCOUNT_CREATE, "alice", password="whatever-1",
                  attributes={"displayName": "Alice A", "emailAddress": "alice@example.com", "enabled": "false"})
    provision()
    row = event(igi_engine, eid)
    assert (row["state"], row["erc_status"]) == (3, "AccountExists")
    assert row["trace"].startswith(f"account 'alice' already exists in Secret Server (user id {world.alice}); "
                                   "nothing was changed")
    assert writes(sim) == []
    assert world.org.check_password(world.alice, "Initial-1") and world.org.user_map[world.alice].enabled


def test_create_of_an_existing_different_account_fails(sim, enqueue, provision, igi_engine):
    eid = enqueue(Op.ACCOUNT_CREATE, "alice", password="whatever-1", attributes={"displayName": "Someone Else"})
    provision()
    row = event(igi_engine, eid)
    assert (row["state"], row["erc_status"]) == (3, "AccountExists") and row["password"] is None
    assert writes(sim) == []


def test_password_change(sim, world, enqueue, provision, igi_engine):
    eid = enqueue(Op.ACCOUNT_PWDCHANGE, "alice", password="N3w-Passw0rd")
    provision()
    assert world.org.check_password(world.alice, "N3w-Passw0rd")
    row = event(igi_engine, eid)
    assert (row["state"], row["trace"], row["password"], row["checkpoint"]) == (2, "password changed", None, None)
    assert writes(sim) == [("POST", f"/SecretServer/api/v1/users/{world.alice}/password-reset")]


def test_modify_changes_only_what_differs(sim, world, enqueue, provision, igi_engine):
    eid = enqueue(Op.ACCOUNT_MODIFY, "ALICE", attributes={"displayName": "Alice Adams",
                                                          "emailAddress": "alice@example.com"})
    again = enqueue(Op.ACCOUNT_MODIFY, "alice", attributes={"firstName": "Alice", "lastName": "Adams"})
    provision()
    assert world.org.user_map[world.alice].display_name == "Alice Adams"
    assert event(igi_engine, eid)["trace"] == "modified displayName"
    assert event(igi_engine, again)["trace"] == "account already has these attributes"
    assert len(writes(sim)) == 1
    staged = rows(igi_engine, "SELECT display_name FROM ss_staging.users WHERE user_id = :u", u=world.alice)
    assert staged == [{"display_name": "Alice Adams"}]


def test_suspend_and_restore(sim, world, enqueue, provision, igi_engine):
    off = enqueue(Op.ACCOUNT_DISABLE, "alice")
    off_again = enqueue(Op.ACCOUNT_DISABLE, "alice")
    provision()
    assert world.org.user_map[world.alice].enabled is False
    assert event(igi_engine, off)["trace"] == "account disabled"
    assert event(igi_engine, off_again)["trace"] == "account already disabled"
    assert rows(igi_engine, "SELECT enabled FROM ss_staging.users") == [{"enabled": False}]
    on = enqueue(Op.ACCOUNT_ENABLE, "alice")
    provision()
    assert world.org.user_map[world.alice].enabled is True
    assert event(igi_engine, on)["state"] == 2
    assert rows(igi_engine, "SELECT enabled FROM ss_staging.users") == [{"enabled": True}]
    changes = rows(igi_engine, "SELECT change_type, after->>'enabled' AS enabled FROM ss_staging.change_log "
                               "ORDER BY change_id")
    assert changes == [{"change_type": "added", "enabled": "false"}, {"change_type": "changed", "enabled": "true"}]
    assert len(writes(sim)) == 2


def test_group_membership_add_and_remove(sim, world, enqueue, provision, igi_engine):
    add = enqueue(Op.PERMISSION_ADD, "alice", permission_type="group", permission_name="Ops")
    add_again = enqueue(Op.PERMISSION_ADD, "alice", permission_type="group", permission_id=world.ops)
    provision()
    assert world.org.is_member(world.ops, world.alice)
    assert event(igi_engine, add)["trace"] == "added to group Ops"
    assert event(igi_engine, add_again)["trace"] == "already a member of group Ops"
    assert rows(igi_engine, "SELECT group_id, user_id, deleted_at FROM ss_staging.group_members") == [
        {"group_id": world.ops, "user_id": world.alice, "deleted_at": None}]
    remove = enqueue(Op.PERMISSION_REMOVE, "alice", permission_type="group", permission_name="Ops")
    provision()
    assert not world.org.is_member(world.ops, world.alice)
    assert event(igi_engine, remove)["trace"] == "removed from group Ops"
    staged = rows(igi_engine, "SELECT deleted_at FROM ss_staging.group_members")
    assert staged[0]["deleted_at"] is not None
    assert [m for m, _ in writes(sim)] == ["POST", "DELETE"]


def test_folder_permission_on_an_inheriting_folder_breaks_inheritance_only_when_asked(sim, world, enqueue, provision,
                                                                                      igi_engine):
    grant = dict(permission_type="folder", permission_name="\\Team\\Unix", folder_access_role="Edit",
                 secret_access_role="View")
    refused = enqueue(Op.PERMISSION_ADD, "alice", **grant)
    provision()
    row = event(igi_engine, refused)
    assert (row["state"], row["erc_status"]) == (3, "InheritanceNotBroken")
    assert row["trace"].startswith("folder \\Team\\Unix inherits its permissions from folder \\Team: granting here "
                                   "would break inheritance")
    assert writes(sim) == [] and world.org.folder_map[world.unix].inherit_permissions

    eid = enqueue(Op.PERMISSION_ADD, "alice", **grant, attributes={"breakInheritance": "yes"})
    provision()
    perms = [p for p in world.org.folder_permissions() if p["folderId"] == world.unix]
    assert {(p["userId"], p["folderAccessRoleName"], p["secretAccessRoleName"]) for p in perms} == {
        (world.alice, "Edit", "View"), (None, "View", "View")}  # alice's, and Ops' copied from \Team
    assert event(igi_engine, eid)["trace"] == ("granted Edit/View on folder \\Team\\Unix; inheritance broken: it no "
                                               "longer follows folder \\Team (1 of its permissions copied onto it)")
    staged = rows(igi_engine, "SELECT folder_permission_id, user_id, folder_access_role FROM "
                              "ss_staging.folder_permissions WHERE deleted_at IS NULL ORDER BY 1")
    assert {s["folder_permission_id"] for s in staged} == {p["id"] for p in perms}


def test_folder_permission_grant_again_change_role_and_revoke(sim, world, enqueue, provision, igi_engine):
    grant = dict(permission_type="folder", permission_id=world.team, folder_access_role="View",
                 secret_access_role="List")
    first = enqueue(Op.PERMISSION_ADD, "alice", **grant)
    second = enqueue(Op.PERMISSION_ADD, "alice", **grant)
    upgrade = enqueue(Op.PERMISSION_ADD, "alice", **{**grant, "folder_access_role": "Owner"})
    revoke = enqueue(Op.PERMISSION_REMOVE, "alice", permission_type="folder", permission_id=world.team)
    revoke_again = enqueue(Op.PERMISSION_REMOVE, "alice", permission_type="folder", permission_id=world.team)
    provision()
    traces = [event(igi_engine, e)["trace"] for e in (first, second, upgrade, revoke, revoke_again)]
    assert traces == ["granted View/List on folder \\Team", "already granted View/List on folder \\Team",
                      "changed the role on folder \\Team to Owner/List (was View/List)",
                      "revoked permission on folder \\Team",
                      "already no permission on folder \\Team"]
    assert [p for p in world.org.folder_permissions() if p["userId"] == world.alice] == []
    staged = rows(igi_engine, "SELECT user_id, deleted_at FROM ss_staging.folder_permissions WHERE user_id = :u",
                  u=world.alice)
    assert len(staged) == 1 and staged[0]["deleted_at"] is not None
    assert [m for m, _ in writes(sim)] == ["POST", "PUT", "DELETE"]


def test_secret_permission_grant_and_revoke(sim, world, enqueue, provision, igi_engine):
    grant = enqueue(Op.PERMISSION_ADD, "alice", permission_type="secret", permission_id=world.secret,
                    secret_access_role="Edit")
    provision()
    assert event(igi_engine, grant)["trace"] == "granted Edit on secret db-root"
    mine = [p for p in world.org.secret_permissions() if p["userId"] == world.alice]
    assert [(p["secretId"], p["secretAccessRoleName"]) for p in mine] == [(world.secret, "Edit")]
    staged = rows(igi_engine, "SELECT secret_permission_id, secret_access_role FROM ss_staging.secret_permissions "
                              "WHERE deleted_at IS NULL")
    assert staged == [{"secret_permission_id": mine[0]["id"], "secret_access_role": "Edit"}]
    revoke = enqueue(Op.PERMISSION_REMOVE, "alice", permission_type="secret", permission_id=world.secret)
    provision()
    assert event(igi_engine, revoke)["trace"] == "revoked permission on secret db-root"
    assert [p for p in world.org.secret_permissions() if p["userId"] == world.alice] == []
    assert rows(igi_engine, "SELECT count(*) AS n FROM ss_staging.secret_permissions WHERE deleted_at IS NULL") == [
        {"n": 0}]
