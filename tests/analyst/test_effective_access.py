"""ss_staging.effective_access: who can reach which secret, with which role, and through which paths.
Checked against an independent Python computation (tests/analyst/reference.py) over the simulator's data,
and on small hand-made organizations whose answer is spelled out."""

from __future__ import annotations

import itertools

import sqlalchemy as sa

from simulator.generator import generate
from tests.analyst import queries
from tests.analyst.builders import folder, folder_perm, group, member, secret, secret_perm, snapshot, user
from tests.analyst.reference import effective_paths, strongest_roles
from tests.analyst.staging import load_snapshot, snapshot_from_organization


def test_every_user_and_secret_pair_at_scale_s_matches_the_independent_computation(igi_engine):
    data = snapshot_from_organization(generate("s", 42))
    load_snapshot(igi_engine, data)

    expected = effective_paths(data)
    assert queries.paths(igi_engine) == expected

    reference_roles, view_roles = strongest_roles(data), queries.roles(igi_engine)
    user_ids = [u["user_id"] for u in data["users"]]
    secret_ids = [s["secret_id"] for s in data["secrets"]]
    for pair in itertools.product(user_ids, secret_ids):  # all 30,000 pairs, access or not
        assert view_roles.get(pair) == reference_roles.get(pair), pair
    # The data exercises every kind of path, and disabled users and inactive secrets are kept.
    assert {p[4] for p in expected} == {"direct", "group", "folder", "folder group"}
    with igi_engine.connect() as conn:
        flags = conn.execute(sa.text(
            "SELECT bool_and(user_enabled), bool_and(secret_active) FROM ss_staging.effective_access")).one()
    assert flags == (False, False)


def test_descriptive_columns_come_from_the_user_secret_group_and_folders(igi_engine):
    data = snapshot_from_organization(generate("s", 42))
    load_snapshot(igi_engine, data)
    users = {u["user_id"]: u for u in data["users"]}
    secrets = {s["secret_id"]: s for s in data["secrets"]}
    folders = {f["folder_id"]: f for f in data["folders"]}
    groups = {g["group_id"]: g for g in data["groups"]}
    with igi_engine.connect() as conn:
        rows = conn.execute(sa.text("SELECT * FROM ss_staging.effective_access")).mappings().all()
    assert rows
    for row in rows:
        u, s = users[row["user_id"]], secrets[row["secret_id"]]
        assert (row["user_name"], row["user_enabled"], row["domain_name"]) == (u["user_name"], u["enabled"],
                                                                              u["domain_name"])
        assert (row["secret_name"], row["secret_active"], row["folder_id"]) == (s["secret_name"], s["active"],
                                                                               s["folder_id"])
        assert row["folder_path"] == (folders[s["folder_id"]]["folder_path"] if s["folder_id"] else None)
        if row["via_group_id"] is not None:
            g = groups[row["via_group_id"]]
            assert (row["via_group_name"], row["via_group_enabled"]) == (g["group_name"], g["enabled"])
        if row["via_folder_id"] is not None:
            assert row["via_folder_path"] == folders[row["via_folder_id"]]["folder_path"]


# A hand-made organization. Root folder 1 breaks inheritance; 2 and 3 inherit below it (nested inheritance).
# Folder 4 under 1 breaks the chain; 5 inherits from 4 and carries a stray row of its own (ignored).
# Users 11..16; group 100 = {11, 12 (membership removed), 13}; group 101 disabled = {14}.
HAND_MADE = snapshot(
    user(11), user(12), user(13), user(14), user(15, enabled=False), user(16, removed=True), user(17),
    group(100), group(101, enabled=False), group(102, removed=True),
    member(100, 11), member(100, 12, removed=True), member(100, 13), member(101, 14), member(102, 17),
    member(100, 16),
    folder(1, None, inherits=False), folder(2, 1, inherits=True), folder(3, 2, inherits=True),
    folder(4, 1, inherits=False), folder(5, 4, inherits=True), folder(6, None, inherits=True),
    folder(7, 1, inherits=True, removed=True),
    folder(8, 9, inherits=True), folder(9, 8, inherits=True),  # a loop of inheriting folders: no source
    folder_perm(211, 8, user_id=11, secret_role="Owner"),
    folder_perm(201, 1, group_id=100, secret_role="View"),
    folder_perm(202, 1, user_id=15, group_id=9015, secret_role="Edit"),
    folder_perm(203, 1, group_id=101, secret_role="List"),
    folder_perm(204, 1, group_id=102, secret_role="Owner"),  # removed group: nothing
    folder_perm(205, 1, user_id=17, secret_role="Owner", removed=True),  # revoked: nothing
    folder_perm(206, 4, user_id=13, group_id=9013, secret_role="Owner"),
    folder_perm(207, 4, user_id=11, secret_role="None"),  # folder role only: nothing on secrets
    folder_perm(208, 5, user_id=14, secret_role="Owner"),  # on an inheriting folder: ignored
    folder_perm(209, 6, user_id=11, secret_role="Edit"),  # root folder that "inherits": its own rows
    folder_perm(210, 1, user_id=16, secret_role="Owner"),  # removed user: nothing
    secret(301, 3),  # deep in the inherited chain
    secret(302, 5),  # below the broken chain
    secret(303, 3, inherits=False),  # breaks inheritance: its own rows only
    secret(304, 6, active=False),
    secret(305, None),  # in no folder, inheriting: nobody
    secret(306, 3, removed=True),
    secret(307, 9),  # in the loop: nobody
    secret_perm(401, 303, user_id=11, group_id=9011, role="View"),
    secret_perm(402, 303, group_id=100, role="Edit"),
    secret_perm(403, 301, user_id=14, role="Owner"),  # on an inheriting secret: ignored
    secret_perm(404, 306, user_id=11, role="Owner"),
)


def test_hand_made_cases(igi_engine):
    load_snapshot(igi_engine, HAND_MADE)
    got = queries.paths(igi_engine)
    assert got == effective_paths(HAND_MADE)
    assert queries.roles(igi_engine) == {
        # nested inheritance: 3 -> 2 -> 1; group 100 (11, 13; not 12, whose membership was removed)
        (11, 301): "View", (13, 301): "View", (15, 301): "Edit", (14, 301): "List",
        # the chain breaks at 4: only 4's rows count, not 1's, nor the stray row on 5
        (13, 302): "Owner",
        # a secret breaking inheritance: direct View and group Edit for user 11, group Edit for 13
        (11, 303): "Edit", (13, 303): "Edit",
        # a root folder marked as inheriting uses its own rows; inactive secrets are kept
        (11, 304): "Edit",
    }
    assert {p[2:] for p in got if p[:2] == (11, 303)} == {
        ("Edit", "View", "direct", 401, None, None),
        ("Edit", "Edit", "group", 402, 100, None),
    }
    assert {p[2:] for p in got if p[:2] == (14, 301)} == {("List", "List", "folder group", 203, 101, 1)}
    assert {p[2:] for p in got if p[:2] == (15, 301)} == {("Edit", "Edit", "folder", 202, None, 1)}
    with igi_engine.connect() as conn:
        flags = conn.execute(sa.text(
            "SELECT DISTINCT user_id, user_enabled, via_group_enabled, secret_active FROM ss_staging.effective_access "
            "WHERE (user_id, secret_id) IN ((15, 301), (14, 301), (11, 304))")).all()
    assert sorted(flags) == [(11, True, None, False), (14, True, False, True), (15, False, None, True)]
