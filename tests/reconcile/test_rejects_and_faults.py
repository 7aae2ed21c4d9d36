"""Records that fail validation are recorded in ss_staging.rejects with a reason, never dropped silently and never
a crash; their objects stay as staging had them. A run under Secret Server's faults ends equal to a clean run."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import sqlalchemy as sa

from pipelines.reconcile import run_reconcile
from simulator.faults import Faults
from simulator.generator import generate
from tests.reconcile.helpers import events_of, expected_permissions, run_row, staging, truth
from tests.reconcile.test_safety import Tampered


def _rejects(engine, run_id: int) -> list[dict[str, Any]]:
    with engine.connect() as conn:
        return [dict(r) for r in conn.execute(sa.text(
            "SELECT entity, source_id, reason, record FROM ss_staging.rejects WHERE run_id = :r ORDER BY reject_id"),
            {"r": run_id}).mappings()]


def test_invalid_records_are_rejected_with_reasons_and_their_objects_left_as_they_were(
        igi_engine, ss_client, sim_org):
    run_reconcile(igi_engine, ss_client)
    everyone = sim_org.groups()[0]["id"]
    victim = next(u for u in sim_org.users() if u["enabled"])  # its record will arrive broken
    sim_org.remove_member(everyone, next(u["id"] for u in sim_org.users() if u["id"] != victim["id"]))

    def users() -> Iterator[Any]:
        for record in ss_client.iter_users():
            if record["id"] == victim["id"]:
                yield {**record, "enabled": "yes"}  # wrong type
            else:
                yield record
        yield {"userName": "no.id", "enabled": True}  # missing key
        yield {"id": 9001, "enabled": True}  # missing userName
        yield {"id": 9002, "userName": "bad.date", "enabled": True, "lastLogin": "yesterday"}
        yield {"id": sim_org.users()[-1]["id"], "userName": "duplicate", "enabled": True}
        yield "not a record"

    def folder_permissions(folder_id: int) -> Iterator[Any]:
        yield from ss_client.iter_folder_permissions(folder_id)
        if folder_id == sim_org.folders()[0]["id"]:
            yield {"id": 7001, "folderId": folder_id, "userId": None, "groupId": None,
                   "folderAccessRoleName": "View", "secretAccessRoleName": "View"}  # nobody
            yield {"id": 7002, "folderId": folder_id, "userId": None, "groupId": 4242,
                   "folderAccessRoleName": "View", "secretAccessRoleName": "View"}  # unknown group

    def members(group_id: int) -> Iterator[Any]:
        yield from ss_client.iter_group_members(group_id)
        if group_id == everyone:
            yield {"groupId": everyone, "userId": 8888}  # unknown user

    summary = run_reconcile(igi_engine, Tampered(ss_client, iter_users=users, iter_group_members=members,
                                                 iter_folder_permissions=folder_permissions))

    # a user record without a usable id could be any user: no user is taken as removed, and the run says so
    assert summary.status == "partial"
    assert list(summary.incomplete) == ["users"] and "2 records rejected without a usable id" in summary.incomplete[
        "users"]
    rejects = _rejects(igi_engine, summary.run_id)
    reasons = {(r["entity"], r["source_id"]): r["reason"] for r in rejects}
    assert reasons[("users", str(victim["id"]))] == "wrong type or value for enabled (expected bool): 'yes'"
    assert reasons[("users", None)] in ("missing key id", "not a JSON object")
    assert reasons[("users", "9001")] == "missing userName"
    assert reasons[("users", "9002")].startswith("wrong type or value for lastLogin (expected timestamp)")
    assert reasons[("users", str(sim_org.users()[-1]["id"]))].startswith("duplicate key user_id")
    assert reasons[("folder_permissions", "7001")] == "neither userId nor groupId"
    assert reasons[("folder_permissions", "7002")] == "group_id 4242 is not a known groups object"
    assert reasons[("group_members", f"{everyone}:8888")] == "user_id 8888 is not a known users object"
    # the victim's memberships point at a rejected user: rejected too, and kept as they were
    victim_memberships = {k for k in truth(sim_org)["group_members"] if k[1] == victim["id"]}
    assert {(r["entity"], r["source_id"]) for r in rejects} >= {
        ("group_members", f"{g}:{u}") for g, u in victim_memberships}
    assert sum(r["entity"] == "users" for r in rejects) == 6
    assert next(r for r in rejects if r["source_id"] == str(victim["id"]))["record"]["enabled"] == "yes"
    assert summary.stats["users"].rejected == 6 and run_row(igi_engine, summary.run_id)["stats"]["users"][
        "rejected"] == 6

    loaded = staging(igi_engine)
    assert (victim["id"],) in loaded["users"] and loaded["users"][(victim["id"],)]["enabled"] is True
    assert victim_memberships <= loaded["group_members"].keys()
    assert (9002,) not in loaded["users"] and (7001,) not in loaded["folder_permissions"]
    assert summary.stats["users"].removed == 0 and summary.stats["group_members"].removed == 1
    assert {e["operation"] for e in events_of(igi_engine, summary.run_id)} == {2}


def test_a_run_under_the_simulators_faults_ends_equal_to_a_clean_run(
        igi_engine, make_simulator, client_for):
    org = generate("s", 42)
    faults = Faults(rate_429=0.05, retry_after_s=0, burst_every=37, burst_length=2, burst_status=503,
                    drop_connection_rate=0.03, html_200_rate=0.03, token_expire_after_calls=40, seed=11)
    server = make_simulator(org=org, faults=faults, page_cap=50)
    client = client_for(server, page_size=50, max_attempts=10)

    summary = run_reconcile(igi_engine, client)

    assert summary.ok, summary.reason()
    assert staging(igi_engine) == truth(org)
    assert summary.extract_stats["retries"] > 0
    events = events_of(igi_engine, summary.run_id)
    assert {(e["code"], e["functionality_type"], e["functionality"]) for e in events
            if e["operation"] == 1} == expected_permissions(org)
    assert sum(r.status != 200 for r in server.request_log) > 0
    assert all(all(v == 0 for k, v in s.as_dict().items() if k == "rejected") for s in summary.stats.values())
