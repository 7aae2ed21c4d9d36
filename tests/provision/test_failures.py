"""Refusals, permanent failures and transient failures with backoff."""

from __future__ import annotations

import sqlalchemy as sa

from connectors.igi.queue import Operation as Op
from pipelines.executors import REMOVE_REFUSED
from pipelines.provision import ProvisionOptions
from simulator.faults import Faults
from tests.provision.conftest import FAST, event, writes


def test_account_remove_is_refused_without_any_call(sim, enqueue, provision, igi_engine):
    eid = enqueue(Op.ACCOUNT_REMOVE, "alice")
    summary = provision()
    row = event(igi_engine, eid)
    assert (row["state"], row["erc_status"], row["trace"]) == (3, "NotSupported", REMOVE_REFUSED)
    assert (summary.failed, summary.succeeded) == (1, 0)
    assert [r for r in sim.request_log if "/api/v1/" in r.path] == []


def test_application_accounts_refuse_modify_suspend_restore_and_password_change(sim, world, enqueue, provision,
                                                                                  igi_engine):
    ids = [enqueue(Op.ACCOUNT_MODIFY, "svc-build", attributes={"displayName": "x"}),
           enqueue(Op.ACCOUNT_DISABLE, "svc-build"),
           enqueue(Op.ACCOUNT_ENABLE, "svc-build"),
           enqueue(Op.ACCOUNT_PWDCHANGE, "svc-build", password="Another-Pass1")]
    provision()
    outcomes = [(event(igi_engine, e)["state"], event(igi_engine, e)["trace"]) for e in ids]
    assert outcomes == [
        (3, "Secret Server application accounts cannot be modified"),
        (3, "Secret Server application accounts cannot be suspended"),
        (3, "Secret Server application accounts cannot be restored"),
        (3, "Secret Server application accounts cannot be given a new password through ss-igi"),
    ]
    assert writes(sim) == []
    assert world.org.user_map[world.app].enabled is True


def test_application_account_known_to_staging_is_refused_without_any_call(sim, world, enqueue, provision,
                                                                            igi_engine):
    with igi_engine.begin() as conn:
        conn.execute(sa.text("INSERT INTO ss_staging.users (user_id, user_name, enabled, is_application_account) "
                             "VALUES (:i, 'svc-build', true, true)"), {"i": world.app})
    eid = enqueue(Op.ACCOUNT_DISABLE, "svc-build")
    provision()
    assert event(igi_engine, eid)["state"] == 3
    assert [r for r in sim.request_log if "/api/v1/" in r.path] == []


def test_unknown_account_group_folder_and_secret_fail_permanently(sim, enqueue, provision, igi_engine):
    ids = {
        "account": enqueue(Op.ACCOUNT_DISABLE, "nobody"),
        "group": enqueue(Op.PERMISSION_ADD, "alice", permission_type="group", permission_name="No Such Group"),
        "group id": enqueue(Op.PERMISSION_REMOVE, "alice", permission_type="group", permission_id=99999),
        "folder": enqueue(Op.PERMISSION_ADD, "alice", permission_type="folder", permission_name="\\Nope"),
        "folder id": enqueue(Op.PERMISSION_REMOVE, "alice", permission_type="folder", permission_id=99999),
        "secret id": enqueue(Op.PERMISSION_ADD, "alice", permission_type="secret", permission_id=99999),
    }
    summary = provision()
    assert summary.failed == len(ids)
    ercs = {name: event(igi_engine, e)["erc_status"] for name, e in ids.items()}
    assert ercs == {"account": "UnknownAccount", "group": "UnknownGroup", "group id": "UnknownGroup",
                    "folder": "UnknownFolder", "folder id": "UnknownFolder", "secret id": "UnknownSecret"}
    assert writes(sim) == []


def test_a_400_from_secret_server_ends_in_error_with_its_error_code(sim, world, enqueue, provision, igi_engine):
    eid = enqueue(Op.PERMISSION_REMOVE, "alice", permission_type="group", permission_name="Everyone")
    provision()
    row = event(igi_engine, eid)
    assert (row["state"], row["erc_status"]) == (3, "API_AccessDenied")
    assert row["trace"] == "API_AccessDenied: The membership of a system group cannot be changed."
    assert row["attempts"] == 1


def test_transient_failures_go_back_to_pending_with_backoff(sim, world, enqueue, provision, igi_engine):
    eid = enqueue(Op.ACCOUNT_DISABLE, "alice")
    sim.faults = Faults(burst_every=1, burst_length=1, burst_status=503)  # every API call: 503
    summary = provision(ProvisionOptions(max_attempts=3, backoff_seconds=60))
    row = event(igi_engine, eid)
    assert summary.retried == 1 and summary.processed == 1
    assert (row["state"], row["attempts"], row["erc_status"], row["claimed_by"]) == (1, 1, "Transient", None)
    with igi_engine.connect() as conn:
        wait = conn.execute(sa.text("SELECT extract(epoch FROM next_attempt_at - now()) FROM igi.event_out")).scalar()
    assert 40 < wait < 80  # ~60 s, with jitter
    assert provision().processed == 0  # not due yet


def test_retries_end_in_error_after_max_attempts_and_a_later_success_is_possible(sim, world, enqueue, provision,
                                                                                 igi_engine):
    doomed = enqueue(Op.ACCOUNT_DISABLE, "alice")
    sim.faults = Faults(burst_every=1, burst_length=1, burst_status=500)
    opts = ProvisionOptions(max_attempts=3, backoff_seconds=0, backoff_cap_seconds=0)
    summary = provision(opts)
    row = event(igi_engine, doomed)
    assert (summary.retried, summary.failed) == (2, 1)
    assert (row["state"], row["attempts"]) == (3, 3)
    assert row["trace"].startswith("gave up after 3 attempts: ")
    sim.faults = Faults()
    ok = enqueue(Op.ACCOUNT_DISABLE, "alice")
    provision(FAST)
    assert event(igi_engine, ok)["state"] == 2 and world.org.user_map[world.alice].enabled is False


def test_requests_of_one_account_wait_for_an_earlier_one_in_backoff(sim, world, enqueue, provision, igi_engine):
    first = enqueue(Op.ACCOUNT_DISABLE, "alice")
    second = enqueue(Op.ACCOUNT_ENABLE, "alice")
    other = enqueue(Op.PERMISSION_ADD, "svc-build", permission_type="group", permission_name="Ops")
    with igi_engine.begin() as conn:
        conn.execute(sa.text("UPDATE igi.event_out SET next_attempt_at = now() + interval '1 hour' "
                             "WHERE event_id = :e"), {"e": first})
    provision()
    assert event(igi_engine, first)["state"] == 1 and event(igi_engine, second)["state"] == 1
    assert event(igi_engine, second)["attempts"] == 0
    assert event(igi_engine, other)["state"] == 2
