"""Provisioning throughput: 1,000 mixed requests executed by ``workers`` workers, and duplicate executions; and
the same with 500 requests against a slow, throttling server whose slowest calls outlast the claims' lease.

The world (bench/simproc.py): 160 existing accounts with a group each, one folder and one secret that break
inheritance. Five requests per account, enqueued round-robin so that every batch mixes accounts and workers
contend: existing accounts disable, enable, add to their group, remove from it, modify; 40 new accounts are
created, granted the folder and the secret, get a new password, and are disabled. Each request needs exactly
one write on Secret Server, so the simulator's request log tells duplicates: every write beyond the expected
count per kind of call (``POST /users``, ``PATCH /users/N``, ...) is an execution done twice.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from collections import Counter
from typing import Any

import sqlalchemy as sa

from bench.simproc import SimulatorProcess
from connectors.igi import create_engine
from connectors.igi.queue import Operation as Op
from connectors.igi.queue import enqueue_request
from connectors.secret_server import SecretServerClient
from pipelines.passwords import PasswordBox
from pipelines.provision import ProvisionOptions, run_workers

EXISTING, NEW = 160, 40  # 5 requests each: 1,000
# The slow server: some calls take longer than the lease, some answer 429 with a Retry-After longer than it.
SLOW_SERVER = {"existing": 80, "new": 20, "lease_seconds": 2.0,
               "faults": "slow_rate=0.02,slow_ms=3000,rate_429=0.02,retry_after_s=3,seed=11"}


def _plan(world: Any, new: int = NEW) -> list[tuple[int, str, dict[str, Any]]]:
    per_account: list[list[tuple[int, str, dict[str, Any]]]] = []
    for code in world.users:
        per_account.append([
            (Op.ACCOUNT_DISABLE, code, {}), (Op.ACCOUNT_ENABLE, code, {}),
            (Op.PERMISSION_ADD, code, {"permission_type": "group", "permission_name": f"G{code[4:]}"}),
            (Op.PERMISSION_REMOVE, code, {"permission_type": "group", "permission_id": world.own_group[code]}),
            (Op.ACCOUNT_MODIFY, code, {"attributes": {"displayName": f"{code} v2"}})])
    for i in range(new):
        code = f"new{i:04d}"
        per_account.append([
            (Op.ACCOUNT_CREATE, code, {"password": f"First-Pass-{i}", "attributes": {"displayName": code}}),
            (Op.PERMISSION_ADD, code, {"permission_type": "folder", "permission_id": world.folder,
                                       "folder_access_role": "View", "secret_access_role": "List"}),
            (Op.PERMISSION_ADD, code, {"permission_type": "secret", "permission_id": world.secret,
                                       "secret_access_role": "View"}),
            (Op.ACCOUNT_PWDCHANGE, code, {"password": f"Second-Pass-{i}"}),
            (Op.ACCOUNT_DISABLE, code, {})])
    return [steps[i] for i in range(5) for steps in per_account]  # round-robin across accounts


def expected_writes(existing: int, new: int) -> Counter[str]:
    """One write per request, by kind of call."""
    return Counter({"PATCH /users/N": 3 * existing + new, "POST /groups/N/users": existing,
                    "DELETE /groups/N/users/N": existing, "POST /users": new, "POST /folder-permissions": new,
                    "POST /secret-permissions": new, "POST /users/N/password-reset": new})


def cli_environment(base_url: str, database_url: str, fernet_key: str | None = None) -> dict[str, str]:
    """The environment of an ``ss-igi`` command run against the simulator, without a Prefect API."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PREFECT_API_", "SECRET_SERVER_", "IGI_"))}
    env.update({"SECRET_SERVER_URL": base_url, "SECRET_SERVER_USERNAME": "admin", "SECRET_SERVER_PASSWORD": "admin",
                "SECRET_SERVER_VERIFY_TLS": "false", "IGI_DATABASE_URL": database_url,
                "PREFECT_SERVER_ANALYTICS_ENABLED": "false"})
    if fernet_key:
        env["SS_IGI_FERNET_KEY"] = fernet_key
    return env


