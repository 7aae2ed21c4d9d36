"""The README's demo, as a new user runs it: no configuration, a fresh data directory, no PostgreSQL running."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

SS_IGI = str(Path(sys.executable).with_name("ss-igi"))


def test_demo_runs_end_to_end_with_no_configuration(tmp_path):
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("SECRET_SERVER_", "IGI_", "SS_IGI_", "PREFECT_"))}
    env["SS_IGI_HOME"] = str(tmp_path / "home")
    env["COLUMNS"] = "160"
    result = subprocess.run([SS_IGI, "demo", "--scale", "s"], env=env, capture_output=True, text=True,
                            timeout=600, cwd=tmp_path)
    out = result.stdout
    assert result.returncode == 0, out + result.stderr
    assert "First reconcile: run 1 succeeded" in out
    assert "processed 4, succeeded 4, failed 0" in out
    assert "Second reconcile: run 2 succeeded" in out
    assert "added user contractor.jane" in out
    assert "Three example queries" in out
    assert "demo.newhire" in out
    assert "psql" in out
    # The demo kept its data: Prefect state and the embedded database live under SS_IGI_HOME.
    assert (tmp_path / "home" / "pgdata" / "PG_VERSION").exists()
    assert (tmp_path / "home" / "prefect").is_dir()
    assert "admin" not in result.stderr
