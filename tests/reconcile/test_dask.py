"""Reconciliation's fan-out on Prefect's Dask task runner (SS_IGI_DASK_ADDRESS), with a local Dask cluster:
the per-object calls run as chunk tasks on the Dask workers, and staging ends exactly as with the thread pool."""

from __future__ import annotations

import asyncio

from prefect_dask import DaskTaskRunner

from pipelines.reconcile_flow import DASK_ADDRESS_SETTING, reconcile
from tests.reconcile.helpers import staging, truth


def _task_run_names(flow_run_id) -> list[str]:
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import FlowRunFilter, FlowRunFilterId

    async def read() -> list[str]:
        async with get_client() as client:
            runs = await client.read_task_runs(
                flow_run_filter=FlowRunFilter(id=FlowRunFilterId(any_=[flow_run_id])), limit=200)
            return [run.name for run in runs]

    return asyncio.run(read())


def _local_runner() -> DaskTaskRunner:
    # No dashboard: bokeh is not installed, and a second cluster in one process then fails now and then on
    # distributed's half-imported dashboard module ("module 'distributed.dashboard' has no attribute 'scheduler'").
    return DaskTaskRunner(cluster_kwargs={"n_workers": 2, "threads_per_worker": 2, "processes": False,
                                          "dashboard_address": None})


def test_fan_out_runs_on_a_local_dask_cluster(monkeypatch, simulator, sim_org, igi_database_url, igi_engine,
                                              prefect_harness):
    for name, value in {"SECRET_SERVER_URL": simulator.base_url, "SECRET_SERVER_USERNAME": "admin",
                        "SECRET_SERVER_PASSWORD": "admin", "IGI_DATABASE_URL": igi_database_url,
                        DASK_ADDRESS_SETTING: "local"}.items():
        monkeypatch.setenv(name, value)
    runner = _local_runner()

    state = reconcile.with_options(task_runner=runner)(return_state=True)

    assert state.is_completed(), state
    assert staging(igi_engine) == truth(sim_org)
    names = _task_run_names(state.state_details.flow_run_id)
    for fanned_out in ("group_members", "folder_permissions", "secret_permissions"):
        assert sum(n == f"extract-{fanned_out}-chunk" for n in names) > 1, names


def test_the_fan_out_chunks_on_dask_read_the_runs_own_instance(monkeypatch, two_instances_env, igi_engine, dr_org,
                                                              prefect_harness):
    """Each chunk opens a client of its own on a worker: of the run's instance, never the default one."""
    monkeypatch.setenv(DASK_ADDRESS_SETTING, "local")
    runner = _local_runner()

    state = reconcile.with_options(task_runner=runner)(instance="dr", return_state=True)

    assert state.is_completed(), state
    assert staging(igi_engine, instance="dr") == truth(dr_org)
    assert staging(igi_engine, instance="default")["users"] == {}
    names = _task_run_names(state.state_details.flow_run_id)
    assert sum(n == "extract-secret_permissions-chunk" for n in names) > 1, names
