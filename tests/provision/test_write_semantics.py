"""Writes as a real Secret Server takes them, judged by the strict simulator, with staging reconciled first so that
the target events provisioning adds can be checked: role changes, inheritance, creates over existing accounts,
inherited access, account codes, and a reconcile running while provisioning writes."""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from connectors.igi.queue import Operation as Op
from pipelines.provision import ProvisionOptions, ProvisionSummary, run_provisioning
from pipelines.reconcile import extract_entity, run_reconcile
from simulator.state import Organization
from tests.provision.conftest import FAST, event, make_client, rows, writes


@dataclass
class Shop:
    org: Organization
    alice: int
    bob: int
    ops: int
    team: int  # \Team: its own list (Ops View/View, bob Edit/Edit)
    unix: int  # \Team\Unix: inherits from \Team
    own: int  # secret "db-root" in \Team, its own list
    inherited: int  # secret "web-key" in \Team, inherits


def _shop() -> Shop:
    org = Organization()
    org.add_everyone_group()
    corp = org.add_domain("corp.example.com", "CORP")
    alice = org.add_user("alice", "Alice A", email_address="alice@example.com", password="Initial-1")
    bob = org.add_user("bob", "Bob B", email_address="bob@example.com", password="Initial-1")
    org.add_user("legacy\\svc_backup", "Old backup account", password="Initial-1")
    org.add_user("carol", "Carol C", domain_id=corp, email_address="carol@corp.example.com")
    ops = org.add_group("Ops")
    org.add_group("IT Admins", domain_id=corp)
    org.add_member(ops, alice)
    team = org.add_folder("Team", inherit_permissions=False)
    unix = org.add_folder("Unix", team, inherit_permissions=True)
    org.grant_folder_permission(team, group_id=ops, folder_access_role="View", secret_access_role="View")
    org.grant_folder_permission(team, user_id=bob, folder_access_role="Edit", secret_access_role="Edit")
    own = org.add_secret("db-root", team, inherits_permissions=False)
    org.grant_secret_permission(own, group_id=ops, role="View")
    inherited = org.add_secret("web-key", team, inherits_permissions=True)
    return Shop(org, alice, bob, ops, team, unix, own, inherited)


@pytest.fixture
def shop(make_simulator, igi_engine):
    world = _shop()
    server = make_simulator(world.org)
    with make_client(server) as client:
        assert run_reconcile(igi_engine, client).ok
    return world, server


@pytest.fixture
def provision(shop, igi_engine, passwords):
    """The conftest's runner, against this module's simulator."""
    def run(options: ProvisionOptions = FAST) -> ProvisionSummary:
        with make_client(shop[1]) as client:
            return run_provisioning(igi_engine, client, passwords, options)
    return run


def _target_events(engine, after: int = 0) -> list[tuple[str, int, str]]:
    return [(r["code"], r["operation"], r["functionality"]) for r in rows(
        engine, "SELECT code, operation, functionality FROM igi.event_target WHERE event_id > :a ORDER BY event_id",
        a=after)]


def _last_target_event(engine) -> int:
    return rows(engine, "SELECT coalesce(max(event_id), 0) AS n FROM igi.event_target")[0]["n"]


def test_a_role_change_is_one_put_on_the_permission(shop, igi_engine, enqueue, provision):
    world, sim = shop
    sim.clear_log()
    first = enqueue(Op.PERMISSION_ADD, "alice", permission_type="secret", permission_id=world.own,
                    secret_access_role="View")
    change = enqueue(Op.PERMISSION_ADD, "alice", permission_type="secret", permission_id=world.own,
                     secret_access_role="edit")
    provision()
    assert event(igi_engine, first)["trace"] == "granted View on secret db-root"
    assert event(igi_engine, change)["trace"] == "changed the role on secret db-root to Edit (was View)"
    mine = [p for p in world.org.secret_permissions() if p["userId"] == world.alice]
    assert [(p["secretId"], p["secretAccessRoleName"]) for p in mine] == [(world.own, "Edit")]
    assert [m for m, _ in writes(sim)] == ["POST", "PUT"]
    staged = rows(igi_engine, "SELECT secret_access_role FROM ss_staging.secret_permissions "
                              "WHERE user_id = :u AND deleted_at IS NULL", u=world.alice)
    assert staged == [{"secret_access_role": "Edit"}]


