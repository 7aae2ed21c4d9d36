"""`ss-igi request` and `ss-igi provision`, the Prefect flow and its artifact; and no password anywhere."""

from __future__ import annotations

import asyncio
import io
import logging

import pytest
import sqlalchemy as sa

from connectors.igi.queue import Operation as Op
from pipelines.cli import main
from pipelines.passwords import PasswordBox
from pipelines.provision import ProvisionOptions
from simulator.faults import Faults
from tests.provision.conftest import event, rows

SECRET_PASSWORDS = ("Zebra-Horse-Battery-91", "Quokka-Staple-Lamp-37", "Plain-Text-Pass-55")


@pytest.fixture
def env(monkeypatch, igi_database_url, sim, fernet_key):
    monkeypatch.setenv("IGI_DATABASE_URL", igi_database_url)
    monkeypatch.setenv("SECRET_SERVER_URL", sim.base_url)
    monkeypatch.setenv("SECRET_SERVER_USERNAME", "admin")
    monkeypatch.setenv("SECRET_SERVER_PASSWORD", "admin")
    monkeypatch.setenv("SS_IGI_FERNET_KEY", fernet_key)
    monkeypatch.setenv("SS_IGI_PROVISION_BACKOFF_SECONDS", "0")


def test_request_then_provision_from_the_command_line(env, world, igi_engine, monkeypatch, capsys, prefect_harness):
    monkeypatch.setattr("sys.stdin", io.StringIO(SECRET_PASSWORDS[0] + "\n"))
    assert main(["request", "create", "dave", "--attr", "displayName=Dave D", "--password-stdin"]) == 0
    assert main(["request", "grant", "dave", "--group", "Ops"]) == 0
    assert main(["request", "grant", "dave", "--folder", "\\Team", "--folder-role", "Edit",
                 "--secret-role", "View"]) == 0
    assert main(["request", "delete", "alice"]) == 0
    out = capsys.readouterr().out
    assert "enqueued request 1: ACCOUNT_CREATE dave" in out
    stored = event(igi_engine, 1)
    assert stored["password_encrypted"] and stored["password"] not in (None, SECRET_PASSWORDS[0])

    assert main(["provision", "--batch-size", "2"]) == 0
    out = capsys.readouterr().out
    assert "Processed" in out and "Succeeded" in out
    assert " 4 " in out and " 3 " in out and " 1 " in out
    dave = world.org.find_user("dave")
    assert dave is not None and world.org.check_password(dave.id, SECRET_PASSWORDS[0])
    assert world.org.is_member(world.ops, dave.id)
    assert [event(igi_engine, e)["state"] for e in (1, 2, 3, 4)] == [2, 2, 2, 3]
    assert main(["provision", "--fail-on-error"]) == 0  # nothing left to do
    assert main(["request", "grant", "dave"]) == 1
    assert "needs --group, --folder or --secret" in capsys.readouterr().err


def test_flow_returns_totals_and_publishes_a_table_artifact(env, igi_engine, enqueue, prefect_harness):
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import ArtifactFilter, ArtifactFilterKey

    from pipelines.provision_flow import provision

    enqueue(Op.ACCOUNT_DISABLE, "alice")
    enqueue(Op.ACCOUNT_REMOVE, "alice")
    state = provision(workers=2, return_state=True)
    totals = state.result()
    run_id = state.state_details.flow_run_id
    assert {k: totals[k] for k in ("processed", "succeeded", "failed", "retried")} == {
        "processed": 2, "succeeded": 1, "failed": 1, "retried": 0}

    async def latest() -> list:
        async with get_client() as client:
            wanted = ArtifactFilter(key=ArtifactFilterKey(any_=["provision-summary"]))
            found = await client.read_artifacts(artifact_filter=wanted)
            return [a for a in found if a.flow_run_id == run_id]

    artifacts = asyncio.run(latest())
    assert len(artifacts) == 1 and artifacts[0].type == "table"
    assert "succeeded 1, failed 1" in (artifacts[0].description or "")
    assert "NotSupported" not in str(artifacts[0].data) and "does not support deleting users" in str(artifacts[0].data)


def test_no_password_in_the_table_or_any_log(env, world, sim, igi_engine, passwords, enqueue, provision, caplog,
                                             capsys, monkeypatch):
    caplog.set_level(logging.DEBUG)
    create = enqueue(Op.ACCOUNT_CREATE, "erin", password=SECRET_PASSWORDS[0], attributes={"displayName": "Erin"})
    change = enqueue(Op.ACCOUNT_PWDCHANGE, "alice", password=SECRET_PASSWORDS[1])
    plain = PasswordBox(None, allow_plaintext=True)
    with igi_engine.begin() as conn:  # a plain-text password, refused because the worker does not allow it
        conn.execute(sa.text("INSERT INTO igi.event_out (operation, code, password, password_encrypted) "
                             "VALUES (3, 'alice', :p, false)"), {"p": SECRET_PASSWORDS[2]})
    assert plain.open(SECRET_PASSWORDS[2], False).get_secret_value() == SECRET_PASSWORDS[2]
    # A transient failure on the first pass, so retries and their traces happen with passwords in play.
    sim.faults = Faults(burst_every=3, burst_length=1, burst_status=503)
    provision(ProvisionOptions(max_attempts=5, backoff_seconds=0, backoff_cap_seconds=0))
    sim.faults = Faults()
    provision()
    assert event(igi_engine, create)["state"] == 2 and event(igi_engine, change)["state"] == 2
    plain_row = rows(igi_engine, "SELECT state, erc_status FROM igi.event_out WHERE password_encrypted = false")
    assert plain_row == [{"state": 3, "erc_status": "PasswordError"}]
    dump = rows(igi_engine, "SELECT row_to_json(e)::text AS j FROM igi.event_out e")
    dump += rows(igi_engine, "SELECT row_to_json(c)::text AS j FROM ss_staging.change_log c")
    assert rows(igi_engine, "SELECT count(*) AS n FROM igi.event_out WHERE password IS NOT NULL") == [{"n": 0}]
    captured = capsys.readouterr()
    everything = "\n".join([caplog.text, captured.out, captured.err, *(d["j"] for d in dump),
                            *(repr(r) for r in caplog.records)])
    for password in SECRET_PASSWORDS:
        assert password not in everything


def test_request_says_there_is_no_key_before_asking_for_a_password(env, monkeypatch, capsys):
    monkeypatch.delenv("SS_IGI_FERNET_KEY")
    typed = io.StringIO("Never-Read-Pass-1\n")
    monkeypatch.setattr("sys.stdin", typed)
    assert main(["request", "create", "erin", "--password-stdin"]) == 1
    err = capsys.readouterr().err
    assert err.startswith("ss-igi request: no Fernet key (SS_IGI_FERNET_KEY or SS_IGI_FERNET_KEY_BLOCK)")
    assert "make a key with: python -c" in err and len(err.strip().splitlines()) == 1
    assert typed.tell() == 0  # the password was never asked for
