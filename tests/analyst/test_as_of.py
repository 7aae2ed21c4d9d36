"""The past from the change log: effective_access_at(T) and direct_access_at(T) return the picture of time
T after later runs changed it, and access_gained_last_run tells what the last run added."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import sqlalchemy as sa

from simulator.generator import generate
from simulator.state import Organization
from tests.analyst import queries
from tests.analyst.reference import RANK, effective_paths, strongest_roles
from tests.analyst.staging import History, snapshot_from_organization

T1 = datetime(2024, 6, 1, 10, 0, tzinfo=UTC)
T2 = T1 + timedelta(days=1)


def change_secret_server(org: Organization) -> dict[str, int]:
    """Changes between the two runs, of every kind that moves access; returns the ids touched."""
    perms = org.folder_permissions()
    group_perm = next(p for p in perms if p["userId"] is None and org.members.get(p["groupId"]))
    group_id = group_perm["groupId"]
    leaver = next(iter(org.members[group_id]))
    org.remove_member(group_id, leaver)  # a membership ends
    inheriting = next(f for f in org.folders() if f["inheritPermissions"])
    newcomer = org.add_user("newcomer", enabled=True)
    org.grant_folder_permission(inheriting["id"], user_id=newcomer, folder_access_role="Owner",
                                secret_access_role="Owner")  # the folder breaks inheritance and adds a user
    own = org.secret_permissions()[0]
    org.revoke_secret_permission(own["id"])  # a direct permission is revoked
    org.set_user_enabled(org.users()[-1]["id"], False)
    doomed = next(s for s in org.secrets() if s["inheritsPermissions"])
    org.remove_secret(doomed["id"])
    org.remove_group(next(g["id"] for g in org.groups() if g["id"] not in (group_id, org.everyone_group_id)))
    return {"leaver": leaver, "group": group_id, "newcomer": newcomer, "revoked": own["id"],
            "revoked_secret": own["secretId"], "removed_secret": doomed["id"]}


def test_effective_access_at_returns_the_earlier_picture_after_changes(igi_engine):
    org = generate("s", 42)
    first = snapshot_from_organization(org)
    history = History(igi_engine)
    history.run(first, T1)
    touched = change_secret_server(org)
    second = snapshot_from_organization(org)
    history.run(second, T2)

    before, after = effective_paths(first), effective_paths(second)
    assert before != after
    assert queries.paths(igi_engine) == after  # the view: current staging
    assert queries.paths(igi_engine, T2) == after  # rebuilt from the change log, same rules
    assert queries.paths(igi_engine, T1) == before
    assert queries.paths(igi_engine, T2 - timedelta(microseconds=1)) == before
    assert queries.paths(igi_engine, T1 - timedelta(seconds=1)) == set()

    old_roles = queries.roles(igi_engine, T1)
    assert any(u == touched["leaver"] for u, _ in old_roles)
    assert any(u == touched["newcomer"] for u, _ in queries.roles(igi_engine, T2))
    assert not any(u == touched["newcomer"] for u, _ in old_roles)
    assert any(s == touched["removed_secret"] for _, s in old_roles)
    assert not any(s == touched["removed_secret"] for _, s in queries.roles(igi_engine))


def test_direct_access_at_shows_a_revoked_permission_before_its_revocation(igi_engine):
    org = generate("s", 42)
    history = History(igi_engine)
    history.run(snapshot_from_organization(org), T1)
    touched = change_secret_server(org)
    history.run(snapshot_from_organization(org), T2)

    query = sa.text("SELECT permission_kind, permission_id FROM ss_staging.direct_access_at(:t) "
                    "WHERE secret_id = :s")
    with igi_engine.connect() as conn:
        then = set(conn.execute(query, {"t": T1, "s": touched["revoked_secret"]}).all())
        now = set(conn.execute(query, {"t": None, "s": touched["revoked_secret"]}).all())
        at_t2 = set(conn.execute(query, {"t": T2, "s": touched["revoked_secret"]}).all())
    assert ("secret", touched["revoked"]) in then
    assert ("secret", touched["revoked"]) not in now
    assert now == at_t2 == then - {("secret", touched["revoked"])}


def test_access_gained_last_run_lists_new_and_stronger_roles(igi_engine):
    org = generate("s", 42)
    first = snapshot_from_organization(org)
    history = History(igi_engine)
    history.run(first, T1)
    change_secret_server(org)
    second = snapshot_from_organization(org)
    run_id = history.run(second, T2)

    old, new = strongest_roles(first), strongest_roles(second)
    expected = {(run_id, u, s, role, old.get((u, s))) for (u, s), role in new.items()
                if (u, s) not in old or RANK[role.lower()] > RANK[old[(u, s)].lower()]}
    assert expected
    with igi_engine.connect() as conn:
        got = set(conn.execute(sa.text(
            "SELECT run_id, user_id, secret_id, role, previous_role FROM ss_staging.access_gained_last_run")).all())
    assert got == expected


def test_access_gained_last_run_is_empty_when_the_last_run_changed_nothing(igi_engine):
    org = generate("s", 42)
    history = History(igi_engine)
    history.run(snapshot_from_organization(org), T1)
    with igi_engine.connect() as conn:
        first_run = conn.execute(sa.text("SELECT count(*) FROM ss_staging.access_gained_last_run")).scalar()
    history.run(snapshot_from_organization(org), T2)
    with igi_engine.connect() as conn:
        assert conn.execute(sa.text("SELECT count(*) FROM ss_staging.access_gained_last_run")).scalar() == 0
    assert first_run == len(strongest_roles(snapshot_from_organization(org)))  # the first run adds everything
