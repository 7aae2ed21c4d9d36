"""`ss-igi reconcile` with no Prefect API configured runs the flow's code in its own process: no temporary
Prefect server is started (it took most of a small tenant's run), so it leaves no Prefect state behind; the run
is recorded in ss_staging.reconciliation_runs, as every run is."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import sqlalchemy as sa

SS_IGI = str(Path(sys.executable).with_name("ss-igi"))


def test_reconcile_without_a_prefect_api_starts_no_prefect_server(ops_env, igi_engine, tmp_path):
    prefect_home = tmp_path / "prefect"
    env = {k: v for k, v in os.environ.items() if not k.startswith("PREFECT_")}
    env.update(ops_env, PREFECT_HOME=str(prefect_home), PREFECT_SERVER_ANALYTICS_ENABLED="false")

    done = subprocess.run([SS_IGI, "reconcile"], env=env, capture_output=True, text=True, timeout=300,
                          stdin=subprocess.DEVNULL, cwd=tmp_path)

    assert done.returncode == 0, done.stderr
    assert done.stderr == ""
    assert "ss-igi reconcile: run 1 succeeded" in done.stdout
    with igi_engine.connect() as conn:
        status, flow_run_id = conn.execute(sa.text(
            "SELECT status, flow_run_id FROM ss_staging.reconciliation_runs")).one()
    assert status == "succeeded" and flow_run_id is None  # no flow run: no Prefect API to record one
    # The temporary server keeps its database (prefect.db) in PREFECT_HOME; nothing of Prefect's was written.
    assert not prefect_home.exists() or not any(prefect_home.iterdir()), list(prefect_home.iterdir())



def test_the_command_lines_in_process_paths_do_not_import_prefect():
    """Importing Prefect costs about 2 s: the commands' in-process paths (the reconcile and the provisioning
    workers, with their database and client) must not pay for it; only the flow modules import it."""
    code = ("import sys\n"
            "import pipelines.cli, pipelines.commands.reconcile, pipelines.commands.provision\n"
            "import pipelines.reconcile, pipelines.provision, pipelines.database, pipelines.secret_server\n"
            "print('prefect' in sys.modules)\n"
            "import pipelines.provision_flow, pipelines.reconcile_flow\n"
            "print('prefect' in sys.modules)\n")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120,
                          env={k: v for k, v in os.environ.items() if not k.startswith("PREFECT_API")})
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["False", "True"]
