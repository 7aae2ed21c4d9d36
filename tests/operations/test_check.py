"""`ss-igi check`: a verdict on both connections, non-zero with the reason when either fails."""

from __future__ import annotations

from pipelines.cli import main


def test_check_passes_when_both_sides_answer(ops_env, capsys):
    assert main(["check"]) == 0
    out = capsys.readouterr().out
    assert out.count("OK") == 2
    assert "healthy=True" in out
    assert "migrations applied" in out


def test_check_fails_on_a_wrong_password_without_showing_it(ops_env, monkeypatch, capsys):
    monkeypatch.setenv("SECRET_SERVER_PASSWORD", "Wr0ng-Passw0rd!")
    assert main(["check"]) == 1
    captured = capsys.readouterr()
    assert "FAILED" in captured.out
    assert captured.err.startswith("ss-igi check: Secret Server: Secret Server refused the login")
    assert "check SECRET_SERVER_USERNAME, SECRET_SERVER_PASSWORD" in captured.err
    assert len(captured.err.strip().splitlines()) == 1
    assert "Wr0ng-Passw0rd!" not in captured.out + captured.err


def test_check_fails_when_the_database_is_unreachable(ops_env, monkeypatch, capsys):
    monkeypatch.setenv("IGI_DATABASE_URL", "postgresql+psycopg://nobody@127.0.0.1:1/nowhere")
    assert main(["check"]) == 1
    err = capsys.readouterr().err
    assert "IGI database: cannot connect to the IGI database" in err
    assert "Secret Server" not in err  # that side passed


def test_check_names_missing_settings(ops_env, monkeypatch, capsys):
    monkeypatch.delenv("SECRET_SERVER_URL")
    assert main(["check"]) == 1
    assert "missing setting(s): SECRET_SERVER_URL" in capsys.readouterr().err


def test_check_reports_pending_migrations_without_failing(ops_env, monkeypatch, empty_database_url, capsys):
    monkeypatch.setenv("IGI_DATABASE_URL", empty_database_url)
    assert main(["check"]) == 0
    cells = " ".join(capsys.readouterr().out.replace("│", " ").split())  # the detail wraps with the width
    assert "0 migrations applied" in cells


def test_verbose_logging_never_shows_the_password(ops_env, monkeypatch, capsys, caplog):
    caplog.set_level("DEBUG")
    monkeypatch.setenv("SECRET_SERVER_PASSWORD", "Wr0ng-Passw0rd!")
    assert main(["--verbose", "check"]) == 1
    captured = capsys.readouterr()
    assert "urllib3" in caplog.text or "connectors.secret_server" in caplog.text  # debug lines were logged
    assert "Wr0ng-Passw0rd!" not in caplog.text + captured.out + captured.err


def test_command_line_flags_override_the_environment(ops_env, monkeypatch, capsys):
    monkeypatch.setenv("SECRET_SERVER_URL", "http://127.0.0.1:1/SecretServer")
    monkeypatch.setenv("IGI_DATABASE_URL", "postgresql+psycopg://nobody@127.0.0.1:1/nowhere")
    assert main(["--secret-server-url", ops_env["SECRET_SERVER_URL"],
                 "--database-url", ops_env["IGI_DATABASE_URL"], "check"]) == 0
    assert capsys.readouterr().out.count("OK") == 2



def test_command_line_flags_leave_the_environment_as_it_was(ops_env, monkeypatch, capsys):
    import os

    monkeypatch.setenv("SECRET_SERVER_URL", "http://127.0.0.1:1/SecretServer")
    monkeypatch.setenv("IGI_DATABASE_URL", "postgresql+psycopg://nobody@127.0.0.1:1/nowhere")
    assert main(["--secret-server-url", ops_env["SECRET_SERVER_URL"],
                 "--database-url", ops_env["IGI_DATABASE_URL"], "check"]) == 0
    capsys.readouterr()
    # The flags are arguments of this command's settings, not variables that later code would find.
    assert os.environ["SECRET_SERVER_URL"] == "http://127.0.0.1:1/SecretServer"
    assert os.environ["IGI_DATABASE_URL"] == "postgresql+psycopg://nobody@127.0.0.1:1/nowhere"
