"""A worker killed mid-batch: after its lease, another worker completes its requests, each exactly once."""

from __future__ import annotations

import multiprocessing
from collections import Counter

from connectors.igi.queue import Operation as Op
from pipelines.provision import ProvisionOptions, run_provisioning
from simulator.state import Organization
from tests.provision import crashing_worker
from tests.provision.conftest import make_client, rows, writes

LEASE = 3.0


def test_requests_of_a_killed_worker_complete_once_after_its_lease(igi_engine, igi_database_url, make_simulator,
                                                                   passwords, fernet_key, enqueue):
    org = Organization()
    org.add_everyone_group()
    groups = {}
    for i in range(10):
        org.add_user(f"u{i}", password="Initial-1")
        groups[i] = org.add_group(f"team{i}")
    server = make_simulator(org)
    # Per account: password change, suspend, group add. The worker claims the ten password changes (the rest
    # wait behind them), and dies right after its 5th reset, before writing that outcome back.
    for step in range(3):
        for i in range(10):
            if step == 0:
                enqueue(Op.ACCOUNT_PWDCHANGE, f"u{i}", password=f"New-Pass-{i}")
            elif step == 1:
                enqueue(Op.ACCOUNT_DISABLE, f"u{i}")
            else:
                enqueue(Op.PERMISSION_ADD, f"u{i}", permission_type="group", permission_id=groups[i])

    context = multiprocessing.get_context("spawn")
    child = context.Process(target=crashing_worker.main, args=(
        igi_database_url, server.base_url, fernet_key, 5, LEASE))
    child.start()
    child.join(timeout=60)
    assert child.exitcode == 9
    claimed = rows(igi_engine, "SELECT event_id, claimed_by FROM igi.event_out WHERE claimed_by = 'doomed' "
                               "AND state = 1")
    assert len(claimed) == 6  # of the 10 it claimed: 4 written back, the 5th executed but not, 5 not started
    assert len(writes(server)) == 5

    # Its claims (and the requests queued behind them) stay put until its lease ends; the four accounts whose first
    # request it finished go on at once, and then the new worker waits for the lease and takes the rest over.
    held = {r["event_id"] for r in claimed}
    lease_end = {org.find_user(r["code"]).id: r["t"] for r in rows(
        igi_engine, "SELECT code, extract(epoch FROM claimed_until)::float AS t FROM igi.event_out "
                    "WHERE claimed_by = 'doomed' AND state = 1")}
    server.clear_log()
    with make_client(server) as client:
        rescue = run_provisioning(igi_engine, client, passwords, ProvisionOptions(lease_seconds=30),
                                  worker_id="rescuer")

    final = rows(igi_engine, "SELECT event_id, operation, state, trace, attempts, worker_history, password "
                             "FROM igi.event_out ORDER BY event_id")
    assert Counter(r["state"] for r in final) == {2: 30}
    assert rescue.succeeded == 26 and held <= {r.event_id for r in rescue.results}
    # Nothing was written for an account the dead worker held before its lease ran out.
    group_user = {groups[i]: org.find_user(f"u{i}").id for i in range(10)}
    for call in server.request_log:
        if call.method in ("POST", "PATCH") and "/api/v1/" in call.path:
            ids = [int(p) for p in call.path.split("/") if p.isdigit()]
            user = group_user[ids[0]] if "/groups/" in call.path else ids[0]
            if user in lease_end:
                assert call.at >= lease_end[user], call.path
    # Exactly one effect per request: 10 resets, 10 suspensions, 10 group adds, despite the crash (5 before it).
    kinds = Counter(m + (" reset" if p.endswith("password-reset") else "") for m, p in writes(server))
    assert kinds == {"POST reset": 5, "PATCH": 10, "POST": 10}
    redone = [r for r in final if r["worker_history"] == ["doomed", "rescuer"]]
    assert len(redone) == 6
    # The one it had started counts two attempts; the five it never started count one, the rescuer's.
    assert sorted(r["attempts"] for r in redone) == [1, 1, 1, 1, 1, 2]
    assert sum(r["trace"] == "password already changed by an earlier attempt" for r in redone) == 1
    assert all(org.check_password(org.find_user(f"u{i}").id, f"New-Pass-{i}") for i in range(10))
    assert all(r["password"] is None for r in final)
