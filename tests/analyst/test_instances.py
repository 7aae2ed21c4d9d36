"""Several Secret Server instances in one database: two organizations whose ids collide (the simulator's scale s
with two seeds: user 1, secret 1, folder 1 ... exist in both, granted differently) written as the instances "prod"
and "dr". Every analyst view and function answers per instance and nothing of one meets the other's: a join on
the ids alone would show as extra or wrong rows against the reference, which computes each instance on its own."""

from __future__ import annotations

from collections import defaultdict
from datetime import UTC, datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from simulator.generator import generate
from tests.analyst import queries
from tests.analyst.reference import (
    RANK,
    effective_paths_per_instance,
    folder_owners,
    orphan_user_ids,
    permission_folder,
    strongest_roles,
    unreachable_secret_ids,
)
from tests.analyst.staging import TABLES, History, Snapshot, load_snapshot, snapshot_from_organization
from tests.analyst.test_as_of import change_secret_server

PROD, DR = "prod", "dr"
T1 = datetime(2024, 6, 1, 10, 0, tzinfo=UTC)
HOUR = timedelta(hours=1)
T2 = T1 + timedelta(days=1)


def two_instances() -> dict[str, Snapshot]:
    return {PROD: snapshot_from_organization(generate("s", 42)), DR: snapshot_from_organization(generate("s", 7))}


def load_both(engine: Engine) -> dict[str, Snapshot]:
    data = two_instances()
    for instance, snapshot in data.items():
        load_snapshot(engine, snapshot, instance)
    return data


def rows(engine: Engine, sql: str, **values: Any) -> set[tuple[Any, ...]]:
    with engine.connect() as conn:
        return {tuple(r) for r in conn.execute(sa.text(sql), values)}


def test_effective_access_holds_each_instance_s_own_paths(igi_engine):
    data = load_both(igi_engine)
    expected = effective_paths_per_instance(data)
    assert expected[PROD] != expected[DR]
    assert queries.paths_per_instance(igi_engine) == expected
    with igi_engine.connect() as conn:
        assert queries.differences_from_the_rules(conn) == 0  # the set-based rules agree, instance included
        assert queries.differences_from_the_rules(conn, f"instance = '{DR}'") == 0


def test_who_can_reach_a_secret_on_one_instance_and_on_any(igi_engine):
    data = load_both(igi_engine)
    roles = {instance: strongest_roles(snapshot) for instance, snapshot in data.items()}
    reach: dict[str, dict[int, set[tuple[int, str]]]] = {instance: defaultdict(set) for instance in data}
    for instance, pairs in roles.items():
        for (user_id, secret_id), role in pairs.items():
            reach[instance][secret_id].add((user_id, role))
    secret = next(s for s in sorted(reach[PROD]) if reach[DR].get(s) and reach[PROD][s] != reach[DR][s])

    on_prod = rows(igi_engine, "SELECT DISTINCT user_id, role FROM ss_staging.effective_access "
                               "WHERE instance = :i AND secret_id = :s", i=PROD, s=secret)
    assert on_prod == reach[PROD][secret]
    on_any = rows(igi_engine, "SELECT DISTINCT instance, user_id, role FROM ss_staging.effective_access "
                              "WHERE secret_id = :s", s=secret)
    assert on_any == {(PROD, u, role) for u, role in reach[PROD][secret]} | {
        (DR, u, role) for u, role in reach[DR][secret]}

    # a user name known on both instances: its secrets on each, told apart by the instance column
    reaching = {i: {u for u, _ in roles[i]} for i in data}
    holders = {i: {u["user_name"].lower(): u["user_id"] for u in data[i]["users"] if u["user_id"] in reaching[i]}
               for i in data}
    name = sorted(holders[PROD].keys() & holders[DR].keys())[0]
    ids = {i: {holders[i][name]} for i in data}
    by_name = rows(igi_engine, "SELECT DISTINCT instance, secret_id, role FROM ss_staging.effective_access "
                               "WHERE lower(user_name) = lower(:n)", n=name.upper())
    assert by_name == {(i, s, role) for i in data for (u, s), role in roles[i].items() if u in ids[i]} != set()


