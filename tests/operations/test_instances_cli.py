"""The operator's commands with two Secret Server instances (default and dr, overlapping ids) in one database:
`reconcile` per instance or each in turn, `check` per instance, `runs` with the instance, and the global
--secret-server-* flags kept to the default instance."""

from __future__ import annotations

import json

import pytest
import sqlalchemy as sa

from pipelines.cli import main
from pipelines.instances import configured_instances
from pipelines.secret_server import ConfigurationError, open_secret_server
from pipelines.settings import Settings
from simulator.faults import Faults

WRONG = "Wr0ng-Passw0rd!"


def _users_by_instance(engine: sa.Engine) -> dict[str, int]:
    with engine.connect() as conn:
        return dict(conn.execute(sa.text(  # type: ignore[arg-type]
            "SELECT instance, count(*) FROM ss_staging.users WHERE deleted_at IS NULL GROUP BY instance")).all())


def _runs(engine: sa.Engine) -> list[tuple[str, str]]:
    with engine.connect() as conn:
        return [tuple(r) for r in conn.execute(sa.text(
            "SELECT instance, status FROM ss_staging.reconciliation_runs ORDER BY run_id")).all()]


def _token_requests(server) -> int:
    return len(server.calls("POST", "/oauth2/token"))


def test_reconcile_without_instance_reconciles_each_configured_instance_in_turn(two_instances, igi_engine,
                                                                                  capsys):
    two_instances.dr.org.add_user("dr.only", display_name="Only On DR", email_address="dr.only@example.com")
    assert main(["reconcile", "--quiet"]) == 0
    out = capsys.readouterr().out
    assert "ss-igi reconcile: instance default, run 1 succeeded" in out
    assert "ss-igi reconcile: instance dr, run 2 succeeded" in out
    assert _runs(igi_engine) == [("default", "succeeded"), ("dr", "succeeded")]
    assert _users_by_instance(igi_engine) == {"default": len(two_instances.default.org.users()),
                                              "dr": len(two_instances.dr.org.users())}
    # The ids overlap, and each instance's user 7 is its own.
    with igi_engine.connect() as conn:
        names = dict(conn.execute(sa.text(  # type: ignore[arg-type]
            "SELECT instance, user_name FROM ss_staging.users WHERE user_id = 7")).all())
    assert names == {"default": two_instances.default.org.user_map[7].user_name,
                     "dr": two_instances.dr.org.user_map[7].user_name}
    assert names["default"] != names["dr"]


def test_with_a_prefect_api_each_instance_is_a_flow_run_of_its_own(two_instances, prefect_harness, igi_engine,
                                                                  capsys):
    assert main(["reconcile", "--quiet"]) == 0
    assert main(["reconcile", "--quiet", "--instance", "dr", "--dry-run"]) == 0
    out = capsys.readouterr().out
    assert "instance default, run 1 succeeded" in out and "instance dr, run 2 succeeded" in out
    assert "instance dr, run 3 succeeded (dry run)" in out
    with igi_engine.connect() as conn:
        runs = conn.execute(sa.text(
            "SELECT instance, flow_run_id FROM ss_staging.reconciliation_runs ORDER BY run_id")).all()
    assert [r.instance for r in runs] == ["default", "dr", "dr"]
    assert all(r.flow_run_id for r in runs) and len({r.flow_run_id for r in runs}) == 3
    assert _users_by_instance(igi_engine) == {"default": len(two_instances.default.org.users()),
                                              "dr": len(two_instances.dr.org.users())}


def test_reconcile_instance_reconciles_that_instance_only(two_instances, igi_engine, capsys):
    two_instances.default.clear_log()
    assert main(["reconcile", "--quiet", "--instance", "dr"]) == 0
    assert "ss-igi reconcile: instance dr, run 1 succeeded" in capsys.readouterr().out
    assert _runs(igi_engine) == [("dr", "succeeded")]
    assert set(_users_by_instance(igi_engine)) == {"dr"}
    assert not two_instances.default.calls()  # the other instance was not even asked

    assert main(["reconcile", "--quiet", "--instance", "eu"]) == 1
    err = capsys.readouterr().err
    assert err == "ss-igi reconcile: no instance 'eu' is configured (SS_IGI_INSTANCES: default, dr)\n"


