"""Deployments for real: a local Prefect API (the session's temporary server), deployments registered from
deployments/prefect.yaml and picked up by a process worker, and `ss-igi serve` taking a run; both complete
against the simulator and a real database."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from connectors.igi.queue import Operation, enqueue_request

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent


def _env(ops_env: dict[str, str], api_url: str, tmp_path: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PREFECT_")}
    env.update(ops_env)
    env.update({
        "PREFECT_API_URL": api_url,
        "PREFECT_HOME": str(tmp_path / "prefect-client"),
        "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
    })
    return env


def _prefect(env: dict[str, str], *args: str, timeout: float = 120) -> str:
    result = subprocess.run([str(BIN / "prefect"), "--no-prompt", *args], env=env, cwd=ROOT,
                            capture_output=True, text=True, timeout=timeout)
    assert result.returncode == 0, f"prefect {' '.join(args)}:\n{result.stdout}\n{result.stderr}"
    return result.stdout


def _read_flow_run(flow_run_id: Any) -> Any:
    from prefect.client.orchestration import get_client

    async def read() -> Any:
        async with get_client() as client:
            return await client.read_flow_run(flow_run_id)

    return asyncio.run(read())


def _deployment_exists(name: str) -> bool:
    from prefect.client.orchestration import get_client

    async def read() -> bool:
        async with get_client() as client:
            try:
                deployment = await client.read_deployment_by_name(name)
            except Exception:
                return False
            return deployment is not None

    return asyncio.run(read())


def _wait_for_final_state(flow_run_id: Any, timeout: float) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        run = _read_flow_run(flow_run_id)
        if run.state is not None and run.state.is_final():
            return run
        time.sleep(1)
    pytest.fail(f"flow run {flow_run_id} did not finish in {timeout} s")


def _count(engine: sa.Engine, sql: str) -> int:
    with engine.connect() as conn:
        return int(conn.execute(sa.text(sql)).scalar_one())


def test_prefect_yaml_deployment_runs_on_a_process_worker(ops_env, prefect_harness, sim_org, igi_engine, tmp_path):
    from prefect.deployments import run_deployment

    env = _env(ops_env, prefect_harness, tmp_path)
    pool = "ss-igi"
    subprocess.run([str(BIN / "prefect"), "--no-prompt", "work-pool", "create", pool, "--type", "process"],
                   env=env, cwd=ROOT, capture_output=True, text=True, timeout=120)  # may exist from another test
    _prefect(env, "deploy", "--all", "--prefect-file", "deployments/prefect.yaml")

    flow_run = run_deployment("reconcile/nightly-reconcile", timeout=0)
    worker = subprocess.run([str(BIN / "prefect"), "worker", "start", "--pool", pool, "--run-once"],
                            env=env, cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert worker.returncode == 0, worker.stdout + worker.stderr

    finished = _wait_for_final_state(flow_run.id, timeout=120)
    assert finished.state.is_completed(), finished.state
    assert _count(igi_engine, "SELECT count(*) FROM ss_staging.users WHERE deleted_at IS NULL") == len(sim_org.users())
    assert _count(igi_engine, "SELECT count(*) FROM ss_staging.reconciliation_runs WHERE status = 'succeeded'") == 1


def test_a_reconcile_deployment_per_instance_runs_its_instance_only(two_instances, prefect_harness, igi_engine,
                                                                   tmp_path):
    """prefect.yaml's reconcile deployment run with parameter instance=dr, as a deployment of instance dr would
    be (README: Several instances): the worker's environment configures both instances; only dr is reconciled."""
    from prefect.deployments import run_deployment

    env = _env(two_instances.env, prefect_harness, tmp_path)
    pool = "ss-igi"
    subprocess.run([str(BIN / "prefect"), "--no-prompt", "work-pool", "create", pool, "--type", "process"],
                   env=env, cwd=ROOT, capture_output=True, text=True, timeout=120)  # may exist from another test
    _prefect(env, "deploy", "--all", "--prefect-file", "deployments/prefect.yaml")

    flow_run = run_deployment("reconcile/nightly-reconcile", parameters={"instance": "dr"}, timeout=0)
    worker = subprocess.run([str(BIN / "prefect"), "worker", "start", "--pool", pool, "--run-once"],
                            env=env, cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert worker.returncode == 0, worker.stdout + worker.stderr

    finished = _wait_for_final_state(flow_run.id, timeout=120)
    assert finished.state.is_completed(), finished.state
    with igi_engine.connect() as conn:
        runs = conn.execute(sa.text("SELECT instance, status FROM ss_staging.reconciliation_runs")).all()
        users = conn.execute(sa.text("SELECT DISTINCT instance FROM ss_staging.users")).scalars().all()
    assert [tuple(r) for r in runs] == [("dr", "succeeded")] and users == ["dr"]


def test_serve_picks_up_a_provisioning_run(ops_env, prefect_harness, sim_org, igi_engine, tmp_path):
    from prefect.deployments import run_deployment

    env = _env(ops_env, prefect_harness, tmp_path)
    user = next(u for u in sim_org.users()
                if u["enabled"] and not u["isApplicationAccount"] and u["domainId"] in (None, -1))
    with igi_engine.begin() as conn:
        event_id = enqueue_request(conn, operation=Operation.ACCOUNT_DISABLE, code=user["userName"])

    serve = subprocess.Popen([str(BIN / "ss-igi"), "serve", "--provision-interval", "3600"], env=env, cwd=ROOT,
                             stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        deadline = time.monotonic() + 120
        while not _deployment_exists("provision/provision-every-minute-served"):
            assert serve.poll() is None, serve.stdout.read() if serve.stdout else "serve exited"
            assert time.monotonic() < deadline, "ss-igi serve did not register its deployments"
            time.sleep(1)
        flow_run = run_deployment("provision/provision-every-minute-served", timeout=0)
        finished = _wait_for_final_state(flow_run.id, timeout=180)
    finally:
        serve.terminate()
        output, _ = serve.communicate(timeout=30)
    assert finished.state.is_completed(), f"{finished.state}\n{output}"

    with igi_engine.connect() as conn:
        state = conn.execute(sa.text("SELECT state FROM igi.event_out WHERE event_id = :e"), {"e": event_id}).scalar()
    assert state == 2
    assert sim_org.user_map[user["id"]].enabled is False
