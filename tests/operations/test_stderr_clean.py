"""A command that succeeds writes nothing on stderr, through the console script as a user runs it (a fresh
Prefect home, its temporary API started and stopped by the command), to the very end of the process: Prefect's
events worker used to note "Still processing items" there at exit."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import sqlalchemy as sa

from connectors.igi.queue import Operation, enqueue_request

SS_IGI = str(Path(sys.executable).with_name("ss-igi"))


def test_provision_leaves_stderr_clean(ops_env, igi_engine, simulator, tmp_path):
    users = [u["userName"] for u in simulator.org.users() if not u["domainName"] and not u["isApplicationAccount"]]
    for name in users:
        enqueue_request(igi_engine, operation=Operation.ACCOUNT_DISABLE, code=name)
    env = {k: v for k, v in os.environ.items() if k not in ("PREFECT_HOME", "PREFECT_API_URL")}
    env.update(ops_env, SS_IGI_HOME=str(tmp_path / "home"))
    done = subprocess.run([SS_IGI, "provision", "--workers", "2"], env=env, capture_output=True, text=True,
                          timeout=300, stdin=subprocess.DEVNULL)
    assert done.returncode == 0, done.stderr
    with igi_engine.connect() as conn:
        assert conn.execute(sa.text("SELECT count(*) FROM igi.event_out WHERE state = 2")).scalar() == len(users)
    assert done.stderr == ""


def test_reconcile_leaves_stderr_clean(ops_env, igi_engine, tmp_path):
    env = {k: v for k, v in os.environ.items() if k not in ("PREFECT_HOME", "PREFECT_API_URL")}
    env.update(ops_env, SS_IGI_HOME=str(tmp_path / "home"))
    done = subprocess.run([SS_IGI, "reconcile"], env=env, capture_output=True, text=True, timeout=300,
                          stdin=subprocess.DEVNULL)
    assert done.returncode == 0, done.stderr
    with igi_engine.connect() as conn:
        assert conn.execute(sa.text("SELECT status FROM ss_staging.reconciliation_runs")).scalar() == "succeeded"
    assert done.stderr == ""


def test_the_events_workers_exit_note_stays_off_the_terminal(ops_env, capsys):
    """Prefect's events worker logs "Still processing items" (WARNING, under its class name) while it delivers
    the last events at exit; after a command that note is below the level that is shown."""
    import logging

    from prefect.events.worker import EventsWorker

    from pipelines.cli import main

    assert main(["check"]) == 0
    assert not logging.getLogger(EventsWorker.__name__).isEnabledFor(logging.WARNING)
