"""`python -m simulator` (what `ss-igi simulator` runs) starts, prints where it listens, stops on Ctrl-C."""

from __future__ import annotations

import signal
import subprocess
import sys

import requests

from simulator.cli import main


def test_the_command_serves_until_interrupted() -> None:
    process = subprocess.Popen([sys.executable, "-m", "simulator", "--port", "0", "--seed", "3",
                                "--faults", "latency_ms=1"], stdout=subprocess.PIPE, text=True)
    try:
        assert process.stdout is not None
        lines = [process.stdout.readline() for _ in range(4)]
        base_url = lines[1].split("base URL:", 1)[1].strip()
        assert "username=admin password=admin" in lines[3]
        assert requests.get(f"{base_url}/api/v1/healthcheck", timeout=10).json()["healthy"] is True
        process.send_signal(signal.SIGINT)
        assert process.wait(timeout=20) == 0
    finally:
        process.kill()
        process.wait()


def test_bad_fault_options_are_refused() -> None:
    assert main(["--faults", "explode=1"]) == 2
