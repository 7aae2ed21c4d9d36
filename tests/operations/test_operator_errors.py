"""Every failure of reconcile, provision, check and db upgrade ends with one line on stderr that says what failed
and what to do, with no traceback unless --verbose. The commands run as an operator runs them: the console
script in a process of its own (Prefect's console logging goes to that process's stderr)."""

from __future__ import annotations

import datetime as dt
import os
import re
import ssl
import subprocess
import sys
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path

import pytest
import sqlalchemy as sa

from connectors.igi import create_engine
from pipelines.failures import explain

SS_IGI = str(Path(sys.executable).with_name("ss-igi"))
NOWHERE_DB = "postgresql+psycopg://nobody@127.0.0.1:1/nowhere"
WRONG_PASSWORD = "Wr0ng-Passw0rd!"


def ss_igi(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    """Run the console script with ``env`` as its only settings, 80 columns wide."""
    full = {k: v for k, v in os.environ.items() if not k.startswith(("SECRET_SERVER_", "IGI_DATABASE"))}
    full.update(env, COLUMNS="80")
    return subprocess.run([SS_IGI, *args], env=full, capture_output=True, text=True, timeout=300)


LOG_RECORD = re.compile(r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3} (WARNING|ERROR) [\w.]+: ")


def one_line(result: subprocess.CompletedProcess[str], command: str) -> str:
    """The run's stderr ends with one line, ``ss-igi COMMAND: ...``; anything before it is a log record of one
    line (machine-readable), and nowhere is there a traceback."""
    assert result.returncode == 1, (result.stdout, result.stderr)
    assert "Traceback" not in result.stdout + result.stderr
    *logs, last = result.stderr.strip().splitlines()
    assert all(LOG_RECORD.match(line) for line in logs), result.stderr
    assert last.startswith(f"ss-igi {command}: ")
    return last


@pytest.fixture
def env(ops_env, prefect_harness) -> dict[str, str]:
    """The operator's settings, and the test session's Prefect API (no temporary server per command)."""
    return {**ops_env, "PREFECT_API_URL": prefect_harness}


def test_a_wrong_database_url_is_one_line_for_every_command(env):
    for args, command in ((["reconcile"], "reconcile"), (["provision"], "provision"), (["db", "upgrade"], "db"),
                          (["runs"], "runs"), (["queue"], "queue")):
        line = one_line(ss_igi(*args, env={**env, "IGI_DATABASE_URL": NOWHERE_DB}), command)
        assert "cannot connect to the IGI database" in line and "Connection refused" in line, line
        assert line.endswith("check IGI_DATABASE_URL (or --database-url) and that PostgreSQL is up"), line
    check = ss_igi("check", env={**env, "IGI_DATABASE_URL": NOWHERE_DB})
    assert one_line(check, "check").startswith("ss-igi check: IGI database: cannot connect to the IGI database")


def test_verbose_shows_the_traceback(env):
    result = ss_igi("--verbose", "db", "upgrade", env={**env, "IGI_DATABASE_URL": NOWHERE_DB})
    assert result.returncode == 1 and "Traceback" in result.stderr
    assert result.stderr.strip().splitlines()[-1].startswith("ss-igi db: cannot connect to the IGI database")


def test_a_wrong_password_stops_the_run_with_one_line(env):
    result = ss_igi("reconcile", env={**env, "SECRET_SERVER_PASSWORD": WRONG_PASSWORD})
    line = one_line(result, "reconcile")
    assert line.startswith("ss-igi reconcile: run 1 failed: ")
    assert line.endswith("check SECRET_SERVER_USERNAME, SECRET_SERVER_PASSWORD and SECRET_SERVER_DOMAIN")
    assert WRONG_PASSWORD not in result.stdout + result.stderr
    check = one_line(ss_igi("check", env={**env, "SECRET_SERVER_PASSWORD": WRONG_PASSWORD}), "check")
    assert check.startswith("ss-igi check: Secret Server: ") and "SECRET_SERVER_PASSWORD" in check


def test_a_wrong_secret_server_url_says_to_check_it(env, simulator):
    unreachable = one_line(ss_igi("check", env={**env, "SECRET_SERVER_URL": "http://127.0.0.1:1/SecretServer"}),
                           "check")
    assert "cannot reach Secret Server" in unreachable and unreachable.endswith(
        "check SECRET_SERVER_URL and that the server is up")
    wrong_path = one_line(ss_igi("check", env={**env, "SECRET_SERVER_URL": simulator.base_url + "/nope"}), "check")
    assert "no token endpoint at that address; check SECRET_SERVER_URL" in wrong_path
    not_http = one_line(ss_igi("reconcile", env={**env, "SECRET_SERVER_URL": "vault.example.com"}), "reconcile")
    assert "SECRET_SERVER_URL must be an http(s) URL" in not_http


@pytest.fixture
def self_signed_https(tmp_path) -> Iterator[str]:
    """An HTTPS server whose certificate no CA vouches for."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = dt.datetime.now(dt.UTC)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(x509.random_serial_number()).not_valid_before(now)
            .not_valid_after(now + dt.timedelta(days=1)).sign(key, hashes.SHA256()))
    pem = tmp_path / "server.pem"
    pem.write_bytes(cert.public_bytes(serialization.Encoding.PEM) + key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()))

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            self.send_response(500)
            self.end_headers()

        def log_message(self, *args: object) -> None:
            pass

    server = HTTPServer(("127.0.0.1", 0), Handler)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(pem)
    server.socket = context.wrap_socket(server.socket, server_side=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"https://127.0.0.1:{server.server_address[1]}/SecretServer"
    server.shutdown()


def test_an_untrusted_certificate_says_to_set_the_ca_bundle(env, self_signed_https):
    line = one_line(ss_igi("check", env={**env, "SECRET_SERVER_URL": self_signed_https}), "check")
    assert "TLS verification failed" in line and "Set SECRET_SERVER_CA_BUNDLE" in line
    run = one_line(ss_igi("reconcile", env={**env, "SECRET_SERVER_URL": self_signed_https}), "reconcile")
    assert "run 1 failed" in run and "Set SECRET_SERVER_CA_BUNDLE" in run


def test_pending_migrations_say_to_run_db_upgrade(env, empty_database_url):
    for command in ("runs", "queue"):
        line = one_line(ss_igi(command, env={**env, "IGI_DATABASE_URL": empty_database_url}), command)
        assert "pending migration(s) (001_staging_objects.sql .. " in line and line.endswith("run ss-igi db upgrade")


def test_a_connection_lost_mid_statement_is_said_without_sql(igi_database_url, pg_server_url):
    engine = create_engine(igi_database_url)
    admin = sa.create_engine(pg_server_url, isolation_level="AUTOCOMMIT")
    try:
        with engine.connect() as conn:
            pid = conn.execute(sa.text("SELECT pg_backend_pid()")).scalar_one()
            with admin.connect() as killer:
                killer.execute(sa.text("SELECT pg_terminate_backend(:p)"), {"p": pid})
            with pytest.raises(sa.exc.OperationalError) as lost:
                conn.execute(sa.text("SELECT count(*) FROM ss_staging.users WHERE user_name = :n"), {"n": "x"})
    finally:
        engine.dispose()
        admin.dispose()
    assert "SELECT count(*)" in str(lost.value)  # what SQLAlchemy would have printed
    message = explain(lost.value)
    assert message.startswith("lost the connection to the IGI database (")
    assert message.endswith("run the command again when the database is back")
    assert "SELECT" not in message and "[SQL" not in message and "\n" not in message
