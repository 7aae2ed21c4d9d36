"""`ss-igi queue`: counts and requests after a provisioning batch with failures; retry and cancel as IGI's state
transitions, recorded in the trace, refused for a request that succeeded, one a worker holds, or one whose
password is gone."""

from __future__ import annotations

import io
import json
from dataclasses import replace

import pytest
from rich.console import Console

from connectors.igi.queue import claim_pending_requests, list_requests, queue_counts
from connectors.igi.request_models import Operation
from pipelines.cli import main
from pipelines.commands.queue import print_queue
from tests.provision.conftest import FAST, event


@pytest.fixture
def cli_env(monkeypatch, igi_database_url, tmp_path):
    monkeypatch.setenv("IGI_DATABASE_URL", igi_database_url)
    monkeypatch.setenv("SS_IGI_HOME", str(tmp_path / "home"))


def _queue_json(capsys) -> dict:
    capsys.readouterr()
    assert main(["queue", "--json"]) == 0
    return json.loads(capsys.readouterr().out)


def test_queue_shows_counts_and_requests_then_retry_and_cancel_follow_igi_states(
        cli_env, igi_engine, world, enqueue, provision, capsys):
    unknown = enqueue(Operation.ACCOUNT_DISABLE, "nobody")  # fails: no such account
    password = enqueue(Operation.ACCOUNT_PWDCHANGE, "ghost", password="N3w-Passw0rd!")  # fails, password erased
    done = enqueue(Operation.ACCOUNT_DISABLE, "alice")  # succeeds
    summary = provision()
    assert (summary.succeeded, summary.failed) == (1, 2)
    waiting = enqueue(Operation.ACCOUNT_ENABLE, "alice")
    held = enqueue(Operation.ACCOUNT_MODIFY, "svc-other", attributes={"displayName": "X"})
    enqueue(Operation.ACCOUNT_MODIFY, "svc-held", attributes={"displayName": "Y"})
    [claimed] = claim_pending_requests(igi_engine, "worker-elsewhere", 1, 300)  # the oldest due: `waiting`
    assert claimed["event_id"] == waiting

    shown = _queue_json(capsys)
    assert shown["counts"] == {"due": 2, "waiting": 0, "claimed": 1, "succeeded": 1, "failed": 2}
    by_id = {r["event_id"]: r for r in shown["requests"]}
    assert set(by_id) == {unknown, password, waiting, held, held + 1}  # pending and failed; not the success
    assert by_id[unknown]["operation"] == "ACCOUNT_DISABLE" and by_id[unknown]["state"] == "error"
    assert by_id[unknown]["erc_status"] == "UnknownAccount" and by_id[unknown]["attempts"] == 1
    assert "nobody" in by_id[unknown]["trace"]
    assert by_id[waiting]["claimed"] and by_id[held]["due"] and "password" not in by_id[held]
    table = io.StringIO()
    print_queue(queue_counts(igi_engine), list_requests(igi_engine), Console(file=table, width=200))
    text = table.getvalue()
    assert "Next attempt (UTC)" in text and "due now" in text and "running (worker-elsewhere)" in text

    # retry: refused for a success, a request a worker holds, a failed one whose password was erased
    capsys.readouterr()
    assert main(["queue", "retry", str(unknown), str(done), str(waiting), str(password), "999"]) == 1
    out, err = capsys.readouterr()
    assert f"request {unknown}: retried" in out
    assert f"request {done}: refused, it succeeded (a final state)" in out
    assert f"request {waiting}: refused, a worker holds it right now (worker-elsewhere)" in out
    assert f"request {password}: refused, its password was erased when it failed" in out
    assert "request 999: refused, no such request" in out
    assert err.strip() == f"ss-igi queue retry: 4 of 5 refused ({password}, {done}, {waiting}, 999); see above"
    back = event(igi_engine, unknown)
    assert (back["state"], back["attempts"], back["erc_status"], back["processed_at"]) == (1, 0, None, None)
    assert " retried by " in back["trace"]
    assert back["trace"].endswith("was state 3 UnknownAccount after 1 attempt(s): " + by_id[unknown]["trace"])
    assert event(igi_engine, done)["state"] == 2 and event(igi_engine, waiting)["claimed_by"] == "worker-elsewhere"

    # cancel: a pending request ends in state 3 Cancelled; refused for a failed, a succeeded or a held one
    assert main(["queue", "cancel", str(held), str(password), str(done), str(waiting)]) == 1
    out = capsys.readouterr().out
    assert f"request {held}: cancelled" in out
    assert f"request {password}: refused, it has already ended in error (state 3)" in out
    cancelled = event(igi_engine, held)
    assert (cancelled["state"], cancelled["erc_status"]) == (3, "Cancelled")
    assert " cancelled by " in cancelled["trace"] and cancelled["processed_at"] is not None
    assert event(igi_engine, waiting)["state"] == 1

    # the retried request is back in the queue: the next run executes it again (and it fails again)
    again = provision(replace(FAST, max_batches=1))  # not waiting for the other worker's claim to run out
    assert unknown in {r.event_id for r in again.results}
    assert event(igi_engine, unknown)["state"] == 3 and event(igi_engine, unknown)["attempts"] == 1
    assert held not in {r.event_id for r in again.results}


def test_a_waiting_request_retried_is_due_now_and_keeps_its_attempts(cli_env, igi_engine, world, enqueue, capsys):
    import sqlalchemy as sa

    event_id = enqueue(Operation.ACCOUNT_DISABLE, "alice")
    with igi_engine.begin() as conn:
        conn.execute(sa.text("UPDATE igi.event_out SET attempts = 2, trace = 'HTTP503: busy', "
                             "next_attempt_at = now() + interval '1 hour' WHERE event_id = :e"), {"e": event_id})
    assert _queue_json(capsys)["counts"]["waiting"] == 1

    assert main(["queue", "retry", str(event_id)]) == 0
    row = event(igi_engine, event_id)
    assert row["state"] == 1 and row["attempts"] == 2 and "made due now; last outcome: HTTP503: busy" in row["trace"]
    assert _queue_json(capsys)["counts"] == {"due": 1, "waiting": 0, "claimed": 0, "succeeded": 0, "failed": 0}