def run_cli(arguments: list[str], env: dict[str, str]) -> float:
    """Run ``ss-igi ARGUMENTS`` in a fresh process and return its wall time (start-up included)."""
    started = time.perf_counter()
    done = subprocess.run([sys.executable, "-m", "pipelines.cli", *arguments], env=env, capture_output=True,
                          text=True, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"ss-igi {' '.join(arguments)} failed ({done.returncode}): {done.stderr[-3000:]}")
    return time.perf_counter() - started


def provision_run(database_url: str, workers: int, batch_size: int = 50, *, existing: int = EXISTING,
                  new: int = NEW, lease_seconds: float = 300, faults: str | None = None,
                  cli: bool = False) -> dict[str, Any]:
    """Enqueue ``5 * (existing + new)`` requests in a fresh migrated database ``database_url`` and time
    ``workers`` workers until every request is final (a request sent back by a 429 waits for its Retry-After).
    ``cli``: the workers are those of ``ss-igi provision --workers N`` in a process of its own (its start-up
    counted), not `run_workers` in this one."""
    key = PasswordBox.generate_key()
    box = PasswordBox(key)
    engine = create_engine(database_url, pool_size=2 * workers + 2)
    sim = SimulatorProcess("provision", existing=existing, faults=faults)
    try:
        plan = _plan(sim.info["world"], new)
        with engine.begin() as conn:
            for op, code, fields in plan:
                fields = dict(fields)
                password = fields.pop("password", None)
                stored, encrypted = box.seal(password) if password is not None else (None, True)
                enqueue_request(conn, operation=op, code=code, password=stored, password_encrypted=encrypted,
                                **fields)
        sim.ask("clear")
        options = ProvisionOptions(batch_size=batch_size, lease_seconds=lease_seconds, max_attempts=30,
                                   backoff_seconds=0)

        def make_client() -> SecretServerClient:
            return SecretServerClient(sim.base_url, "admin", "admin")

        started = time.perf_counter()
        if cli:
            env = cli_environment(sim.base_url, database_url, key)
            command = ["provision", "--workers", str(workers), "--batch-size", str(batch_size)]
            run_cli(command, env)
            while _pending(engine):
                time.sleep(0.2)
                run_cli(command, env)
            summary = None
        else:
            summary = run_workers(engine, make_client, box, options, workers)
            while _pending(engine):  # retried requests: due again after their Retry-After
                time.sleep(0.2)
                summary.merge(run_workers(engine, make_client, box, options, workers))
        wall = time.perf_counter() - started
        writes = [(m, p, status) for m, p, status in sim.ask("writes") if status == 200]
        with engine.connect() as conn:
            states = dict(conn.execute(sa.text("SELECT state, count(*) FROM igi.event_out GROUP BY state")).all())
            reclaimed = conn.execute(sa.text(
                "SELECT count(*) FROM igi.event_out WHERE attempts > 1 OR cardinality(worker_history) > 1"
            )).scalar_one()
    finally:
        sim.stop()
        engine.dispose()
    kinds = Counter(re.sub(r"\d+", "N", f"{m} {p.removeprefix('/SecretServer/api/v1')}") for m, p, _ in writes)
    expected = expected_writes(existing, new)
    duplicates = sum(max(0, n - expected.get(k, 0)) for k, n in kinds.items())
    missing = sum(max(0, n - kinds.get(k, 0)) for k, n in expected.items())
    return {"workers": workers, "requests": len(plan), "wall_s": wall, "rps": len(plan) / wall,
            "succeeded": states.get(2, 0) if summary is None else summary.succeeded,
            "failed": states.get(3, 0) if summary is None else summary.failed,
            "retried": None if summary is None else summary.retried,
            "lost_claims": None if summary is None else summary.lost, "cli": cli, "writes": len(writes),
            "duplicates": duplicates,
            "missing_writes": missing, "reclaimed": int(reclaimed), "states": {str(k): v for k, v in states.items()},
            "lease_s": lease_seconds, "faults": faults}


def _pending(engine: Any) -> bool:
    with engine.connect() as conn:
        return bool(conn.execute(sa.text("SELECT count(*) FROM igi.event_out WHERE state = 1")).scalar_one())
