"""A wrong password costs one login attempt per run, whatever the command (a vault locks an account after a few
failed logins), and the command says so in one line."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from connectors.igi.queue import Operation, enqueue_request
from connectors.secret_server import AuthenticationError, SecretServerClient
from pipelines.cli import main

WRONG = "Wr0ng-Passw0rd!"


@pytest.fixture
def wrong_password(ops_env, monkeypatch, simulator):
    """The settings with a password the simulator refuses; its request log cleared."""
    monkeypatch.setenv("SECRET_SERVER_PASSWORD", WRONG)
    simulator.clear_log()
    return simulator


def _token_requests(simulator) -> int:
    return len(simulator.calls("POST", "/oauth2/token"))


def _one_line_refusal(err: str, command: str) -> str:
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith(f"ss-igi {command}: ")
    assert lines[0].count("refused the login") == 1
    assert WRONG not in err
    return lines[0]


def test_reconcile_with_a_wrong_password_logs_in_once_and_fails_in_one_line(
        prefect_harness, wrong_password, igi_engine, capsys):
    assert main(["reconcile"]) == 1

    captured = capsys.readouterr()
    _one_line_refusal(captured.err, "reconcile")
    assert _token_requests(wrong_password) == 1
    assert not wrong_password.calls(path_prefix="/api/v1")  # nothing asked after the refusal
    with igi_engine.connect() as conn:
        status, error = conn.execute(sa.text(
            "SELECT status, error FROM ss_staging.reconciliation_runs ORDER BY run_id DESC LIMIT 1")).one()
        users = conn.execute(sa.text("SELECT count(*) FROM ss_staging.users")).scalar()
    assert status == "failed" and error.count("refused the login") == 1
    assert users == 0


def test_check_with_a_wrong_password_logs_in_once(wrong_password, capsys):
    assert main(["check"]) == 1
    _one_line_refusal(capsys.readouterr().err, "check")
    assert _token_requests(wrong_password) == 1


def test_provision_with_a_wrong_password_logs_in_once(prefect_harness, wrong_password, igi_engine, capsys):
    for name in ("new.one", "new.two", "new.three"):
        enqueue_request(igi_engine, operation=Operation.ACCOUNT_DISABLE, code=name)

    # One worker: each worker has a client of its own (pipelines/provision.py), so one login attempt per worker.
    main(["provision", "--workers", "1"])

    assert _token_requests(wrong_password) == 1
    assert not wrong_password.calls(path_prefix="/api/v1")
    assert WRONG not in "".join(capsys.readouterr())


def test_a_refused_login_is_final_for_every_thread_of_a_client(simulator):
    simulator.clear_log()
    with SecretServerClient(simulator.base_url, "admin", WRONG, max_workers=8) as client:
        with pytest.raises(AuthenticationError) as first:
            client.test_connection()
        groups = [g["id"] for g in simulator.org.groups()]
        with pytest.raises(AuthenticationError) as fanned:
            list(client.fan_out(client.iter_group_members, groups))
        with pytest.raises(AuthenticationError):
            list(client.iter_users())
    assert str(fanned.value) == str(first.value)
    assert _token_requests(simulator) == 1 and len(simulator.calls()) == 1


def test_threads_racing_to_the_first_login_make_one_attempt(simulator):
    simulator.clear_log()
    groups = [g["id"] for g in simulator.org.groups()]
    with SecretServerClient(simulator.base_url, "admin", WRONG, max_workers=8) as client, \
            pytest.raises(AuthenticationError):
        list(client.fan_out(client.iter_group_members, groups))  # 8 threads want a token at once
    assert _token_requests(simulator) == 1 and len(simulator.calls()) == 1