def test_a_failing_instance_does_not_stop_the_others_and_the_exit_status_is_the_worst(
        two_instances, monkeypatch, igi_engine, capsys):
    monkeypatch.setenv("DR_SECRET_SERVER_PASSWORD", WRONG)
    two_instances.dr.clear_log()
    assert main(["reconcile", "--quiet"]) == 1
    captured = capsys.readouterr()
    assert _runs(igi_engine) == [("default", "succeeded"), ("dr", "failed")]
    assert set(_users_by_instance(igi_engine)) == {"default"}
    assert _token_requests(two_instances.dr) == 1  # a refused login is one attempt
    # The command's one line (a test run earlier in this process may have left Prefect's log handlers behind).
    (line,) = [line for line in captured.err.splitlines() if line.startswith("ss-igi ")]
    assert line.startswith("ss-igi reconcile: run 2 of instance dr failed: Secret Server refused the login")
    assert line.endswith("check DR_SECRET_SERVER_USERNAME, DR_SECRET_SERVER_PASSWORD and DR_SECRET_SERVER_DOMAIN")
    assert WRONG not in captured.out + captured.err
    # The run history says the same as the command line: the reason recorded for auditors names dr's variables.
    with igi_engine.connect() as conn:
        recorded = conn.execute(sa.text(
            "SELECT error FROM ss_staging.reconciliation_runs WHERE instance = 'dr'")).scalar_one()
    assert recorded.endswith("check DR_SECRET_SERVER_USERNAME, DR_SECRET_SERVER_PASSWORD and DR_SECRET_SERVER_DOMAIN")

    # A warning (partial) of one instance is exit status 3 when the other succeeds.
    monkeypatch.setenv("DR_SECRET_SERVER_PASSWORD", "admin")
    two_instances.dr.faults = Faults(user_id_text=two_instances.dr.org.users()[5]["id"])
    assert main(["reconcile", "--quiet"]) == 3
    captured = capsys.readouterr()
    assert _runs(igi_engine)[2:] == [("default", "succeeded"), ("dr", "partial")]
    assert captured.err.startswith("ss-igi reconcile: run 4 of instance dr partial")


def test_an_instance_missing_its_settings_names_its_own_variables_and_the_others_still_run(
        two_instances, monkeypatch, igi_engine, capsys):
    monkeypatch.delenv("DR_SECRET_SERVER_URL")
    assert main(["reconcile", "--quiet"]) == 1
    captured = capsys.readouterr()
    assert _runs(igi_engine) == [("default", "succeeded")]
    assert "instance dr failed" in captured.out
    assert captured.err == ("ss-igi reconcile: instance dr: missing setting(s): DR_SECRET_SERVER_URL; set them in "
                            "the environment (README: Configuration)\n")


def test_open_secret_server_names_the_instances_own_variables(two_instances, monkeypatch):
    monkeypatch.delenv("DR_SECRET_SERVER_USERNAME")
    monkeypatch.delenv("DR_SECRET_SERVER_PASSWORD")
    default, dr = configured_instances(Settings())
    with pytest.raises(ConfigurationError, match=r"^missing setting\(s\): DR_SECRET_SERVER_USERNAME, "
                                                 r"DR_SECRET_SERVER_PASSWORD;"):
        open_secret_server(dr.settings)
    monkeypatch.setenv("DR_SECRET_SERVER_URL", "vault.example.com/SecretServer")
    monkeypatch.setenv("DR_SECRET_SERVER_USERNAME", "admin")
    monkeypatch.setenv("DR_SECRET_SERVER_PASSWORD", "admin")
    with pytest.raises(ConfigurationError, match=r"^DR_SECRET_SERVER_URL must be an http"):
        open_secret_server(configured_instances(Settings())[1].settings)
    with open_secret_server(default.settings) as client:  # the default instance's, as ever
        assert client.test_connection()["healthy"] is True
    monkeypatch.delenv("SECRET_SERVER_URL")
    with pytest.raises(ConfigurationError, match=r"^missing setting\(s\): SECRET_SERVER_URL;"):
        open_secret_server(Settings())


@pytest.mark.parametrize("command", [["reconcile", "--instance", "dr"], ["check", "--instance", "DR"]])
def test_the_secret_server_flags_are_refused_for_another_instance(two_instances, igi_engine, capsys, command):
    two_instances.dr.clear_log()
    args = ["--secret-server-url", two_instances.default.base_url, "--secret-server-username", "admin", *command]
    assert main(args) == 1
    err = capsys.readouterr().err
    assert err == (f"ss-igi {command[0]}: --secret-server-url, --secret-server-username set the default instance "
                   "only; for instance dr set DR_SECRET_SERVER_* in the environment\n")
    assert not two_instances.dr.calls() and not _runs(igi_engine)


def test_the_secret_server_flags_set_the_default_instance(two_instances, monkeypatch, igi_engine, capsys):
    monkeypatch.setenv("SECRET_SERVER_URL", "http://127.0.0.1:1/SecretServer")
    assert main(["--secret-server-url", two_instances.default.base_url, "reconcile", "--quiet",
                 "--instance", "default"]) == 0
    assert _runs(igi_engine) == [("default", "succeeded")]
    assert main(["--secret-server-url", two_instances.default.base_url, "check"]) == 0  # dr from DR_ variables
    assert capsys.readouterr().out.count("OK") == 3


