"""The Prefect flow `reconcile` and `ss-igi reconcile`, wired from settings (environment variables) to the
simulator and a test database, run on Prefect's temporary local API."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from pipelines.cli import main
from pipelines.reconcile import ReconciliationError
from pipelines.reconcile_flow import reconcile
from tests.reconcile.helpers import run_row, staging, truth


def _artifact_rows(key: str) -> list[dict]:
    import json

    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import ArtifactFilter, ArtifactFilterKey
    from prefect.client.schemas.sorting import ArtifactSort

    with get_client(sync_client=True) as client:
        artifacts = client.read_artifacts(artifact_filter=ArtifactFilter(key=ArtifactFilterKey(any_=[key])),
                                          sort=ArtifactSort.CREATED_DESC, limit=1)
    data = artifacts[0].data
    return json.loads(data) if isinstance(data, str) else data  # type: ignore[return-value]


def test_the_flow_reconciles_publishes_a_table_artifact_and_returns_the_summary(
        prefect_harness, settings_env, igi_engine, sim_org):
    summary = reconcile()

    assert summary["status"] == "succeeded" and not summary["dry_run"]
    assert set(summary["stats"]) == set(truth(sim_org))
    assert summary["stats"]["users"]["added"] == len(sim_org.users())
    assert staging(igi_engine) == truth(sim_org)
    row = run_row(igi_engine, summary["run_id"])
    assert row["flow_run_id"] is not None and row["parameters"]["entities"][0] == "users"
    rows = _artifact_rows("reconcile-summary")
    assert {r["entity"] for r in rows} == set(summary["stats"])
    users = next(r for r in rows if r["entity"] == "users")
    assert users["added"] == len(sim_org.users()) and users["scanned"] == len(sim_org.users())
    with igi_engine.connect() as conn:
        flows = conn.execute(sa.text("SELECT count(DISTINCT flow_run_id) FROM ss_staging.reconciliation_runs")).scalar()
    assert flows == 1


def test_the_flow_raises_with_the_summary_when_a_threshold_aborts_it(
        prefect_harness, settings_env, igi_engine, sim_org):
    reconcile()
    for user in sim_org.users()[:3]:
        sim_org.remove_user(user["id"])

    with pytest.raises(ReconciliationError) as raised:
        reconcile(max_removals=2)

    assert raised.value.summary.status == "aborted" and "max_removals=2" in str(raised.value)
    assert run_row(igi_engine, raised.value.summary.run_id)["status"] == "aborted"
    assert reconcile(entities=["users"], max_removals=3)["stats"]["users"]["removed"] == 3


def test_the_cli_prints_the_summary_table(prefect_harness, settings_env, igi_engine, sim_org, capsys):
    assert main(["reconcile", "--entities", "users,groups", "--dry-run"]) == 0
    out = capsys.readouterr().out
    assert "ss-igi reconcile: run 1 succeeded (dry run)" in out
    assert "users" in out and "groups" in out and "folders" not in out
    assert "ACCOUNT_CREATE" in out
    assert staging(igi_engine)["users"] == {}

    assert main(["reconcile"]) == 0
    capsys.readouterr()
    for user in sim_org.users()[:3]:
        sim_org.remove_user(user["id"])
    assert main(["reconcile", "--max-removals", "1"]) == 1
    captured = capsys.readouterr()
    assert "aborted" in captured.out
    assert captured.err.startswith("ss-igi reconcile: run 3 aborted: removal threshold exceeded")
    assert len(captured.err.strip().splitlines()) == 1
    assert main(["reconcile", "--no-removal-limits", "--entities", "users"]) == 0


def test_the_cli_refuses_an_unknown_entity(capsys):
    with pytest.raises(SystemExit):
        main(["reconcile", "--entities", "users,accounts"])
    assert "unknown entity accounts" in capsys.readouterr().err
