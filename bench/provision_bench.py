"""Provisioning throughput: 1,000 mixed requests executed by ``workers`` workers, and duplicate executions.

The world (bench/simproc.py): 160 existing accounts with a group each, one folder and one secret that break
inheritance. Five requests per account, enqueued round-robin so that every batch mixes accounts and workers
contend: existing accounts disable, enable, add to their group, remove from it, modify; 40 new accounts are
created, granted the folder and the secret, get a new password, and are disabled. Each request needs exactly
one write on Secret Server, so the simulator's request log tells duplicates: every write beyond the expected
count per kind of call (``POST /users``, ``PATCH /users/N``, ...) is an execution done twice.
"""

from __future__ import annotations

import re
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


def _plan(world: Any) -> list[tuple[int, str, dict[str, Any]]]:
    per_account: list[list[tuple[int, str, dict[str, Any]]]] = []
    for code in world.users:
        per_account.append([
            (Op.ACCOUNT_DISABLE, code, {}), (Op.ACCOUNT_ENABLE, code, {}),
            (Op.PERMISSION_ADD, code, {"permission_type": "group", "permission_name": f"G{code[4:]}"}),
            (Op.PERMISSION_REMOVE, code, {"permission_type": "group", "permission_id": world.own_group[code]}),
            (Op.ACCOUNT_MODIFY, code, {"attributes": {"displayName": f"{code} v2"}})])
    for i in range(NEW):
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


EXPECTED_WRITES = Counter({"PATCH /users/N": 3 * EXISTING + NEW, "POST /groups/N/users": EXISTING,
                           "DELETE /groups/N/users/N": EXISTING, "POST /users": NEW,
                           "POST /folder-permissions": NEW, "POST /secret-permissions": NEW,
                           "POST /users/N/password-reset": NEW})


def provision_run(database_url: str, workers: int, batch_size: int = 50) -> dict[str, Any]:
    """Enqueue the 1,000 requests in a fresh migrated database ``database_url`` and time ``workers`` workers."""
    box = PasswordBox(PasswordBox.generate_key())
    engine = create_engine(database_url, pool_size=workers + 2)
    sim = SimulatorProcess("provision", existing=EXISTING)
    try:
        plan = _plan(sim.info["world"])
        with engine.begin() as conn:
            for op, code, fields in plan:
                fields = dict(fields)
                password = fields.pop("password", None)
                stored, encrypted = box.seal(password) if password is not None else (None, True)
                enqueue_request(conn, operation=op, code=code, password=stored, password_encrypted=encrypted,
                                **fields)
        sim.ask("clear")
        options = ProvisionOptions(batch_size=batch_size, lease_seconds=300, max_attempts=3, backoff_seconds=0)

        def make_client() -> SecretServerClient:
            return SecretServerClient(sim.base_url, "admin", "admin")

        started = time.perf_counter()
        summary = run_workers(engine, make_client, box, options, workers)
        wall = time.perf_counter() - started
        writes = sim.ask("writes")
        with engine.connect() as conn:
            states = dict(conn.execute(sa.text("SELECT state, count(*) FROM igi.event_out GROUP BY state")).all())
            reclaimed = conn.execute(sa.text(
                "SELECT count(*) FROM igi.event_out WHERE attempts > 1 OR cardinality(worker_history) > 1"
            )).scalar_one()
    finally:
        sim.stop()
        engine.dispose()
    kinds = Counter(re.sub(r"\d+", "N", f"{m} {p.removeprefix('/SecretServer/api/v1')}") for m, p, _ in writes)
    duplicates = sum(max(0, n - EXPECTED_WRITES.get(k, 0)) for k, n in kinds.items())
    missing = sum(max(0, n - kinds.get(k, 0)) for k, n in EXPECTED_WRITES.items())
    return {"workers": workers, "requests": len(plan), "wall_s": wall, "rps": len(plan) / wall,
            "succeeded": summary.succeeded, "failed": summary.failed, "retried": summary.retried,
            "lost_claims": summary.lost, "writes": len(writes), "duplicates": duplicates,
            "missing_writes": missing, "reclaimed": int(reclaimed), "states": {str(k): v for k, v in states.items()}}
