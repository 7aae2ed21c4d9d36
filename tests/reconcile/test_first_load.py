"""A first reconciliation into empty staging loads exactly what Secret Server holds; a rerun with no change in
Secret Server writes nothing but its run record."""

from __future__ import annotations

import sqlalchemy as sa

from pipelines.reconcile import run_reconcile
from tests.reconcile.helpers import (
    ENTITY_NAMES,
    changes_of,
    events_of,
    expected_permissions,
    full_dump,
    run_row,
    staging,
    truth,
)


def test_first_load_equals_the_simulators_truth_in_every_entity_and_contract_column(
        igi_engine, ss_client, sim_org):
    summary = run_reconcile(igi_engine, ss_client)

    assert summary.status == "succeeded" and summary.ok, summary.reason()
    expected, loaded = truth(sim_org), staging(igi_engine)
    for name in ENTITY_NAMES:
        assert len(expected[name]) > 0, name
        assert loaded[name] == expected[name], name
        stats = summary.stats[name]
        assert (stats.scanned, stats.added, stats.changed, stats.removed, stats.unchanged, stats.rejected) == (
            len(expected[name]), len(expected[name]), 0, 0, 0, 0), name


def test_first_load_has_disabled_users_inactive_secrets_and_nulls_for_the_apis_minus_one(
        igi_engine, ss_client):
    run_reconcile(igi_engine, ss_client)
    with igi_engine.connect() as conn:
        def one(sql: str) -> int:
            return int(conn.execute(sa.text(sql)).scalar_one())

        assert one("SELECT count(*) FROM ss_staging.users WHERE NOT enabled") > 0
        assert one("SELECT count(*) FROM ss_staging.secrets WHERE NOT active") > 0
        assert one("SELECT count(*) FROM ss_staging.folders WHERE parent_folder_id IS NULL") > 0
        assert one("SELECT count(*) FROM ss_staging.users WHERE domain_id = -1 OR domain_id IS NULL AND "
                   "domain_name IS NOT NULL") == 0
        assert one("SELECT count(*) FROM ss_staging.folders WHERE parent_folder_id = -1 "
                   "OR secret_policy_id = -1") == 0
        # user-level permissions carry the user's personal group id, which is no listed group: not a reject
        assert one("SELECT count(*) FROM ss_staging.folder_permissions p WHERE p.user_id IS NOT NULL AND "
                   "NOT EXISTS (SELECT 1 FROM ss_staging.groups g WHERE g.group_id = p.group_id)") > 0
        assert one("SELECT count(*) FROM ss_staging.rejects") == 0
        first_seen = conn.execute(sa.text(
            "SELECT DISTINCT first_seen_run_id, last_changed_run_id FROM ss_staging.users")).all()
    assert first_seen == [(1, 1)]


def test_first_load_logs_every_row_as_added_with_its_contract_columns(igi_engine, ss_client, sim_org):
    summary = run_reconcile(igi_engine, ss_client)
    changes = changes_of(igi_engine, summary.run_id)
    loaded = staging(igi_engine)
    assert {c["change_type"] for c in changes} == {"added"}
    assert all(c["before"] is None for c in changes)
    for name in ENTITY_NAMES:
        logged = {c["object_key"]: c["after"] for c in changes if c["entity"] == name}
        assert set(logged) == {":".join(map(str, key)) for key in loaded[name]}, name
    user = next(iter(loaded["users"].values()))
    after = next(c["after"] for c in changes if c["entity"] == "users" and c["object_key"] == str(user["user_id"]))
    assert set(after) == set(user)
    assert after["user_name"] == user["user_name"] and after["enabled"] == user["enabled"]
    member = next(c for c in changes if c["entity"] == "group_members")
    assert member["object_key"] == f"{member['after']['group_id']}:{member['after']['user_id']}"


def test_first_load_emits_an_account_create_per_user_and_a_permission_add_per_direct_permission(
        igi_engine, ss_client, sim_org):
    summary = run_reconcile(igi_engine, ss_client)
    events = events_of(igi_engine, summary.run_id)
    users = sim_org.users()

    creates = [e for e in events if e["operation"] == 10]
    disables = [e for e in events if e["operation"] == 6]
    assert len(creates) == len(users)
    assert len(disables) == sum(1 for u in users if not u["enabled"])
    assert {e["state"] for e in events} == {1} and {e["target"] for e in events} == {"SecretServer"}
    adds = {(e["code"], e["functionality_type"], e["functionality"]) for e in events if e["operation"] == 1}
    assert adds == expected_permissions(sim_org)
    assert {e["operation"] for e in events} == {10, 6, 1}
    # creates come first, permission adds after every account event
    assert max(e["event_id"] for e in creates) < min(e["event_id"] for e in events if e["operation"] == 1)
    domain_user = next(u for u in users if u["domainName"])
    create = next(e for e in creates if e["attributes"]["user_id"] == domain_user["id"])
    assert create["code"] == f"{domain_user['domainName']}\\{domain_user['userName']}"
    assert summary.events == {"ACCOUNT_CREATE": len(creates), "ACCOUNT_DISABLE": len(disables),
                              "PERMISSION_ADD": len(adds)}


def test_extraction_asks_permissions_only_where_inheritance_is_broken_and_never_secret_values(
        igi_engine, ss_client, sim_org, simulator):
    run_reconcile(igi_engine, ss_client)
    breaking = [s for s in sim_org.secrets() if not s["inheritsPermissions"]]
    own_folders = [f for f in sim_org.folders() if not f["inheritPermissions"]]
    calls = simulator.calls("GET")
    secret_permission_calls = [c for c in calls if c.path.endswith("/api/v1/secret-permissions")]
    folder_permission_calls = [c for c in calls if c.path.endswith("/api/v1/folder-permissions")]
    assert len(secret_permission_calls) == len(breaking)
    assert len(folder_permission_calls) == len(own_folders)
    assert not [c for c in calls if "/api/v1/secrets/" in c.path]


def test_an_unchanged_rerun_writes_nothing_but_its_run_record(igi_engine, ss_client):
    run_reconcile(igi_engine, ss_client)
    before = full_dump(igi_engine)

    summary = run_reconcile(igi_engine, ss_client)

    assert summary.ok
    assert full_dump(igi_engine) == before
    for name, stats in summary.stats.items():
        assert stats.unchanged == stats.scanned and not (stats.added or stats.changed or stats.removed), name
    assert summary.events == {}
    row = run_row(igi_engine, summary.run_id)
    assert row["status"] == "succeeded" and row["finished_at"] is not None and row["error"] is None
    assert row["stats"]["users"]["unchanged"] == summary.stats["users"].scanned
