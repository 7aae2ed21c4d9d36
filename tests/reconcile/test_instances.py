"""Several Secret Server instances in one staging database. Two simulators whose ids collide (``generate("s", 42)``
as the instance ``default``, ``generate("s", 7)`` as ``dr``) reconcile side by side: each run reads, changes,
limits and announces only its own instance's rows, and its events go to its own IGI target."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa

import connectors.igi.events
from connectors.igi.runs import list_runs, read_run
from tests.reconcile.helpers import (
    ENTITY_NAMES,
    TARGETS,
    account_code,
    events_of,
    expected_changes,
    expected_permissions,
    full_dump,
    instance_dump,
    reconcile_instance,
    run_row,
    staging,
    truth,
)


def load_both(engine, clients) -> None:
    for instance in ("default", "dr"):
        assert reconcile_instance(engine, clients, instance).ok, instance


def changes_in(engine, run_id: int) -> list[dict[str, Any]]:
    with engine.connect() as conn:
        return [dict(r) for r in conn.execute(sa.text(
            "SELECT instance, entity, object_key, change_type FROM ss_staging.change_log WHERE run_id = :r"),
            {"r": run_id}).mappings()]


def test_two_instances_with_colliding_ids_load_side_by_side_each_as_its_secret_server_holds_it(
        igi_engine, instance_clients, prod_org, dr_org):
    prod_truth, dr_truth = truth(prod_org), truth(dr_org)
    # the premise: the same ids name different objects on the two instances
    assert prod_truth["users"].keys() & dr_truth["users"].keys()
    assert any(prod_truth["secrets"][k] != dr_truth["secrets"][k]
               for k in prod_truth["secrets"].keys() & dr_truth["secrets"].keys())

    prod = reconcile_instance(igi_engine, instance_clients, "default")
    dr = reconcile_instance(igi_engine, instance_clients, "dr")

    assert prod.ok and dr.ok, (prod.reason(), dr.reason())
    assert (prod.reason(), dr.reason()) == (f"run {prod.run_id} succeeded", f"run {dr.run_id} of instance dr succeeded")
    assert staging(igi_engine, instance="default") == prod_truth
    assert staging(igi_engine, instance="dr") == dr_truth
    for name in ENTITY_NAMES:  # dr's first run is a first load too: no prod row is taken for one of its own
        stats = dr.stats[name]
        assert (stats.added, stats.changed, stats.removed) == (len(dr_truth[name]), 0, 0), name
    for summary, org in ((prod, prod_org), (dr, dr_org)):
        assert summary.as_dict()["instance"] == summary.instance
        assert run_row(igi_engine, summary.run_id)["instance"] == summary.instance
        logged = changes_in(igi_engine, summary.run_id)
        assert {c["instance"] for c in logged} == {summary.instance}
        assert len(logged) == sum(len(rows) for rows in truth(org).values())
        events = events_of(igi_engine, summary.run_id)
        assert {e["target"] for e in events} == {TARGETS[summary.instance]}
        adds = {(e["code"], e["functionality_type"], e["functionality"]) for e in events if e["operation"] == 1}
        assert adds == expected_permissions(org)
        assert sum(e["operation"] == 10 for e in events) == len(org.users())
    assert [r["run_id"] for r in list_runs(igi_engine, 10, instance="dr")] == [dr.run_id]
    assert [r["run_id"] for r in list_runs(igi_engine, 10)] == [dr.run_id, prod.run_id]
    assert (read_run(igi_engine, dr.run_id) or {})["instance"] == "dr"


def test_a_rerun_of_one_instance_changes_only_its_rows_and_announces_only_to_its_target(
        igi_engine, instance_clients, prod_org, dr_org):
    load_both(igi_engine, instance_clients)
    dr_before, prod_truth_before = instance_dump(igi_engine, "dr"), truth(prod_org)
    removed = [u for u in prod_org.users() if not u["isApplicationAccount"]][:2]
    for user in removed:
        prod_org.remove_user(user["id"])
    prod_org.add_user("only.in.prod")
    prod_org.rename_group(prod_org.groups()[1]["id"], "renamed-in-prod")

    prod = reconcile_instance(igi_engine, instance_clients, "default")

    assert prod.ok and prod.stats["users"].removed == 2 and prod.stats["users"].added == 1
    assert staging(igi_engine, instance="default") == truth(prod_org)
    assert instance_dump(igi_engine, "dr") == dr_before  # no dr row marked removed, changed or logged
    logged = changes_in(igi_engine, prod.run_id)
    assert {c["instance"] for c in logged} == {"default"}
    assert {(c["entity"], c["object_key"], c["change_type"]) for c in logged} == expected_changes(
        prod_truth_before, truth(prod_org))
    events = events_of(igi_engine, prod.run_id)
    assert {e["target"] for e in events} == {"SecretServer"}
    assert {e["code"] for e in events if e["operation"] == 11} == {account_code(u) for u in removed}

    # the other instance, unchanged, finds nothing to do, although the same ids changed on the first one
    dr = reconcile_instance(igi_engine, instance_clients, "dr")
    assert dr.ok and dr.events == {}
    assert all(not (s.added or s.changed or s.removed) for s in dr.stats.values())
    assert instance_dump(igi_engine, "dr") == dr_before

    # a change on dr, to the user whose id prod just removed: the events carry dr's target and dr's account,
    # prod's rows stay as they are
    dr_user = next(u for u in dr_org.users() if u["id"] == removed[0]["id"])
    dr_org.set_user_enabled(dr_user["id"], not dr_user["enabled"])
    prod_before = instance_dump(igi_engine, "default")
    changed = reconcile_instance(igi_engine, instance_clients, "dr")
    assert changed.ok and changed.stats["users"].changed == 1
    events = events_of(igi_engine, changed.run_id)
    assert [(e["target"], e["code"], e["operation"]) for e in events] == [
        ("SecretServer-dr", account_code(dr_user), 6 if dr_user["enabled"] else 7)]
    assert instance_dump(igi_engine, "default") == prod_before
    assert staging(igi_engine, instance="dr") == truth(dr_org)


def test_the_safety_limits_of_a_run_count_only_its_own_instances_rows(
        igi_engine, instance_clients, prod_org, dr_org):
    load_both(igi_engine, instance_clients)
    dr_known = len(dr_org.users()) + len(expected_permissions(dr_org))  # accounts and permissions IGI knows
    for user in [u for u in dr_org.users() if not u["isApplicationAccount"]][:15]:
        dr_org.remove_user(user["id"])
    before = full_dump(igi_engine)

    # 15 of dr's 100 users: over 10%, though only 7.5% of both instances' 200
    aborted = reconcile_instance(igi_engine, instance_clients, "dr")
    assert aborted.status == "aborted"
    assert "users: 15 of 100 (15.0%) above max_removal_percent=10" in (aborted.error or "")
    assert full_dump(igi_engine) == before

    by_events = reconcile_instance(igi_engine, instance_clients, "dr", max_removal_percent=None, max_event_percent=1)
    assert by_events.status == "aborted"
    assert f"IGI events for {dr_known} known accounts and permissions" in (by_events.error or "")
    assert full_dump(igi_engine) == before
    assert run_row(igi_engine, by_events.run_id)["instance"] == "dr"

    allowed = reconcile_instance(igi_engine, instance_clients, "dr", max_removal_percent=20)
    assert allowed.ok and allowed.stats["users"].removed == 15
    assert staging(igi_engine, instance="dr") == truth(dr_org)
    assert staging(igi_engine, instance="default") == truth(prod_org)


def test_a_run_that_fails_leaves_both_instances_staging_exactly_as_it_was(
        igi_engine, instance_clients, prod_org, dr_org, monkeypatch):
    load_both(igi_engine, instance_clients)
    prod_truth = truth(prod_org)
    for org in (prod_org, dr_org):
        org.remove_user(next(u for u in org.users() if not u["isApplicationAccount"])["id"])
        org.add_user("late.arrival")
    before = full_dump(igi_engine)

    def explode(*args: Any, **kwargs: Any) -> dict[str, int]:
        raise RuntimeError("injected failure after the staging writes")

    monkeypatch.setattr(connectors.igi.events, "write_events", explode)
    failed = reconcile_instance(igi_engine, instance_clients, "dr")

    assert failed.status == "failed" and "injected failure" in (failed.error or "")
    assert full_dump(igi_engine) == before
    row = run_row(igi_engine, failed.run_id)
    assert (row["instance"], row["status"]) == ("dr", "failed")

    monkeypatch.undo()
    assert reconcile_instance(igi_engine, instance_clients, "dr").ok
    assert staging(igi_engine, instance="dr") == truth(dr_org)
    assert staging(igi_engine, instance="default") == prod_truth  # prod's own change waits for prod's run


def test_references_and_fan_outs_of_a_scoped_run_use_only_its_instances_staging(
        igi_engine, instance_clients, prod_org, dr_org, dr_server):
    load_both(igi_engine, instance_clients)
    # a new dr user gets a permission; prod gets a user with the same id, which staging of prod then holds
    dr_user = dr_org.add_user("new.in.dr")
    secret = next(s for s in dr_org.secrets() if not s["inheritsPermissions"])
    dr_org.grant_secret_permission(secret["id"], user_id=dr_user)
    assert prod_org.add_user("new.in.prod") == dr_user
    assert reconcile_instance(igi_engine, instance_clients, "default").ok
    dr_server.clear_log()

    # users out of scope: the permission's user is checked against dr's staging, which does not know it yet
    scoped = reconcile_instance(igi_engine, instance_clients, "dr", entities=["secret_permissions"])

    assert scoped.stats["secret_permissions"].rejected == 1 and scoped.stats["secret_permissions"].added == 0
    with igi_engine.connect() as conn:
        rejects = conn.execute(sa.text("SELECT instance, reason FROM ss_staging.rejects WHERE run_id = :r"),
                               {"r": scoped.run_id}).all()
    assert [(r.instance, r.reason) for r in rejects] == [("dr", f"user_id {dr_user} is not a known users object")]
    # the fan-out asked dr only for the secrets that break inheritance on dr (staging of dr, not prod's)
    asked = [c for c in dr_server.calls("GET") if c.path.endswith("/api/v1/secret-permissions")]
    assert len(asked) == sum(not s["inheritsPermissions"] for s in dr_org.secrets())

    assert reconcile_instance(igi_engine, instance_clients, "dr").ok
    assert staging(igi_engine, instance="dr") == truth(dr_org)
    assert staging(igi_engine, instance="default") == truth(prod_org)


def test_a_re_emit_of_one_instance_announces_only_its_own_accounts_and_permissions(
        igi_engine, instance_clients, dr_org):
    load_both(igi_engine, instance_clients)

    reemit = reconcile_instance(igi_engine, instance_clients, "dr", reemit_events=True)

    assert reemit.ok
    events = events_of(igi_engine, reemit.run_id)
    assert {e["target"] for e in events} == {"SecretServer-dr"}
    assert sorted(e["code"] for e in events if e["operation"] == 10) == sorted(account_code(u) for u in dr_org.users())
    adds = {(e["code"], e["functionality_type"], e["functionality"]) for e in events if e["operation"] == 1}
    assert adds == expected_permissions(dr_org)