def test_a_grant_on_an_inheriting_secret_is_refused_unless_asked_then_breaks_it_and_stages_the_copy(
        shop, igi_engine, enqueue, provision):
    world, sim = shop
    sim.clear_log()
    refused = enqueue(Op.PERMISSION_ADD, "alice", permission_type="secret", permission_id=world.inherited,
                      secret_access_role="View")
    provision()
    assert event(igi_engine, refused)["erc_status"] == "InheritanceNotBroken"
    assert event(igi_engine, refused)["trace"].startswith("secret web-key inherits its permissions from folder \\Team")
    assert writes(sim) == [] and world.org.secret_map[world.inherited].inherits_permissions

    before = _last_target_event(igi_engine)
    granted = enqueue(Op.PERMISSION_ADD, "alice", permission_type="secret", permission_id=world.inherited,
                      secret_access_role="View", attributes={"breakInheritance": "TRUE"})
    provision()
    assert event(igi_engine, granted)["trace"] == ("granted View on secret web-key; inheritance broken: it no "
                                                   "longer follows folder \\Team (2 of its permissions copied onto it)")
    assert not world.org.secret_map[world.inherited].inherits_permissions
    truth = {(p["userId"], p["groupId"] if p["userId"] is None else None, p["secretAccessRoleName"])
             for p in world.org.secret_permissions() if p["secretId"] == world.inherited}
    assert truth == {(world.alice, None, "View"), (world.bob, None, "Edit"), (None, world.ops, "View")}
    # Staging has the copied list at once, as the next reconcile would see it, and the secret no longer inherits.
    staged = rows(igi_engine, "SELECT secret_permission_id FROM ss_staging.secret_permissions "
                              "WHERE secret_id = :s AND deleted_at IS NULL", s=world.inherited)
    assert {r["secret_permission_id"] for r in staged} == {
        p["id"] for p in world.org.secret_permissions() if p["secretId"] == world.inherited}
    assert rows(igi_engine, "SELECT inherits_permissions FROM ss_staging.secrets WHERE secret_id = :s",
                s=world.inherited) == [{"inherits_permissions": False}]
    # IGI learns of bob's new direct permission (a side effect); alice's is its own request.
    assert _target_events(igi_engine, before) == [("bob", 1, f"secret:{world.inherited}:web-key|Edit")]
    with make_client(sim) as client:
        again = run_reconcile(igi_engine, client, dry_run=True)
    assert {n: (s.added, s.changed, s.removed) for n, s in again.stats.items()
            if (s.added, s.changed, s.removed) != (0, 0, 0)} == {}


def test_a_new_account_s_automatic_memberships_reach_igi_as_events(shop, igi_engine, enqueue, provision):
    before = _last_target_event(igi_engine)
    enqueue(Op.ACCOUNT_CREATE, "dave", password="Dave-Pass-1234", attributes={"displayName": "Dave D"})
    provision()
    assert _target_events(igi_engine, before) == [("dave", 1, "group:Everyone")]


def test_revoking_access_that_is_not_the_account_s_own_fails_and_names_its_source(shop, igi_engine, enqueue,
                                                                                   provision):
    world, sim = shop
    sim.clear_log()
    cases = {
        "parent folder": enqueue(Op.PERMISSION_REMOVE, "bob", permission_type="folder", permission_id=world.unix),
        "group": enqueue(Op.PERMISSION_REMOVE, "alice", permission_type="folder", permission_id=world.team),
        "folder of the secret": enqueue(Op.PERMISSION_REMOVE, "bob", permission_type="secret",
                                        permission_id=world.inherited),
        "group on the secret": enqueue(Op.PERMISSION_REMOVE, "alice", permission_type="secret",
                                       permission_id=world.own),
        "none at all": enqueue(Op.PERMISSION_REMOVE, "CORP\\carol", permission_type="secret",
                               permission_id=world.own),
    }
    provision()
    traces = {name: (event(igi_engine, e)["erc_status"], event(igi_engine, e)["trace"]) for name, e in cases.items()}
    assert traces == {
        "parent folder": ("InheritedAccess", "bob has no permission of its own on folder \\Team\\Unix to revoke; its "
                          "access comes from its own permission on folder \\Team (Edit/Edit). Revoke it there"),
        "group": ("InheritedAccess", "alice has no permission of its own on folder \\Team to revoke; its access "
                  "comes from group Ops's permission on this folder. Revoke it there"),
        "folder of the secret": ("InheritedAccess", "bob has no permission of its own on secret web-key to revoke; "
                                 "its access comes from its own permission on this folder (Edit/Edit). Revoke it "
                                 "there"),
        "group on the secret": ("InheritedAccess", "alice has no permission of its own on secret db-root to revoke; "
                                "its access comes from group Ops's permission on the secret. Revoke it there"),
        "none at all": ("Success", "already no permission on secret db-root"),
    }
    assert writes(sim) == []


