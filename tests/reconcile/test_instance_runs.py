"""Runs per instance: two instances' merges never wait for each other (each takes its own instance's staging
lock), and a run is wired from a configured instance's settings, by `reconcile_with_settings` and by the flow."""

from __future__ import annotations

import threading
import time
from typing import Any

import pytest
import sqlalchemy as sa

from connectors.igi.staging import STAGING_LOCK_KEY
from pipelines.reconcile import reconcile_with_settings
from pipelines.secret_server import ConfigurationError
from pipelines.settings import Settings
from tests.reconcile.helpers import TARGETS, events_of, reconcile_instance, run_row, staging, truth


def _waiting_for_a_staging_lock(engine: sa.Engine) -> int:
    with engine.connect() as conn:
        return int(conn.execute(sa.text(
            "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND NOT granted AND objsubid = 2 "
            "AND classid = CAST(:k AS oid)"), {"k": STAGING_LOCK_KEY}).scalar_one())


def test_a_run_of_one_instance_completes_while_another_holds_its_staging_lock(
        igi_engine, instance_clients, prod_org, dr_org):
    results: dict[str, Any] = {}

    def run(instance: str) -> threading.Thread:
        thread = threading.Thread(
            target=lambda: results.update({instance: reconcile_instance(igi_engine, instance_clients, instance)}))
        thread.start()
        return thread

    with igi_engine.connect() as holder, holder.begin():  # as a merge of the default instance would hold it
        holder.execute(sa.text("SELECT pg_advisory_xact_lock(:k, hashtext('default'))"), {"k": STAGING_LOCK_KEY})
        dr = run("dr")
        dr.join(timeout=120)
        assert not dr.is_alive() and results["dr"].ok, "dr's run must not wait for the default instance's lock"
        assert staging(igi_engine, instance="dr") == truth(dr_org)

        prod = run("default")  # the default instance's own run does wait for it
        deadline = time.monotonic() + 60
        while not _waiting_for_a_staging_lock(igi_engine) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert _waiting_for_a_staging_lock(igi_engine) == 1 and "default" not in results
    prod.join(timeout=120)
    assert not prod.is_alive() and results["default"].ok
    assert staging(igi_engine, instance="default") == truth(prod_org)


def test_reconcile_with_settings_runs_the_named_instance_with_its_own_client_and_target(
        two_instances_env, igi_engine, dr_org):
    summary = reconcile_with_settings(Settings(), instance="dr")

    assert summary.ok and summary.instance == "dr"
    assert staging(igi_engine, instance="dr") == truth(dr_org)
    assert staging(igi_engine, instance="default")["users"] == {}
    assert {e["target"] for e in events_of(igi_engine, summary.run_id)} == {TARGETS["dr"]}
    assert run_row(igi_engine, summary.run_id)["instance"] == "dr"
    with pytest.raises(ConfigurationError, match="several instances are configured"):
        reconcile_with_settings(Settings())


def test_the_flow_reconciles_the_instance_it_is_given_and_names_it(
        prefect_harness, two_instances_env, igi_engine, prod_org):
    from prefect.client.orchestration import get_client

    from pipelines.reconcile_flow import reconcile

    summary = reconcile(instance="default")

    assert summary["status"] == "succeeded" and summary["instance"] == "default"
    assert staging(igi_engine, instance="default") == truth(prod_org)
    assert staging(igi_engine, instance="dr")["users"] == {}
    flow_run_id = run_row(igi_engine, summary["run_id"])["flow_run_id"]
    with get_client(sync_client=True) as client:
        assert client.read_flow_run(flow_run_id).name.endswith("-default")
