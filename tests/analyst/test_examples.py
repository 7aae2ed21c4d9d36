"""Every example query the data dictionary ships, run against a known history and checked against the answer
computed in Python (tests/analyst/reference.py), with values picked from the data. No timing here: bench/run.py
times them at scale m.

History (the simulator's scale s organization): T1 the first picture; T2 the changes of test_as_of (a member
leaves a group, a newcomer gets a folder, a direct permission is revoked, a user disabled, a secret and a group
removed); T3 the leaver joins the group again.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy.engine import Engine

from pipelines.dictionary import EXAMPLES, Example, statements
from simulator.generator import generate
from tests.analyst.reference import (
    RANK,
    orphan_user_ids,
    permission_folder,
    strongest_roles,
    unreachable_secret_ids,
)
from tests.analyst.staging import History, Snapshot, snapshot_from_organization
from tests.analyst.test_as_of import change_secret_server

T1 = datetime(2024, 5, 1, tzinfo=UTC)
T2 = datetime(2024, 6, 1, tzinfo=UTC)
T3 = datetime(2024, 7, 1, tzinfo=UTC)
SECOND = timedelta(seconds=1)


class World:
    def __init__(self, engine: Engine) -> None:
        org = generate("s", 42)
        history = History(engine)
        self.pictures: list[Snapshot] = [snapshot_from_organization(org)]
        history.run(self.pictures[0], T1)
        self.touched = change_secret_server(org)
        self.pictures.append(snapshot_from_organization(org))
        history.run(self.pictures[1], T2)
        org.add_member(self.touched["group"], self.touched["leaver"])
        self.pictures.append(snapshot_from_organization(org))
        history.run(self.pictures[2], T3)
        self.roles = [strongest_roles(p) for p in self.pictures]
        self.now = self.pictures[2]
        self.engine = engine

    def rows(self, question: str, **values: Any) -> list[dict[str, Any]]:
        """The rows of the example whose question starts with ``question`` (of its last statement)."""
        example = example_for(question)
        raw = self.engine.raw_connection()
        try:
            for statement in statements(example.render(**values)):
                with raw.cursor() as cur:
                    cur.execute(statement)  # no parameters: the values are literals in the text
                    names = [c.name for c in cur.description]
                    result = [dict(zip(names, row, strict=True)) for row in cur.fetchall()]
            return result
        finally:
            raw.close()

    def names(self, table: str, key: str, name: str, picture: Snapshot | None = None) -> dict[int, str]:
        return {r[key]: r[name] for r in (picture or self.now)[table]}


def example_for(question: str) -> Example:
    (example,) = [e for e in EXAMPLES if e.question.startswith(question)]
    return example


@pytest.fixture
def world(igi_engine) -> World:
    return World(igi_engine)


def test_every_shipped_example_is_checked_here():
    checked = {"Which secrets", "Who can reach", "One row per user", "Who owns", "Who could reach",
               "Who had direct", "Since when", "Who gained access in", "Who gained access between",
               "Secrets nobody", "Owners of each folder", "What did the last run"}
    assert sorted(e.question for e in EXAMPLES) == sorted(example_for(q).question for q in checked)


def test_reach_questions(world: World):
    users = world.names("users", "user_id", "user_name")
    leaver = world.touched["leaver"]
    mine = world.rows("Which secrets", user_name=users[leaver].upper())  # any case
    assert {(r["secret_id"], r["role"]) for r in mine} == {(s, role) for (u, s), role in world.roles[2].items()
                                                          if u == leaver} != set()

    secret = next(s for (u, s) in world.roles[2] if u == leaver)
    who = world.rows("Who can reach", secret_id=secret)
    assert {r["user_name"] for r in who} == {users[u] for (u, s) in world.roles[2] if s == secret}

    enabled = {u["user_id"] for u in world.now["users"] if u["enabled"]}
    pairs = world.rows("One row per user")
    assert {(r["user_id"], r["secret_id"], r["role"]) for r in pairs} == {
        (u, s, role) for (u, s), role in world.roles[2].items() if u in enabled}

    folders = {f["folder_id"]: f["folder_path"] for f in world.now["folders"]}
    secrets = {s["secret_id"]: s for s in world.now["secrets"]}
    owned = [(u, s) for (u, s), role in world.roles[2].items() if role == "Owner"]
    top = "\\" + folders[secrets[owned[0][1]]["folder_id"]].split("\\")[1]  # a top-level folder: \Name

    def in_tree(secret_id: int) -> bool:
        path = folders.get(secrets[secret_id]["folder_id"], "")
        return path == top or path.startswith(top + "\\")

    owners = world.rows("Who owns", folder_path=top)
    assert {(r["user_name"], r["secret_name"]) for r in owners} == {
        (users[u], secrets[s]["secret_name"]) for u, s in owned if in_tree(s)} != set()


def test_past_questions(world: World):
    users_then = world.names("users", "user_id", "user_name", world.pictures[0])
    revoked_secret = world.touched["revoked_secret"]
    then = world.rows("Who could reach", at=(T1 + SECOND).isoformat(), secret_id=revoked_secret)
    assert {(r["user_name"], r["role"]) for r in then} == {
        (users_then[u], role) for (u, s), role in world.roles[0].items() if s == revoked_secret} != set()

    groups_then = world.names("groups", "group_id", "group_name", world.pictures[0])
    own = [p for p in world.pictures[0]["secret_permissions"] if p["secret_id"] == revoked_secret]
    direct = world.rows("Who had direct", at=(T1 + SECOND).isoformat(), secret_id=revoked_secret)
    assert sorted((r["user_name"] or r["group_name"], r["secret_access_role"], r["permission_kind"])
                  for r in direct) == sorted(
        (users_then[p["user_id"]] if p["user_id"] is not None else groups_then[p["group_id"]],
         p["secret_access_role"], "secret") for p in own)
    assert own and not world.rows("Who had direct", at=(T1 - SECOND).isoformat(), secret_id=revoked_secret)


def test_since_when(world: World):
    r1, r2, r3 = (set(r) for r in world.roles)
    leaver, newcomer = world.touched["leaver"], world.touched["newcomer"]
    cases = {
        next(p for p in sorted(r1 & r2 & r3)): T1,  # reachable all along
        next(p for p in sorted(r2 & r3) if p[0] == newcomer and p not in r1): T2,  # new at T2
        next(p for p in sorted(r1 & r3) if p[0] == leaver and p not in r2): T3,  # lost at T2, back at T3
        next(p for p in sorted(r1 - r3)): None,  # not reachable now
    }
    for (user_id, secret_id), since in cases.items():
        (row,) = world.rows("Since when", user_id=user_id, secret_id=secret_id)
        assert row["reachable_since"] == since, (user_id, secret_id)


def _gains(before: dict[tuple[int, int], str], after: dict[tuple[int, int], str]) -> set[tuple[Any, ...]]:
    return {(u, s, role, before.get((u, s))) for (u, s), role in after.items()
            if (u, s) not in before or RANK[role.lower()] > RANK[before[(u, s)].lower()]}


def test_gain_questions(world: World):
    users = world.names("users", "user_id", "user_name")
    secrets = world.names("secrets", "secret_id", "secret_name")
    last = world.rows("Who gained access in")
    assert {(r["user_name"], r["secret_name"], r["role"], r["previous_role"]) for r in last} == {
        (users[u], secrets[s], role, was) for u, s, role, was in _gains(world.roles[1], world.roles[2])} != set()

    between = world.rows("Who gained access between", at=(T1 + SECOND).isoformat(), until=(T2 + SECOND).isoformat())
    assert {(r["user_id"], r["secret_id"], r["role"], r["previous_role"]) for r in between} == _gains(
        world.roles[0], world.roles[1]) != set()


def test_unreachable_secrets_and_orphan_accounts(world: World):
    # The example's first statement: secrets nobody reaches.
    raw = world.engine.raw_connection()
    try:
        with raw.cursor() as cur:
            cur.execute(statements(example_for("Secrets nobody").render())[0])
            assert {row[0] for row in cur.fetchall()} == unreachable_secret_ids(world.now)
    finally:
        raw.close()
    users = world.names("users", "user_id", "user_name")
    assert {r["user_name"] for r in world.rows("Secrets nobody")} == {users[u] for u in orphan_user_ids(world.now)}


def test_folder_owners_and_last_changes(world: World):
    now = world.now
    users = world.names("users", "user_id", "user_name")
    groups = world.names("groups", "group_id", "group_name")
    folders = {f["folder_id"]: f for f in now["folders"]}
    members: dict[int, list[int]] = {}
    for m in now["group_members"]:
        members.setdefault(m["group_id"], []).append(m["user_id"])
    expected = set()
    for folder in folders.values():
        source = permission_folder(folders, folder["folder_id"])
        for p in now["folder_permissions"]:
            if p["folder_id"] != source or str(p["folder_access_role"]).lower() != "owner":
                continue
            if p["user_id"] is not None:
                expected.add((folder["folder_path"], "user", users[p["user_id"]], None))
            else:
                for person in members.get(p["group_id"], [None]):  # type: ignore[list-item]
                    expected.add((folder["folder_path"], "group", users.get(person), groups[p["group_id"]]))
    rows = world.rows("Owners of each folder")
    assert {(r["folder_path"], r["owner_kind"], r["person"], r["group_name"]) for r in rows} == expected != set()

    changes = world.rows("What did the last run")
    group, leaver = world.touched["group"], world.touched["leaver"]
    assert [(r["entity"], r["object_key"], r["change_type"]) for r in changes] == [
        ("group_members", f"{group}:{leaver}", "added")]
