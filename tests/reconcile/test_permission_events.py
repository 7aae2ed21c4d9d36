"""A permission's name changes when its group, folder path or secret is renamed, and a removed user loses all of
its permissions: the next run's events are exactly the removes and adds that follow, in event order."""

from __future__ import annotations

from typing import Any

from pipelines.reconcile import run_reconcile
from simulator.state import Organization
from tests.reconcile.helpers import account_code, events_of, permissions_by_user

Permissions = dict[tuple[int, str, str], str]


def _expected(before: Permissions, after: Permissions) -> list[tuple[int, str, str, str]]:
    """(operation, code, functionality_type, functionality): removes, then adds, each by user and name."""
    removes = [(2, before[k], k[1], k[2]) for k in sorted(before.keys() - after.keys())]
    adds = [(1, after[k], k[1], k[2]) for k in sorted(after.keys() - before.keys())]
    return removes + adds


def _seen(events: list[dict[str, Any]]) -> list[tuple[int, str, str, str]]:
    return [(e["operation"], e["code"], e["functionality_type"], e["functionality"]) for e in events]


def _user_with_permissions(org: Organization) -> int:
    """A user holding a group membership, a folder permission and a secret permission of its own."""
    members = {u for _, u in org.group_members()}
    folder_holders = {p["userId"] for p in org.folder_permissions() if p["userId"] is not None}
    secret_holders = {p["userId"] for p in org.secret_permissions() if p["userId"] is not None}
    return min(members & folder_holders & secret_holders)


def test_a_renamed_group_is_a_remove_and_an_add_for_every_member(igi_engine, ss_client, sim_org):
    run_reconcile(igi_engine, ss_client)
    everyone = sim_org.groups()[0]["id"]
    counts: dict[int, int] = {}
    for g, _ in sim_org.group_members():
        counts[g] = counts.get(g, 0) + 1
    group_id = max((g for g in counts if g != everyone), key=lambda g: (counts[g], -g))
    before = permissions_by_user(sim_org)
    sim_org.rename_group(group_id, "Renamed Group")

    summary = run_reconcile(igi_engine, ss_client)

    events = events_of(igi_engine, summary.run_id)
    assert counts[group_id] >= 2 and len(events) == 2 * counts[group_id]
    assert _seen(events) == _expected(before, permissions_by_user(sim_org))
    assert {e["attributes"]["group_id"] for e in events} == {group_id}


def test_a_folder_path_change_renames_the_permissions_below_it(igi_engine, ss_client, sim_org):
    parent = next(f for f in sim_org.folders() if any(c["parentFolderId"] == f["id"] for c in sim_org.folders()))
    child = next(c for c in sim_org.folders() if c["parentFolderId"] == parent["id"])
    holder = next(u["id"] for u in sim_org.users() if u["enabled"])
    sim_org.grant_folder_permission(child["id"], user_id=holder, folder_access_role="Edit", secret_access_role="View")
    run_reconcile(igi_engine, ss_client)
    before = permissions_by_user(sim_org)
    sim_org.rename_folder(parent["id"], "Moved Parent")

    summary = run_reconcile(igi_engine, ss_client)

    events = _seen(events_of(igi_engine, summary.run_id))
    assert events == _expected(before, permissions_by_user(sim_org))
    assert any(op == 1 and "\\Moved Parent\\" in name and code == account_code(
        next(u for u in sim_org.users() if u["id"] == holder)) for op, code, _, name in events)


def test_a_renamed_secret_is_a_remove_and_an_add_for_its_holders(igi_engine, ss_client, sim_org):
    run_reconcile(igi_engine, ss_client)
    secret_id = next(p["secretId"] for p in sim_org.secret_permissions() if p["userId"] is not None)
    before = permissions_by_user(sim_org)
    sim_org.rename_secret(secret_id, "Renamed Secret")

    summary = run_reconcile(igi_engine, ss_client)

    events = _seen(events_of(igi_engine, summary.run_id))
    assert events and events == _expected(before, permissions_by_user(sim_org))
    assert {name.split(":")[1] for _, _, _, name in events} == {str(secret_id)}


def test_a_removed_user_loses_every_permission_before_its_account(igi_engine, ss_client, sim_org):
    run_reconcile(igi_engine, ss_client)
    user_id = _user_with_permissions(sim_org)
    user = next(u for u in sim_org.users() if u["id"] == user_id)
    before = permissions_by_user(sim_org)
    sim_org.remove_user(user_id)

    summary = run_reconcile(igi_engine, ss_client, allow_mass_change=True)

    events = events_of(igi_engine, summary.run_id)
    held = sorted(k for k in before if k[0] == user_id)
    assert {k[1] for k in held} == {"group", "folder", "secret"}
    assert _seen(events) == [(2, account_code(user), t, name) for _, t, name in held] + [
        (11, account_code(user), None, None)]
    assert events[-1]["attributes"]["user_id"] == user_id
