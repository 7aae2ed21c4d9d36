"""The run history, the exit code and every removal tell the truth (issue 16, and issue 20's points 3 and 5):
what happens after the commit is a warning, a run that could not read everything is `partial`, a rejected record
never removes anything, a run whose process died is marked `abandoned`, mass changes stop before the commit,
and a run that fails anywhere is recorded failed with its reason."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from typing import Any

import dask
import pytest
import sqlalchemy as sa
from prefect_dask import DaskTaskRunner

from connectors.igi.runs import mark_abandoned
from pipelines.check import check_database
from pipelines.cli import main
from pipelines.reconcile import run_reconcile
from pipelines.reconcile_flow import DASK_ADDRESS_SETTING, reconcile
from pipelines.settings import Settings
from simulator.faults import Faults
from tests.reconcile.helpers import account_code, events_of, full_dump, run_row, staging, truth
from tests.reconcile.test_safety import Tampered


def _rejects(engine: sa.Engine, run_id: int) -> list[dict[str, Any]]:
    with engine.connect() as conn:
        return [dict(r) for r in conn.execute(sa.text(
            "SELECT entity, source_id, reason FROM ss_staging.rejects WHERE run_id = :r ORDER BY reject_id"),
            {"r": run_id}).mappings()]


def _runs(engine: sa.Engine) -> list[dict[str, Any]]:
    with engine.connect() as conn:
        return [dict(r) for r in conn.execute(sa.text(
            "SELECT run_id, status, finished_at, error FROM ss_staging.reconciliation_runs ORDER BY run_id"))
            .mappings()]


# ---------------------------------------------------------------------------------------------- 1
def test_a_failure_after_the_commit_is_a_warning_and_the_run_stays_succeeded(igi_engine, ss_client, sim_org):
    def users() -> Iterator[Any]:
        yield from ss_client.iter_users()
        yield {"id": 99999, "userName": "wrong.type", "enabled": "yes"}  # one reject; its key is known

    # An operator's lock_timeout, and a session that holds a lock ANALYZE needs (as a manual VACUUM would):
    # the merge goes through, the ANALYZE after the commit times out.
    impatient = sa.create_engine(igi_engine.url, connect_args={"options": "-c lock_timeout=300"})
    try:
        with igi_engine.connect() as holder:
            holder.execute(sa.text("LOCK TABLE ss_staging.users IN SHARE UPDATE EXCLUSIVE MODE"))
            summary = run_reconcile(impatient, Tampered(ss_client, iter_users=users))
            holder.rollback()
    finally:
        impatient.dispose()

    assert summary.status == "succeeded" and summary.ok and summary.error is None
    row = run_row(igi_engine, summary.run_id)
    assert row["status"] == "succeeded" and row["error"] is None
    assert len(row["warnings"]) == 1 and "ANALYZE ss_staging.users failed" in row["warnings"][0]
    assert "lock timeout" in row["warnings"][0] and summary.warnings == row["warnings"]
    assert [r["source_id"] for r in _rejects(igi_engine, summary.run_id)] == ["99999"]  # written once
    assert staging(igi_engine) == truth(sim_org)


# ---------------------------------------------------------------------------------------------- 2
def test_a_group_whose_member_list_always_fails_makes_a_partial_run_with_its_own_exit_code_and_flow_state(
        prefect_harness, settings_env, simulator, sim_org, igi_engine, capsys):
    assert main(["reconcile"]) == 0
    everyone = sim_org.groups()[0]["id"]
    failing = next(g["id"] for g in sim_org.groups() if g["id"] != everyone and
                   any(gid == g["id"] for gid, _ in sim_org.group_members()))
    failing_members = {(g, u) for g, u in sim_org.group_members() if g == failing}
    left = next((g, u) for g, u in sim_org.group_members() if g not in (everyone, failing))
    sim_org.remove_member(*left)
    simulator.faults = Faults(members_fail_group=failing)

    state = reconcile(return_state=True)

    assert state.is_completed() and state.name == "Partial", state
    summary = state.result()
    assert summary["status"] == "partial" and "group_members" in summary["incomplete"]
    assert f"1 of the fanned-out calls failed; first: {failing}:" in summary["incomplete"]["group_members"]
    row = run_row(igi_engine, summary["run_id"])
    assert row["status"] == "partial" and row["incomplete"] == summary["incomplete"] and row["error"] is None
    loaded = staging(igi_engine)["group_members"]
    assert failing_members <= loaded.keys() and left in loaded  # nothing it could not read counts as removed
    assert summary["stats"]["group_members"]["removed"] == 0
    assert not any(e["operation"] == 2 for e in events_of(igi_engine, summary["run_id"]))

    capsys.readouterr()
    assert main(["reconcile"]) == 3
    captured = capsys.readouterr()
    assert f"run {summary['run_id'] + 1} partial" in " ".join(captured.out.split())
    assert captured.err.startswith(f"ss-igi reconcile: run {summary['run_id'] + 1} partial, loaded without "
                                   "removals for: group_members")
    assert len(captured.err.strip().splitlines()) == 1

    simulator.faults = Faults()
    assert main(["reconcile"]) == 0
    assert staging(igi_engine) == truth(sim_org)


# ---------------------------------------------------------------------------------------------- 3
@pytest.mark.parametrize("fault", ["user_id_null", "user_id_text"])
def test_a_user_record_without_a_usable_id_never_removes_anyone(igi_engine, ss_client, simulator, sim_org, fault):
    run_reconcile(igi_engine, ss_client)
    members = {u for _, u in sim_org.group_members()}
    victim = next(u for u in sim_org.users() if u["id"] in members and not u["isApplicationAccount"])
    gone = next(u for u in sim_org.users() if u["id"] not in (victim["id"],) and not u["isApplicationAccount"])
    sim_org.remove_user(gone["id"])
    simulator.faults = Faults(**{fault: victim["id"]})

    summary = run_reconcile(igi_engine, ss_client)

    # the victim's record could be any user: no user is taken as removed, not even one really gone
    assert summary.status == "partial" and not summary.ok
    assert "removals withheld: 1 record rejected without a usable id" in summary.incomplete["users"]
    assert run_row(igi_engine, summary.run_id)["status"] == "partial"
    rejects = [r for r in _rejects(igi_engine, summary.run_id) if r["entity"] == "users"]
    if fault == "user_id_null":
        assert rejects == [{"entity": "users", "source_id": None, "reason": "missing key id"}]
    else:
        assert rejects == [{"entity": "users", "source_id": f"x{victim['id']}",
                            "reason": f"wrong type or value for id (expected int): 'x{victim['id']}'"}]
    current = staging(igi_engine)
    assert (victim["id"],) in current["users"] and (gone["id"],) in current["users"]
    assert {k for k in truth(sim_org)["group_members"] if k[1] == victim["id"]} <= current["group_members"].keys()
    events = events_of(igi_engine, summary.run_id)
    assert not any(e["operation"] == 11 for e in events)  # no ACCOUNT_REMOVE
    assert not any(e["code"] == account_code(victim) for e in events)  # nothing at all about the victim

    simulator.faults = Faults()
    healed = run_reconcile(igi_engine, ss_client)
    assert healed.status == "succeeded" and healed.stats["users"].removed == 1
    assert [e["code"] for e in events_of(igi_engine, healed.run_id) if e["operation"] == 11] == [account_code(gone)]
    assert staging(igi_engine) == truth(sim_org)


# ---------------------------------------------------------------------------------------------- 4
_RUN_IN_A_CHILD = """
import sys
from connectors.igi import create_engine
from connectors.secret_server import SecretServerClient
from pipelines.reconcile import run_reconcile
client = SecretServerClient(sys.argv[2], "admin", "admin", max_workers=2)
run_reconcile(create_engine(sys.argv[1]), client)
"""


def _kill_a_run_midway(engine: sa.Engine, database_url: str, base_url: str) -> int:
    """Start a reconcile in a child process, kill it (SIGKILL) while it runs; its run id."""
    before = {r["run_id"] for r in _runs(engine)}
    child = subprocess.Popen([sys.executable, "-c", _RUN_IN_A_CHILD, database_url, base_url],
                             cwd=os.getcwd(), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 60
        while not (started := [r for r in _runs(engine) if r["run_id"] not in before]):
            assert child.poll() is None and time.monotonic() < deadline, "the child run never started"
            time.sleep(0.05)
        run_id = started[0]["run_id"]
        assert mark_abandoned(engine) == []  # a run whose process is alive is left alone, whatever its age
    finally:
        child.send_signal(signal.SIGKILL)
        child.wait()
    assert run_row(engine, run_id)["status"] == "running"
    deadline = time.monotonic() + 30  # the server notices the closed connection and drops the child's lock
    with engine.connect() as conn:
        while conn.execute(sa.text("SELECT count(*) FROM pg_locks WHERE locktype = 'advisory'")).scalar():
            assert time.monotonic() < deadline, "the killed run's lock was never released"
            time.sleep(0.05)
            conn.rollback()
    return run_id


def test_a_run_whose_process_died_is_marked_abandoned_by_check_and_by_the_next_run(
        igi_engine, igi_database_url, simulator, sim_org, ss_client, monkeypatch):
    monkeypatch.setenv("IGI_DATABASE_URL", igi_database_url)
    simulator.faults = Faults(latency_ms=100)  # slow enough to kill it midway
    before = full_dump(igi_engine)

    killed = _kill_a_run_midway(igi_engine, igi_database_url, simulator.base_url)
    check = check_database(Settings())
    assert check.ok and f"reconciliation run {killed} marked abandoned" in check.detail
    row = run_row(igi_engine, killed)
    assert row["status"] == "abandoned" and row["finished_at"] is not None
    assert "process ended before the run recorded an outcome" in row["error"]
    assert "marked abandoned" not in check_database(Settings()).detail  # once

    killed_again = _kill_a_run_midway(igi_engine, igi_database_url, simulator.base_url)
    simulator.faults = Faults()
    assert full_dump(igi_engine) == before  # a killed run leaves staging as it was
    nxt = run_reconcile(igi_engine, ss_client)
    assert nxt.ok and run_row(igi_engine, killed_again)["status"] == "abandoned"
    assert [r["status"] for r in _runs(igi_engine)] == ["abandoned", "abandoned", "succeeded"]


# ---------------------------------------------------------------------------------------------- 5
def test_a_mass_change_of_an_entity_stops_before_the_commit_but_daily_operational_changes_do_not(
        igi_engine, ss_client, sim_org):
    run_reconcile(igi_engine, ss_client)
    people = [u for u in sim_org.users() if not u["isApplicationAccount"]]
    for user in people[:60]:  # every night, most people log in
        sim_org.update_user(user["id"], last_login="2024-06-02T08:00:00", login_failures=1)
    daily = run_reconcile(igi_engine, ss_client)
    assert daily.ok and daily.stats["users"].changed == 60

    for user in people[:60]:  # a bulk edit gone wrong
        sim_org.update_user(user["id"], display_name=f"{user['displayName']} (old)")
    before = full_dump(igi_engine)
    total = len(sim_org.users())

    aborted = run_reconcile(igi_engine, ss_client)

    assert aborted.status == "aborted" and full_dump(igi_engine) == before
    assert aborted.error.startswith("change threshold exceeded, nothing written: ")
    assert f"users: 60 of {total} ({100 * 60 / total:.1f}%) above max_change_percent=50" in aborted.error
    assert "--allow-mass-change" in aborted.error
    row = run_row(igi_engine, aborted.run_id)
    assert row["status"] == "aborted" and row["error"] == aborted.error and row["stats"]["users"]["changed"] == 60

    assert run_reconcile(igi_engine, ss_client, percent_floor=60).ok  # the floor is a setting


def test_a_run_that_would_emit_too_many_events_stops_before_the_commit(igi_engine, ss_client, sim_org):
    first = run_reconcile(igi_engine, ss_client, max_events=20, max_event_percent=1)
    assert first.ok and sum(first.events.values()) > 20  # a first load is exempt: nothing to compare against
    assert first.warnings == [] and run_row(igi_engine, first.run_id)["warnings"] == []  # its ANALYZE went well
    for n in range(25):
        sim_org.add_user(f"new.hire{n}")  # an account and an "Everyone" membership each
    before = full_dump(igi_engine)

    by_count = run_reconcile(igi_engine, ss_client, max_events=20)
    assert by_count.status == "aborted" and full_dump(igi_engine) == before
    assert by_count.error.startswith("event threshold exceeded, nothing written: 50 IGI events for ")
    assert "above max_events=20" in by_count.error
    row = run_row(igi_engine, by_count.run_id)
    assert row["events"] == {"ACCOUNT_CREATE": 25, "PERMISSION_ADD": 25}  # the numbers it would have written

    by_share = run_reconcile(igi_engine, ss_client, max_event_percent=2)
    assert by_share.status == "aborted" and "above max_event_percent=2" in by_share.error
    assert full_dump(igi_engine) == before

    dry = run_reconcile(igi_engine, ss_client, max_events=20, dry_run=True)
    assert dry.status == "succeeded" and dry.events == {"ACCOUNT_CREATE": 25, "PERMISSION_ADD": 25}
    assert dry.warnings and dry.warnings[0].startswith("a real run would stop here: event threshold exceeded")
    assert run_row(igi_engine, dry.run_id)["warnings"] == dry.warnings and full_dump(igi_engine) == before

    planned = run_reconcile(igi_engine, ss_client, max_events=20, max_event_percent=2, allow_mass_change=True)
    assert planned.ok and planned.events == {"ACCOUNT_CREATE": 25, "PERMISSION_ADD": 25}
    assert staging(igi_engine) == truth(sim_org)


def test_the_runbooks_override_lets_a_planned_mass_removal_through_and_its_dry_run_exits_0(
        prefect_harness, settings_env, sim_org, igi_engine, capsys):
    assert main(["reconcile"]) == 0
    everyone = sim_org.groups()[0]["id"]
    leaving = [(g, u) for g, u in sim_org.group_members() if g != everyone][:40]
    for group_id, user_id in leaving:  # a department's memberships go
        sim_org.remove_member(group_id, user_id)
    capsys.readouterr()

    assert main(["reconcile", "--max-removals", "5000"]) == 1  # the percentage limit still applies
    err = capsys.readouterr().err
    assert "above max_removal_percent=10" in err and "--allow-mass-change" in err

    assert main(["reconcile", "--dry-run"]) == 0  # a preview: it prints the diff and what a real run would do
    out = " ".join(capsys.readouterr().out.split())  # whatever the terminal's width
    assert "removed group_members" in out and "a real run would stop here: removal threshold exceeded" in out

    assert main(["reconcile", "--allow-mass-change"]) == 0
    assert staging(igi_engine) == truth(sim_org)
    assert run_row(igi_engine, 4)["stats"]["group_members"]["removed"] == len(leaving)


# ---------------------------------------------------------------------------------------------- issue 20.5
def test_an_unreachable_dask_scheduler_fails_the_run_with_its_reason(
        prefect_harness, settings_env, igi_engine, monkeypatch):
    monkeypatch.setenv(DASK_ADDRESS_SETTING, "tcp://127.0.0.1:1")
    runner = DaskTaskRunner(address="tcp://127.0.0.1:1")

    with dask.config.set({"distributed.comm.timeouts.connect": "2s"}):
        state = reconcile.with_options(task_runner=runner)(return_state=True)

    assert state.is_failed(), state
    [run] = _runs(igi_engine)
    assert run["status"] == "failed" and run["finished_at"] is not None
    assert "tcp://127.0.0.1:1" in run["error"]
    assert staging(igi_engine)["users"] == {}