def test_the_auditors_views_answer_per_instance(igi_engine):
    data = load_both(igi_engine)
    for instance, snapshot in data.items():
        assert rows(igi_engine, "SELECT secret_id FROM ss_staging.unreachable_secrets WHERE instance = :i",
                    i=instance) == {(s,) for s in unreachable_secret_ids(snapshot)}
        assert rows(igi_engine, "SELECT user_id FROM ss_staging.orphan_accounts WHERE instance = :i",
                    i=instance) == {(u,) for u in orphan_user_ids(snapshot)}
        owners = rows(igi_engine, "SELECT folder_id, owner_kind, user_id, group_id, folder_permission_id "
                                  "FROM ss_staging.folder_owners WHERE instance = :i", i=instance)
        assert owners == folder_owners(snapshot) != set()
    # every row carries one of the two instances, and the two differ
    assert rows(igi_engine, "SELECT DISTINCT instance FROM ss_staging.folder_owners") == {(PROD,), (DR,)}
    assert folder_owners(data[PROD]) != folder_owners(data[DR])


def test_the_materialized_folder_sources_hold_both_instances_under_the_same_folder_ids(igi_engine):
    data = load_both(igi_engine)

    def expected() -> set[tuple[Any, ...]]:
        return rows(igi_engine, "SELECT instance, folder_id, source_folder_id, inherit_depth "
                                "FROM ss_staging.folder_permission_sources_at(NULL)")

    def stored() -> set[tuple[Any, ...]]:
        return rows(igi_engine, "SELECT instance, folder_id, source_folder_id, inherit_depth "
                                "FROM ss_staging.folder_permission_sources")

    sources = stored()
    assert sources == expected()
    for instance, snapshot in data.items():
        folders = {f["folder_id"]: f for f in snapshot["folders"]}
        assert {(f, s) for i, f, s, _ in sources if i == instance} == {
            (f, permission_folder(folders, f)) for f in folders}
    assert {f for i, f, _, _ in sources if i == PROD} == {f for i, f, _, _ in sources if i == DR}

    # a change to one instance's folder moves that instance's sources only
    child = next(f for f in data[PROD]["folders"] if f["inherit_permissions"] and f["parent_folder_id"])
    with igi_engine.begin() as conn:
        conn.execute(sa.text("UPDATE ss_staging.folders SET inherit_permissions = false "
                             "WHERE instance = :i AND folder_id = :f"), {"i": PROD, "f": child["folder_id"]})
    after = stored()
    assert after == expected()
    assert {r for r in after if r[0] == DR} == {r for r in sources if r[0] == DR}
    assert (PROD, child["folder_id"], child["folder_id"], 0) in after - sources


def test_the_folder_sources_are_refreshed_only_when_a_statement_changes_what_they_depend_on(igi_engine):
    """The refresh reads the materialized view (to compare old and new rows): its scan count, before and after a
    statement, tells whether the trigger refreshed it."""
    load_both(igi_engine)
    scans = sa.text("SELECT pg_stat_get_xact_numscans('ss_staging.folder_permission_sources'::regclass)")
    with igi_engine.begin() as conn:
        before = conn.execute(scans).scalar_one()
        conn.execute(sa.text("UPDATE ss_staging.folders SET folder_name = folder_name || ' (renamed)' "
                             "WHERE instance = :i"), {"i": PROD})
        conn.execute(sa.text("UPDATE ss_staging.folders SET inherit_permissions = inherit_permissions "
                             "WHERE instance = :i"), {"i": DR})
        assert conn.execute(scans).scalar_one() == before
        conn.execute(sa.text("UPDATE ss_staging.folders SET inherit_permissions = NOT inherit_permissions "
                             "WHERE instance = :i AND folder_id = 3"), {"i": DR})
        assert conn.execute(scans).scalar_one() > before
        assert queries.differences_from_the_rules(conn) == 0


def _state(snapshot: Snapshot, table: str) -> set[tuple[Any, ...]]:
    return {tuple(row[c] for c in TABLES[table][1]) for row in snapshot[table]}


