"""After Secret Server changes (new, renamed, disabled, enabled and removed users; membership and permission
changes), the next run records exactly those changes in staging, the change log and igi.event_target."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa

from pipelines.reconcile import run_reconcile
from simulator.state import Organization
from tests.reconcile.helpers import (
    COLUMNS,
    ENTITY_NAMES,
    KEYS,
    account_code,
    changes_of,
    events_of,
    expected_changes,
    permissions_by_user,
    run_row,
    staging,
    truth,
)


def _mutate(org: Organization) -> dict[str, Any]:
    """A mix of the changes an administrator makes in a day; returns the objects involved."""
    users = [u for u in org.users() if not u["isApplicationAccount"]]
    enabled = [u for u in users if u["enabled"]]
    disabled = [u for u in users if not u["enabled"]]
    renamed, to_disable, removed, member = enabled[0], enabled[1], enabled[2], enabled[3]
    to_enable = disabled[0]
    everyone = next(g["id"] for g in org.groups() if g["name"] == "Everyone")
    other_groups = [g["id"] for g in org.groups() if g["id"] != everyone]
    join = next(g for g in other_groups if not org.is_member(g, member["id"]))
    pairs = [(g, u) for g, u in org.group_members()
             if g != everyone and u not in (renamed["id"], to_disable["id"], removed["id"], member["id"])]
    leave = pairs[0]
    own_folder = next(f["id"] for f in org.folders() if not f["inheritPermissions"] and f["parentFolderId"] != -1)
    breaking_secret = next(s["id"] for s in org.secrets() if not s["inheritsPermissions"])
    user_folder_perm = next(p for p in org.folder_permissions() if p["userId"] not in (None, removed["id"]))
    group_folder = next(f["id"] for f in org.folders() if not f["inheritPermissions"] and f["id"] != own_folder)

    new_user = org.add_user("zara.new", display_name="Zara New", domain_id=1)
    org.rename_user(renamed["id"], "renamed.person")
    org.set_user_enabled(to_disable["id"], False)
    org.set_user_enabled(to_enable["id"], True)
    org.remove_user(removed["id"])
    org.add_member(join, member["id"])
    org.remove_member(*leave)
    org.grant_folder_permission(own_folder, user_id=member["id"], folder_access_role="Edit",
                                secret_access_role="View")
    org.revoke_folder_permission(user_folder_perm["id"])
    org.grant_secret_permission(breaking_secret, user_id=member["id"], role="Edit")
    org.grant_folder_permission(group_folder, group_id=other_groups[-1], folder_access_role="View",
                                secret_access_role="List")
    return {"new_user": new_user, "renamed": renamed, "disabled": to_disable, "enabled": to_enable,
            "removed": removed, "member": member}


def test_second_run_records_exactly_the_changes_in_staging_change_log_and_igi_events(
        igi_engine, ss_client, sim_org):
    first = run_reconcile(igi_engine, ss_client)
    truth_before, permissions_before = truth(sim_org), permissions_by_user(sim_org)
    users_before = {u["id"]: u for u in sim_org.users()}
    touched = _mutate(sim_org)
    truth_after, permissions_after = truth(sim_org), permissions_by_user(sim_org)

    second = run_reconcile(igi_engine, ss_client)

    assert second.ok, second.reason()
    # staging holds the new truth, and the removed rows are kept with deleted_at
    assert staging(igi_engine) == truth_after
    everything = staging(igi_engine, current=False)
    for name in ENTITY_NAMES:
        assert everything[name].keys() == truth_before[name].keys() | truth_after[name].keys(), name
    # the change log has exactly the differences between the two truths, with before and after values
    wanted = expected_changes(truth_before, truth_after)
    changes = changes_of(igi_engine, second.run_id)
    assert {(c["entity"], c["object_key"], c["change_type"]) for c in changes} == wanted
    assert len(changes) == len(wanted)
    renamed = next(c for c in changes if c["entity"] == "users" and c["object_key"] == str(touched["renamed"]["id"]))
    assert (renamed["before"]["user_name"], renamed["after"]["user_name"]) == (
        touched["renamed"]["userName"], "renamed.person")
    removed = next(c for c in changes if c["entity"] == "users" and c["change_type"] == "removed")
    assert removed["after"] is None and removed["before"]["user_id"] == touched["removed"]["id"]
    for name in ENTITY_NAMES:
        stats = second.stats[name]
        kinds = [t for e, _, t in wanted if e == name]
        assert (stats.added, stats.changed, stats.removed) == (
            kinds.count("added"), kinds.count("changed"), kinds.count("removed")), name
        assert stats.unchanged == len(truth_after[name]) - stats.added - stats.changed, name

    # bookkeeping
    with igi_engine.connect() as conn:
        row = conn.execute(sa.text("SELECT * FROM ss_staging.users WHERE user_id = :u"),
                           {"u": touched["removed"]["id"]}).mappings().one()
        assert row["deleted_at"] is not None and row["last_changed_run_id"] == second.run_id
        assert row["first_seen_run_id"] == first.run_id
        new = conn.execute(sa.text("SELECT * FROM ss_staging.users WHERE user_id = :u"),
                           {"u": touched["new_user"]}).mappings().one()
        assert new["first_seen_run_id"] == second.run_id and new["deleted_at"] is None
        touched_rows = conn.execute(sa.text(
            "SELECT count(*) FROM ss_staging.users WHERE last_changed_run_id = :r"), {"r": second.run_id}).scalar()
        assert touched_rows == len([w for w in wanted if w[0] == "users"])

    # IGI events: accounts
    events = events_of(igi_engine, second.run_id)
    users_after = {u["id"]: u for u in sim_org.users()}
    account_events = {(e["operation"], e["code"]) for e in events if e["functionality"] is None}
    assert account_events == {
        (10, account_code(users_after[touched["new_user"]])),
        (9, account_code(users_before[touched["renamed"]["id"]])),
        (6, account_code(users_after[touched["disabled"]["id"]])),
        (7, account_code(users_after[touched["enabled"]["id"]])),
        (11, account_code(users_before[touched["removed"]["id"]])),
    }
    modify = next(e for e in events if e["operation"] == 9)
    assert modify["attributes"]["code"] == account_code(users_after[touched["renamed"]["id"]])
    assert modify["attributes"]["previous"] == {"user_name": touched["renamed"]["userName"]}
    # IGI events: permissions, keyed by user so that a rename is no permission change
    removes = {(e["code"], e["functionality_type"], e["functionality"]) for e in events if e["operation"] == 2}
    adds = {(e["code"], e["functionality_type"], e["functionality"]) for e in events if e["operation"] == 1}
    gone = permissions_before.keys() - permissions_after.keys()
    new = permissions_after.keys() - permissions_before.keys()
    assert removes == {(permissions_before[k], k[1], k[2]) for k in gone}
    assert adds == {(permissions_after[k], k[1], k[2]) for k in new}
    assert len(events) == len(account_events) + len(removes) + len(adds)
    # order: create, modify, enable/disable, permission removes, adds, account removes
    operations = [e["operation"] for e in events]
    phase = {10: 0, 9: 1, 6: 2, 7: 2, 2: 3, 1: 4, 11: 5}
    assert [phase[o] for o in operations] == sorted(phase[o] for o in operations)
    assert run_row(igi_engine, second.run_id)["events"] == second.events


def test_group_level_folder_and_secret_permissions_are_staged_but_raise_no_igi_event(
        igi_engine, ss_client, sim_org):
    run_reconcile(igi_engine, ss_client)
    folder = next(f for f in sim_org.folders() if not f["inheritPermissions"])
    secret = next(s for s in sim_org.secrets() if not s["inheritsPermissions"])
    group = sim_org.groups()[-1]["id"]
    folder_permission = sim_org.grant_folder_permission(folder["id"], group_id=group, folder_access_role="Owner",
                                                        secret_access_role="Owner")
    secret_permission = sim_org.grant_secret_permission(secret["id"], group_id=group, role="Owner")

    summary = run_reconcile(igi_engine, ss_client)

    assert summary.stats["folder_permissions"].added + summary.stats["folder_permissions"].changed == 1
    assert summary.stats["secret_permissions"].added + summary.stats["secret_permissions"].changed == 1
    keys = {(c["entity"], c["object_key"]) for c in changes_of(igi_engine, summary.run_id)}
    assert {("folder_permissions", str(folder_permission)), ("secret_permissions", str(secret_permission))} <= keys
    assert events_of(igi_engine, summary.run_id) == []


def test_a_role_change_and_a_renamed_group_are_a_permission_remove_and_add(igi_engine, ss_client, sim_org):
    run_reconcile(igi_engine, ss_client)
    permission = next(p for p in sim_org.folder_permissions() if p["userId"] is not None)
    group_id, member_id = next((g, u) for g, u in sim_org.group_members()
                               if sim_org.groups()[0]["id"] != g)
    group = next(g for g in sim_org.groups() if g["id"] == group_id)
    before = permissions_by_user(sim_org)
    sim_org.grant_folder_permission(permission["folderId"], user_id=permission["userId"], folder_access_role="Owner",
                                    secret_access_role="Owner")
    sim_org.rename_group(group_id, "Renamed Group")
    after = permissions_by_user(sim_org)

    summary = run_reconcile(igi_engine, ss_client)

    events = events_of(igi_engine, summary.run_id)
    assert {(e["operation"], e["functionality"]) for e in events} == (
        {(2, k[2]) for k in before.keys() - after.keys()} | {(1, k[2]) for k in after.keys() - before.keys()})
    assert (2, f"group:{group['name']}") in {(e["operation"], e["functionality"]) for e in events}
    assert member_id in {e["attributes"]["user_id"] for e in events}


def test_a_returning_object_is_revived_as_added_with_its_removed_row_as_before(igi_engine, ss_client, sim_org):
    run_reconcile(igi_engine, ss_client)
    group_id, user_id = next((g, u) for g, u in sim_org.group_members() if g != sim_org.groups()[0]["id"])
    sim_org.remove_member(group_id, user_id)
    removal = run_reconcile(igi_engine, ss_client)
    sim_org.add_member(group_id, user_id)

    revival = run_reconcile(igi_engine, ss_client)

    key = f"{group_id}:{user_id}"
    assert [(c["change_type"], c["before"], c["after"]) for c in changes_of(igi_engine, removal.run_id)
            if c["object_key"] == key] == [("removed", {"group_id": group_id, "user_id": user_id}, None)]
    assert [(c["change_type"], c["before"], c["after"]) for c in changes_of(igi_engine, revival.run_id)
            if c["entity"] == "group_members"] == [
        ("added", {"group_id": group_id, "user_id": user_id}, {"group_id": group_id, "user_id": user_id})]
    assert revival.stats["group_members"].added == 1
    with igi_engine.connect() as conn:
        row = conn.execute(sa.text("SELECT * FROM ss_staging.group_members WHERE group_id = :g AND user_id = :u"),
                           {"g": group_id, "u": user_id}).mappings().one()
    assert row["deleted_at"] is None and row["last_changed_run_id"] == revival.run_id
    assert row["first_seen_run_id"] == 1
    assert staging(igi_engine) == truth(sim_org)


def test_replaying_the_change_log_rebuilds_staging(igi_engine, ss_client, sim_org):
    run_reconcile(igi_engine, ss_client)
    _mutate(sim_org)
    run_reconcile(igi_engine, ss_client)
    enabled = [u for u in sim_org.users() if u["enabled"]]
    sim_org.update_user(enabled[5]["id"], display_name="Changed Display", email_address="changed@example.com")
    run_reconcile(igi_engine, ss_client)

    replayed: dict[str, dict[str, Any]] = {name: {} for name in ENTITY_NAMES}
    with igi_engine.connect() as conn:
        log = conn.execute(sa.text(
            "SELECT entity, object_key, change_type, after FROM ss_staging.change_log ORDER BY change_id")).all()
    for entity, key, change, after in log:
        if change == "removed":
            replayed[entity].pop(key, None)
        else:
            replayed[entity][key] = after
    with igi_engine.connect() as conn:
        for name in ENTITY_NAMES:
            pairs = ", ".join(f"'{c}', {c}" for c in COLUMNS[name])
            rows = conn.execute(sa.text(
                f"SELECT jsonb_build_object({pairs}) FROM ss_staging.{name} WHERE deleted_at IS NULL")).scalars()
            rebuilt = {":".join(str(row[k]) for k in KEYS[name]): row for row in rows}
            assert _instants(replayed[name]) == _instants(rebuilt), name


def _instants(rows: dict[str, dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """Timestamps compared as instants, whatever time zone the session wrote them in."""

    def value(v: Any) -> Any:
        if isinstance(v, str) and len(v) >= 19 and v[4] == "-" and v[10] == "T":
            return datetime.fromisoformat(v)
        return v

    return {k: {c: value(v) for c, v in row.items()} for k, row in rows.items()}
