"""The queue is safe whatever the timing and whatever IGI writes: a slow server never gets a write twice, a
malformed row fails alone with its reason, and strings from IGI are read with declared types."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import pytest
import sqlalchemy as sa

from connectors.igi.queue import Operation as Op
from pipelines.cli import main
from pipelines.provision import ProvisionOptions, run_workers
from simulator.faults import Faults
from simulator.state import Organization
from tests.provision.conftest import event, make_client, rows, writes

SS_IGI = str(Path(sys.executable).with_name("ss-igi"))


def _cli_env(igi_database_url: str, base_url: str, fernet_key: str, tmp_path: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PREFECT_API", "IGI_", "SECRET_SERVER_"))}
    env.update({
        "IGI_DATABASE_URL": igi_database_url, "SECRET_SERVER_URL": base_url, "SECRET_SERVER_USERNAME": "admin",
        "SECRET_SERVER_PASSWORD": "admin", "SS_IGI_FERNET_KEY": fernet_key, "SS_IGI_HOME": str(tmp_path / "home"),
        "PREFECT_HOME": str(tmp_path / "prefect"), "PREFECT_SERVER_ANALYTICS_ENABLED": "false", "COLUMNS": "80",
    })
    env.update(extra)
    return env


def _insert(engine, **values) -> int:
    """A row written the way IGI writes it: straight into the table, values as IGI has them."""
    columns = ", ".join(values)
    with engine.begin() as conn:
        return int(conn.execute(sa.text(f"INSERT INTO igi.event_out ({columns}) VALUES "
                                        f"({', '.join(':' + c for c in values)}) RETURNING event_id"),
                                values).scalar_one())


def test_a_slow_throttling_server_gets_every_create_and_password_change_exactly_once(
        igi_engine, igi_database_url, make_simulator, fernet_key, enqueue, tmp_path):
    # Calls that take longer than the lease, and 429s whose Retry-After is longer than the lease, against three
    # `ss-igi provision` processes sharing the queue.
    org = Organization()
    org.add_everyone_group()
    server = make_simulator(org, faults=Faults(slow_rate=0.08, slow_ms=3000, rate_429=0.08, retry_after_s=4, seed=7))
    accounts = 20
    for step in range(2):
        for i in range(accounts):
            if step == 0:
                enqueue(Op.ACCOUNT_CREATE, f"svc{i:02d}", password=f"First-Pass-{i}",
                        attributes={"displayName": f"S{i}"})
            else:
                enqueue(Op.ACCOUNT_PWDCHANGE, f"svc{i:02d}", password=f"Second-Pass-{i}")
    env = _cli_env(igi_database_url, server.base_url, fernet_key, tmp_path, SS_IGI_PROVISION_LEASE_SECONDS="2",
                   SS_IGI_PROVISION_BATCH_SIZE="5", SS_IGI_PROVISION_BACKOFF_SECONDS="0",
                   SS_IGI_PROVISION_MAX_ATTEMPTS="30")
    for _ in range(15):  # rounds: requests sent back by a 429 wait for its Retry-After
        procs = [subprocess.Popen([SS_IGI, "provision"], env=env, stdout=subprocess.DEVNULL,
                                  stderr=subprocess.PIPE, text=True) for _ in range(3)]
        for proc in procs:
            _, err = proc.communicate(timeout=300)
            assert proc.returncode == 0, err
        pending = rows(igi_engine, "SELECT extract(epoch FROM max(next_attempt_at) - now())::float AS wait, "
                                   "count(*) AS n FROM igi.event_out WHERE state = 1")[0]
        if pending["n"] == 0:
            break
        time.sleep(max(0.0, pending["wait"]) + 0.1)

    final = rows(igi_engine, "SELECT event_id, operation, state, erc_status, trace, attempts FROM igi.event_out")
    assert Counter(r["state"] for r in final) == {2: 2 * accounts}, [r for r in final if r["state"] != 2][:3]
    applied = Counter(("reset" if p.endswith("password-reset") else p) for m, p, s in (
        (r.method, r.path, r.status) for r in server.request_log) if m == "POST" and s == 200 and "/api/v1/" in p)
    refused = [(r.method, r.path, r.status) for r in server.request_log
               if r.method != "GET" and "/api/v1/" in r.path and r.status not in (200, 429)]
    assert refused == []  # no "user already exists", nothing a second write would have caused
    assert applied == {"/SecretServer/api/v1/users": accounts, "reset": accounts}
    assert all(org.check_password(org.find_user(f"svc{i:02d}").id, f"Second-Pass-{i}") for i in range(accounts))
    traces = Counter(r["trace"] for r in final)
    assert traces["account created"] + traces["account created by an earlier attempt"] == accounts
    assert traces["password changed"] + traces["password already changed by an earlier attempt"] == accounts
    throttled = sum(1 for r in server.request_log if r.status == 429)
    assert throttled > 0 and sum(r["attempts"] for r in final) > 2 * accounts  # the faults really bit


def test_malformed_rows_fail_alone_with_a_reason_and_the_rest_run(sim, world, igi_engine, provision, enqueue,
                                                                   igi_database_url, fernet_key, tmp_path):
    good_before = enqueue(Op.ACCOUNT_DISABLE, "alice")
    bad = {
        "not an object": _insert(igi_engine, operation=9, code="alice", attributes='["displayName", "x"]'),
        "unknown operation": _insert(igi_engine, operation=8, code="alice"),
        "broken json": _insert(igi_engine, operation=9, code="alice", attributes='{"displayName": "A'),
        "unknown attribute": _insert(igi_engine, operation=9, code="alice", attributes='{"shoeSize": 42}'),
        "bad role": _insert(igi_engine, operation=1, code="alice", permission_type="secret",
                            permission_id=world.secret, secret_access_role="Superuser"),
        "group with no id or name": _insert(igi_engine, operation=1, code="alice", permission_type="group"),
        "permission type": _insert(igi_engine, operation=1, code="alice", permission_type="role",
                                   permission_name="Ops"),
        "not a boolean": _insert(igi_engine, operation=9, code="alice", attributes='{"enabled": "maybe"}'),
    }
    unknown_account = enqueue(Op.ACCOUNT_DISABLE, "nobody")
    good_after = enqueue(Op.PERMISSION_ADD, "alice", permission_type="group", permission_name="Ops")

    summary = provision()

    assert summary.failed == len(bad) + 1 and summary.succeeded == 2
    assert event(igi_engine, good_before)["state"] == 2 and event(igi_engine, good_after)["state"] == 2
    assert world.org.is_member(world.ops, world.alice) and not world.org.user_map[world.alice].enabled
    outcomes = {name: (event(igi_engine, e)["state"], event(igi_engine, e)["erc_status"], event(igi_engine, e)["trace"])
                for name, e in bad.items()}
    assert outcomes == {
        "not an object": (3, "InvalidRequest", "InvalidRequest: attributes must be a JSON object, not list"),
        "unknown operation": (3, "UnsupportedOperation", outcomes["unknown operation"][2]),
        "broken json": (3, "InvalidRequest", outcomes["broken json"][2]),
        "unknown attribute": (3, "UnsupportedAttribute", "UnsupportedAttribute: unknown attributes: shoeSize"),
        "bad role": (3, "InvalidRequest", "InvalidRequest: secret_access_role 'Superuser' is not one of List, "
                                          "View, Edit, Owner"),
        "group with no id or name": (3, "InvalidRequest", "InvalidRequest: a group request needs an id or a name"),
        "permission type": (3, "InvalidRequest", "InvalidRequest: permission_type 'role' is not one of group, "
                                                 "folder, secret"),
        "not a boolean": (3, "InvalidAttribute", "InvalidAttribute: enabled: 'maybe' is not a boolean "
                                                 "(true/false, 1/0, yes/no)"),
    }
    assert outcomes["unknown operation"][2].startswith("UnsupportedOperation: operation 8 is not one ss-igi executes")
    assert outcomes["broken json"][2].startswith("InvalidRequest: attributes are not valid JSON")
    assert event(igi_engine, unknown_account)["erc_status"] == "UnknownAccount"
    # Nothing was sent for a malformed row, and none of them counts an attempt.
    assert all(event(igi_engine, e)["attempts"] == 0 for e in bad.values())
    assert sorted(w[0] for w in writes(sim)) == ["PATCH", "POST"]
    env = _cli_env(igi_database_url, sim.base_url, fernet_key, tmp_path)
    again = subprocess.run([SS_IGI, "provision", "--fail-on-error"], env=env, capture_output=True, text=True,
                           timeout=120)
    assert again.returncode == 0, again.stderr  # nothing left, nothing stuck


def test_booleans_from_igi_and_from_the_command_line_are_parsed_strictly(
        sim, world, igi_engine, provision, monkeypatch, capsys, igi_database_url, fernet_key):
    for name, value in {"IGI_DATABASE_URL": igi_database_url, "SS_IGI_FERNET_KEY": fernet_key}.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setattr("sys.stdin", __import__("io").StringIO("Bob-Pass-1234\n"))
    assert main(["request", "create", "bob", "--attr", "displayName=Bob", "--attr", "enabled=false",
                 "--attr", "isApplicationAccount=false", "--password-stdin"]) == 0
    assert main(["request", "modify", "alice", "--attr", "enabled=maybe"]) == 1
    assert "enabled: 'maybe' is not a boolean (true/false, 1/0, yes/no)" in capsys.readouterr().err
    assert main(["request", "modify", "alice", "--attr", "isApplicationAccount=true"]) == 1
    assert ("ACCOUNT_MODIFY does not take isApplicationAccount (whether an account is an application account is "
            "fixed when it is created)") in capsys.readouterr().err
    # As IGI writes them: strings in any case, and numbers.
    carol = _insert(igi_engine, operation=10, code="carol", password="Carol-Pass-1234", password_encrypted=False,
                    attributes='{"DisplayName": "Carol", "ENABLED": "No", "is_application_account": "TRUE"}')
    dave = _insert(igi_engine, operation=10, code="dave", password="Dave-Pass-1234", password_encrypted=False,
                   attributes='{"displayName": "Dave", "enabled": 1, "isApplicationAccount": "0"}')
    suspend = _insert(igi_engine, operation=9, code="alice", attributes='{"enabled": "false"}')

    from pipelines.passwords import PasswordBox
    from pipelines.provision import run_provisioning
    with make_client(sim) as client:
        summary = run_provisioning(igi_engine, client, PasswordBox(fernet_key, allow_plaintext=True))
    assert summary.succeeded == 4 and summary.failed == 0, summary.results
    bob, carol_user, dave_user = (world.org.find_user(n) for n in ("bob", "carol", "dave"))
    assert (bob.enabled, bob.is_application_account) == (False, False)
    assert (carol_user.enabled, carol_user.is_application_account) == (False, True)
    assert (dave_user.enabled, dave_user.is_application_account) == (True, False)
    assert world.org.user_map[world.alice].enabled is False
    assert event(igi_engine, suspend)["trace"] == "modified enabled"
    assert event(igi_engine, carol)["state"] == 2 and event(igi_engine, dave)["state"] == 2


def test_every_worker_gets_work_and_works_until_the_queue_is_empty(igi_engine, make_simulator, passwords, enqueue):
    org = Organization()
    for i in range(120):
        org.add_user(f"user{i:03d}", password="Initial-1")
    server = make_simulator(org, faults=Faults(latency_ms=5))
    for i in range(120):
        enqueue(Op.ACCOUNT_DISABLE, f"user{i:03d}")
    summary = run_workers(igi_engine, lambda: make_client(server), passwords,
                          ProvisionOptions(batch_size=50, lease_seconds=30, backoff_seconds=0), workers=4)
    assert summary.succeeded == 120 and summary.lost == 0
    per_worker = Counter(r["w"] for r in rows(igi_engine, "SELECT worker_history[1] AS w FROM igi.event_out"))
    assert len(per_worker) == 4 and min(per_worker.values()) >= 10, per_worker
    assert len(writes(server)) == 120


def test_a_killed_provision_command_leaves_no_process_behind(sim, world, igi_engine, igi_database_url, fernet_key,
                                                               enqueue, tmp_path):
    for _ in range(3):
        enqueue(Op.ACCOUNT_DISABLE, "alice")
        enqueue(Op.ACCOUNT_ENABLE, "alice")
    sim.faults = Faults(latency_ms=500)
    env = _cli_env(igi_database_url, sim.base_url, fernet_key, tmp_path)
    proc = subprocess.Popen([SS_IGI, "provision"], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                            start_new_session=True)
    deadline = time.monotonic() + 60
    while not any("/api/v1/" in r.path for r in sim.request_log):
        assert time.monotonic() < deadline and proc.poll() is None
        time.sleep(0.05)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait(timeout=10)
    time.sleep(0.5)
    session = subprocess.run(["ps", "-o", "pid=,args=", "-s", str(proc.pid)], capture_output=True, text=True)
    assert session.stdout.strip() == ""  # nothing of its session survives it (no Prefect server, no worker)


@pytest.mark.parametrize("message_detail", ["The password does not meet the policy: 12 characters at least."])
def test_the_trace_keeps_what_secret_server_said(message_detail):
    from connectors.secret_server import ApiError, SecretServerClient
    from pipelines.provision import classify
    from tests.connector.scripted_server import ScriptedServer

    server = ScriptedServer()
    server.route("POST", "/api/v1/users/7/password-reset", lambda req: (400, {}, {
        "message": "The request is invalid.", "messageDetail": message_detail, "errorCode": "API_PasswordPolicy"}))
    with server, SecretServerClient(server.base_url, "admin", "right-password") as client, \
            pytest.raises(ApiError) as caught:
        client.reset_password(7, "Short-1")
    transient, erc, trace = classify(caught.value)
    assert (transient, erc) == (False, "API_PasswordPolicy")
    assert trace == f"API_PasswordPolicy: The request is invalid. ({message_detail})"
    assert "Short-1" not in trace


def test_a_refused_login_costs_one_attempt_and_leaves_the_queue_untouched(sim, igi_engine, igi_database_url,
                                                                          fernet_key, enqueue, tmp_path):
    ids = [enqueue(Op.ACCOUNT_DISABLE, "alice"), enqueue(Op.PERMISSION_ADD, "svc-build", permission_type="group",
                                                         permission_name="Ops")]
    env = _cli_env(igi_database_url, sim.base_url, fernet_key, tmp_path, SECRET_SERVER_PASSWORD="Wrong-Pass-0")
    run = subprocess.run([SS_IGI, "provision", "--workers", "3"], env=env, capture_output=True, text=True,
                         timeout=120)
    assert run.returncode == 1
    lines = run.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(
        "ss-igi provision: Secret Server refused the login for user 'admin': HTTP 400"), run.stderr
    assert [r.path for r in sim.request_log].count("/SecretServer/oauth2/token") == 1
    assert not any("/api/v1/" in r.path for r in sim.request_log)
    assert [(event(igi_engine, e)["state"], event(igi_engine, e)["attempts"], event(igi_engine, e)["claimed_by"])
            for e in ids] == [(1, 0, None), (1, 0, None)]
