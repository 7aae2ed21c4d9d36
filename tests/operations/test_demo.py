"""The README's demo, as a new user runs it: no configuration, a fresh data directory, no PostgreSQL running; two
simulated Secret Servers, instances default and dr, in one database."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

SS_IGI = str(Path(sys.executable).with_name("ss-igi"))


def test_demo_runs_end_to_end_with_no_configuration(tmp_path):
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("SECRET_SERVER_", "IGI_", "SS_IGI_", "PREFECT_", "DR_"))}
    env["SS_IGI_HOME"] = str(tmp_path / "home")
    env["COLUMNS"] = "80"
    result = subprocess.run([SS_IGI, "demo", "--scale", "s"], env=env, capture_output=True, text=True,
                            timeout=600, cwd=tmp_path)
    out = result.stdout
    assert result.returncode == 0, out + result.stderr
    # Two Secret Servers whose ids overlap, as instances default and dr of one database.
    assert "instance default: http://127.0.0.1:" in out and "instance dr: http://127.0.0.1:" in out
    assert "ids overlap: 100 users and 300 secrets share ids" in out
    assert "First reconcile of default: run 1 succeeded" in out
    assert "First reconcile of dr: run 2 succeeded" in out
    # Requests for both instances, each executed on the instance its target names.
    assert "processed 6, succeeded 6, failed 0" in out
    assert "SecretServer-dr" in out
    assert "Second reconcile of default: run 3 succeeded" in out
    assert "Second reconcile of dr: run 4 succeeded" in out
    assert "added user contractor.jane" in out
    assert "Three example queries" in out
    assert "on instance default" in out and "on any instance" in out
    assert "demo.newhire" in out
    assert "psql" in out
    assert max(len(line) for line in out.splitlines()) <= 80  # readable on an 80-column terminal
    # The demo kept its data: Prefect state and the embedded database live under SS_IGI_HOME.
    assert (tmp_path / "home" / "pgdata" / "PG_VERSION").exists()
    assert (tmp_path / "home" / "prefect").is_dir()
    assert "admin" not in result.stderr