def _rows(out: str) -> dict[str, tuple[str, str, str]]:
    """The check table: its first column's first line -> (that column's second line, verdict, detail's start)."""
    lines = [[c.strip() for c in line.split("│")[1:-1]] for line in out.splitlines() if line.startswith("│")]
    return {cells[0]: (lines[n + 1][0] if n + 1 < len(lines) else "", cells[1], cells[2])
            for n, cells in enumerate(lines) if cells[1]}


def test_check_tests_each_instance_one_row_each(two_instances, capsys):
    assert main(["check"]) == 0
    rows = _rows(capsys.readouterr().out)
    assert list(rows) == ["Secret Server default", "Secret Server dr", "IGI database"]
    assert rows["Secret Server default"][:2] == ("target SecretServer", "OK")
    assert rows["Secret Server dr"][:2] == ("target SecretServer-dr", "OK")
    assert rows["Secret Server default"][2].startswith(two_instances.default.base_url)
    assert rows["Secret Server dr"][2].startswith(two_instances.dr.base_url)
    assert rows["IGI database"][1] == "OK"


def test_check_with_one_instance_refusing_the_login_fails_in_one_line_after_one_attempt(
        two_instances, monkeypatch, capsys):
    monkeypatch.setenv("DR_SECRET_SERVER_PASSWORD", WRONG)
    monkeypatch.setenv("DR_IGI_TARGET", "SS-DR")
    two_instances.dr.clear_log()
    assert main(["check"]) == 1
    captured = capsys.readouterr()
    rows = _rows(captured.out)
    assert rows["Secret Server default"][1] == "OK"
    assert rows["Secret Server dr"][:2] == ("target SS-DR", "FAILED")
    assert rows["Secret Server dr"][2].startswith(two_instances.dr.base_url)
    (line,) = captured.err.strip().splitlines()
    assert line.startswith(f"ss-igi check: Secret Server dr ({two_instances.dr.base_url}): Secret Server refused "
                           "the login")
    assert line.endswith("check DR_SECRET_SERVER_USERNAME, DR_SECRET_SERVER_PASSWORD and DR_SECRET_SERVER_DOMAIN")
    assert _token_requests(two_instances.dr) == 1
    assert WRONG not in captured.out + captured.err


def test_check_instance_tests_only_that_one(two_instances, capsys):
    two_instances.default.clear_log()
    assert main(["check", "--instance", "dr"]) == 0
    assert list(_rows(capsys.readouterr().out)) == ["Secret Server dr", "IGI database"]
    assert not two_instances.default.calls()


def test_runs_shows_each_runs_instance_and_filters_by_it(two_instances, igi_engine, capsys):
    assert main(["reconcile", "--quiet"]) == 0
    assert main(["reconcile", "--quiet", "--instance", "dr", "--dry-run"]) == 0
    capsys.readouterr()

    assert main(["runs", "--json"]) == 0
    runs = json.loads(capsys.readouterr().out)
    assert [(r["run_id"], r["instance"]) for r in runs] == [(3, "dr"), (2, "dr"), (1, "default")]
    assert main(["runs", "--instance", "dr", "--json"]) == 0
    assert [r["run_id"] for r in json.loads(capsys.readouterr().out)] == [3, 2]
    assert main(["runs", "--instance", "default", "--limit", "5", "--json"]) == 0
    assert [r["run_id"] for r in json.loads(capsys.readouterr().out)] == [1]

    assert main(["runs"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert "Instance" in "".join(lines[:4])
    firsts = {line.split()[0]: line.split()[2] for line in lines if line.split()[:1] in (["1"], ["2"], ["3"])}
    assert firsts == {"1": "default", "2": "dr", "3": "dr"}
    assert main(["runs", "show", "2", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["instance"] == "dr"
    assert main(["runs", "show", "2"]) == 0
    assert capsys.readouterr().out.startswith("Run 2 of instance dr: succeeded")


def test_serve_has_one_reconcile_deployment_per_instance(two_instances, monkeypatch):
    from pipelines.commands.serve import _reconcile_deployments

    assert _reconcile_deployments(Settings()) == {"nightly-reconcile-default-served": {"instance": "default"},
                                                  "nightly-reconcile-dr-served": {"instance": "dr"}}
    monkeypatch.delenv("SS_IGI_INSTANCES")
    assert _reconcile_deployments(Settings()) == {"nightly-reconcile-served": {}}  # as before instances