def test_account_codes_are_read_by_the_domains_secret_server_knows(shop, igi_engine, enqueue, provision):
    world, _ = shop
    local = enqueue(Op.ACCOUNT_DISABLE, "legacy\\svc_backup")  # "legacy" is no domain: a local user name
    domain = enqueue(Op.ACCOUNT_DISABLE, "CORP\\carol")  # the friendly name of corp.example.com
    full = enqueue(Op.ACCOUNT_ENABLE, "corp.example.com\\carol")
    group = enqueue(Op.PERMISSION_ADD, "alice", permission_type="group", permission_name="IT Admins")
    provision()
    assert [event(igi_engine, e)["trace"] for e in (local, domain, full)] == [
        "account disabled", "account disabled", "account enabled"]
    assert not world.org.find_user("legacy\\svc_backup").enabled
    assert (event(igi_engine, group)["erc_status"], event(igi_engine, group)["trace"]) == (
        "UnknownGroup", "no local Secret Server group 'IT Admins'; domain groups of that name: "
                        "corp.example.com\\IT Admins (name one as DOMAIN\\name)")


def test_a_reconcile_whose_extract_predates_a_provisioning_write_neither_reverts_it_nor_reports_it(
        shop, igi_engine, enqueue, provision):
    world, sim = shop
    enqueue(Op.PERMISSION_ADD, "alice", permission_type="secret", permission_id=world.own, secret_access_role="Owner")
    enqueue(Op.ACCOUNT_DISABLE, "bob")
    enqueue(Op.PERMISSION_REMOVE, "alice", permission_type="group", permission_name="Ops")

    def extract_then_provision(client, entity_name, parent_ids):
        snapshot = extract_entity(client, entity_name, parent_ids)
        if entity_name == "secret_permissions":  # the last entity: provisioning writes before the load
            assert provision(FAST).succeeded == 3
        return snapshot

    before = _last_target_event(igi_engine)
    with make_client(sim) as client:
        run = run_reconcile(igi_engine, client, extract=extract_then_provision)
    assert run.ok
    assert {n: (s.added, s.changed, s.removed) for n, s in run.stats.items()
            if (s.added, s.changed, s.removed) != (0, 0, 0)} == {}
    assert _target_events(igi_engine, before) == []  # no false event: IGI asked for these itself
    staged = rows(igi_engine, "SELECT u.enabled, (SELECT count(*) FROM ss_staging.group_members m WHERE m.user_id = "
                              ":a AND m.group_id = :g AND m.deleted_at IS NULL) AS member, (SELECT count(*) FROM "
                              "ss_staging.secret_permissions p WHERE p.user_id = :a AND p.deleted_at IS NULL) AS perm "
                              "FROM ss_staging.users u WHERE u.user_id = :b", a=world.alice, b=world.bob, g=world.ops)
    assert staged == [{"enabled": False, "member": 0, "perm": 1}]
    # The next reconcile sees what Secret Server says, and staging already agrees.
    with make_client(sim) as client:
        again = run_reconcile(igi_engine, client, dry_run=True)
    assert {n: (s.added, s.changed, s.removed) for n, s in again.stats.items()
            if (s.added, s.changed, s.removed) != (0, 0, 0)} == {}
