"""`ss-igi runs` and `ss-igi runs show ID` after real reconciliations: history, counts, rejects, change log."""

from __future__ import annotations

import io
import json

from rich.console import Console

from connectors.igi.runs import list_runs, read_run
from pipelines.cli import main
from pipelines.commands.runs import print_run, print_runs
from pipelines.reconcile import run_reconcile
from simulator.faults import Faults
from tests.reconcile.helpers import make_client


def test_runs_lists_the_history_and_show_gives_counts_rejects_and_change_log(
        ops_env, igi_engine, simulator, sim_org, capsys):
    client = make_client(simulator)
    try:
        first = run_reconcile(igi_engine, client)
        group_id, user_id = sim_org.group_members()[-1]
        sim_org.remove_member(group_id, user_id)
        victim = sim_org.users()[5]["id"]
        simulator.faults = Faults(user_id_text=victim)
        second = run_reconcile(igi_engine, client)
        simulator.faults = Faults()
        third = run_reconcile(igi_engine, client, dry_run=True)
    finally:
        client.close()
    assert (first.status, second.status, third.status) == ("succeeded", "partial", "succeeded")

    assert main(["runs", "--json"]) == 0
    runs = json.loads(capsys.readouterr().out)
    assert [r["run_id"] for r in runs] == [third.run_id, second.run_id, first.run_id]
    assert [r["status"] for r in runs] == ["succeeded", "partial", "succeeded"]
    assert [r["dry_run"] for r in runs] == [True, False, False]
    assert runs[2]["stats"]["users"]["added"] == len(sim_org.users()) and runs[2]["seconds"] > 0
    assert main(["runs", "--limit", "1", "--json"]) == 0
    assert [r["run_id"] for r in json.loads(capsys.readouterr().out)] == [third.run_id]

    assert main(["runs", "show", str(second.run_id), "--json"]) == 0
    shown = json.loads(capsys.readouterr().out)
    assert shown["status"] == "partial" and "users" in shown["incomplete"]
    assert shown["reject_total"] == len(shown["rejects"]) >= 1
    assert shown["rejects"][0] == {"entity": "users", "source_id": f"x{victim}",
                                   "reason": f"wrong type or value for id (expected int): 'x{victim}'"}
    assert all(r["reason"] for r in shown["rejects"])
    assert shown["change_log"] == {"group_members": {"added": 0, "changed": 0, "removed": 1}}
    assert shown["stats"]["group_members"]["removed"] == 1

    wide = io.StringIO()
    print_runs(list_runs(igi_engine), Console(file=wide, width=120))
    lines = wide.getvalue().splitlines()
    header = next(line for line in lines if "Outcome" in line)
    assert all(h in header for h in ("Run", "Started (UTC)", "Entity", "Added", "Changed", "Removed", "Rejected"))
    users_first = next(line for line in lines if line.split()[:1] == [str(first.run_id)])
    assert "default" in users_first and "users" in users_first and f" {len(sim_org.users())} " in users_first
    assert "succeeded" in lines[lines.index(users_first) + 1]  # the run's instance, then its outcome
    assert any("dry run" in line for line in lines) and any("partial" in line for line in lines)
    shown_run = io.StringIO()
    print_run(read_run(igi_engine, second.run_id) or {}, Console(file=shown_run, width=120))
    text = shown_run.getvalue()
    assert f"Rejects ({shown['reject_total']})" in text and f"x{victim}" in text
    assert "Change log" in text and "incomplete" in text


def test_runs_show_of_an_unknown_run_says_so(ops_env, igi_engine, capsys):
    assert main(["runs"]) == 0
    assert "no reconciliation run yet" in capsys.readouterr().out
    assert main(["runs", "show", "42"]) == 1
    err = capsys.readouterr().err
    assert err == "ss-igi runs: no reconciliation run 42; ss-igi runs lists the last ones\n"