def test_the_past_is_replayed_per_instance(igi_engine):
    """prod runs at T1, dr an hour later; then both at T2 (concurrent runs), each with changes of its own. The
    two instances' pictures interleave in the change log under the same object keys."""
    orgs = {PROD: generate("s", 42), DR: generate("s", 7)}
    histories = {i: History(igi_engine, i) for i in orgs}
    schedule = {PROD: (T1, T2), DR: (T1 + HOUR, T2)}
    pictures: dict[str, list[Snapshot]] = defaultdict(list)
    for step in (0, 1):
        for instance, org in orgs.items():
            if step:
                change_secret_server(org)
            pictures[instance].append(snapshot_from_organization(org))
            histories[instance].run(pictures[instance][-1], schedule[instance][step])

    def picture_at(instance: str, at: datetime) -> Snapshot | None:
        done = [p for p, when in zip(pictures[instance], schedule[instance], strict=True) if when <= at]
        return done[-1] if done else None

    for at in (T1, T1 + HOUR, T2):
        present = {i: p for i in orgs if (p := picture_at(i, at)) is not None}
        assert queries.paths_per_instance(igi_engine, at) == {
            i: paths for i, paths in effective_paths_per_instance(present).items() if paths}, at
        for table in TABLES:  # every <relation>_at(T), each instance's rows from its own changes
            columns = ", ".join(TABLES[table][1])
            got = rows(igi_engine, f"SELECT instance, {columns} FROM ss_staging.{table}_at(:t)", t=at)
            assert got == {(i, *row) for i, p in present.items() for row in _state(p, table)}, (table, at)

    # access_gained_last_run: the last run of each instance, each with its own gains
    run_ids = rows(igi_engine, "SELECT instance, max(run_id) FROM ss_staging.reconciliation_runs GROUP BY 1")
    last = dict(run_ids)  # type: ignore[arg-type]

    def gains(instance: str) -> set[tuple[Any, ...]]:
        old, new = (strongest_roles(p) for p in pictures[instance])
        return {(last[instance], instance, u, s, role, old.get((u, s))) for (u, s), role in new.items()
                if (u, s) not in old or RANK[role.lower()] > RANK[old[(u, s)].lower()]}

    query = "SELECT run_id, instance, user_id, secret_id, role, previous_role FROM ss_staging.access_gained_last_run"
    assert gains(PROD) and gains(DR)
    assert rows(igi_engine, query) == gains(PROD) | gains(DR)
    histories[PROD].run(pictures[PROD][-1], T2 + HOUR)  # prod's last run now changes nothing
    assert rows(igi_engine, query) == gains(DR)

    # who had direct access to a secret on one instance at a time
    secret = pictures[PROD][0]["secret_permissions"][0]["secret_id"]
    direct = "SELECT permission_id FROM ss_staging.direct_access_at(:t) WHERE instance = :i AND secret_id = :s " \
             "AND permission_kind = 'secret'"
    for instance in orgs:
        for picture, at in zip(pictures[instance], (T1 + HOUR, T2), strict=True):
            inherits = next((s["inherits_permissions"] for s in picture["secrets"] if s["secret_id"] == secret), True)
            own = set() if inherits else {(p["secret_permission_id"],) for p in picture["secret_permissions"]
                                          if p["secret_id"] == secret}
            assert rows(igi_engine, direct, t=at, i=instance, s=secret) == own, (instance, at)


def _scans(plan: dict[str, Any]) -> set[tuple[str, str, str | None]]:
    """(node type, relation, index) of every scan in a JSON plan."""
    found = set()
    if "Relation Name" in plan:
        found.add((plan["Node Type"], plan["Relation Name"], plan.get("Index Name")))
    for child in plan.get("Plans", []):
        found |= _scans(child)
    return found


def _plan(conn: sa.Connection, where: str) -> set[tuple[str, str, str | None]]:
    (plan,) = conn.execute(sa.text(
        f"EXPLAIN (FORMAT JSON) SELECT * FROM ss_staging.effective_access WHERE {where}")).scalar_one()
    return _scans(plan["Plan"])


BIG = {"secrets", "secret_permissions", "folder_permissions", "group_members"}


def test_the_one_secret_question_is_answered_from_indexes_on_one_instance_and_on_any(igi_engine):
    """On one instance the plan reads the secret and its permission rows by index even at scale s. Without the
    instance, scale s is too small for the planner to bother (it reads a few pages whole; at scale m it uses the
    indexes: secrets_secret_id_idx for the secret), so with sequential scans disabled the test checks that
    indexes can serve it: the secret and each row below it by an index."""
    load_both(igi_engine)
    with igi_engine.connect() as conn:
        conn.execute(sa.text("ANALYZE"))
        scans = _plan(conn, "instance = 'prod' AND secret_id = 7")
        assert ("Index Scan", "secrets", "secrets_pkey") in scans
        assert {s for s in scans if s[1] in BIG and s[0] != "Index Scan"} == set(), scans
        conn.execute(sa.text("SET enable_seqscan = off"))
        scans = _plan(conn, "secret_id = 7")
        assert {s for s in scans if s[1] in BIG and s[0] == "Seq Scan"} == set(), scans
