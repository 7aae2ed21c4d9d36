"""Credentials from Prefect Secret blocks instead of environment variables."""

from __future__ import annotations

import uuid

from sqlalchemy.engine import make_url

from pipelines.cli import main


def test_password_and_database_url_come_from_secret_blocks(ops_env, monkeypatch, prefect_harness, capsys):
    from prefect.blocks.system import Secret

    password_block = f"ss-password-{uuid.uuid4().hex[:8]}"
    url_block = f"igi-url-{uuid.uuid4().hex[:8]}"
    Secret(value=ops_env["SECRET_SERVER_PASSWORD"]).save(password_block)
    Secret(value=ops_env["IGI_DATABASE_URL"]).save(url_block)
    monkeypatch.delenv("SECRET_SERVER_PASSWORD")
    monkeypatch.delenv("IGI_DATABASE_URL")
    monkeypatch.setenv("SECRET_SERVER_PASSWORD_BLOCK", password_block)
    monkeypatch.setenv("IGI_DATABASE_URL_BLOCK", url_block)

    assert main(["check"]) == 0
    out = capsys.readouterr().out
    assert out.count("OK") == 2
    # The database reached is the one in the block, not the embedded default.
    assert f"database {make_url(ops_env['IGI_DATABASE_URL']).database}:" in out


def test_a_missing_block_is_a_clear_failure(ops_env, monkeypatch, prefect_harness, capsys):
    monkeypatch.delenv("SECRET_SERVER_PASSWORD")
    monkeypatch.setenv("SECRET_SERVER_PASSWORD_BLOCK", "no-such-block")
    assert main(["check"]) == 1
    assert "no-such-block" in capsys.readouterr().err
