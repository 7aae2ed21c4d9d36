"""`ss-igi simulator` and `python -m simulator` start, print where they listen, stop on Ctrl-C."""

from __future__ import annotations

import signal
import subprocess
import sys
from pathlib import Path

import pytest
import requests

from simulator.cli import main


@pytest.mark.parametrize("command", [[str(Path(sys.executable).with_name("ss-igi")), "simulator"],
                                     [sys.executable, "-m", "simulator"]], ids=["ss-igi", "python-m"])
def test_the_command_serves_until_interrupted(command: list[str]) -> None:
    process = subprocess.Popen([*command, "--port", "0", "--seed", "3", "--faults", "latency_ms=1"],
                               stdout=subprocess.PIPE, text=True)
    try:
        assert process.stdout is not None
        lines = [process.stdout.readline() for _ in range(4)]
        base_url = lines[1].split("base URL:", 1)[1].strip()
        assert "username=admin password=admin" in lines[3]
        assert requests.get(f"{base_url}/api/v1/healthcheck", timeout=10).json()["Healthy"] is True
        process.send_signal(signal.SIGINT)
        assert process.wait(timeout=20) == 0
    finally:
        process.kill()
        process.wait()


def test_bad_fault_options_are_refused() -> None:
    assert main(["--faults", "explode=1"]) == 2
