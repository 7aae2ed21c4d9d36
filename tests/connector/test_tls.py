"""TLS as a real Secret Server serves it: a certificate from a private CA is trusted with the CA bundle, refused
without it (one clear error, no retry), and accepted unverified only when verification is turned off."""

from __future__ import annotations

import datetime
import ipaddress
import ssl
from collections.abc import Iterator
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from connectors.secret_server import SecretServerClient, SecretServerError
from tests.connector.scripted_server import ScriptedServer


def _certificates(folder: Path) -> tuple[Path, Path, Path]:
    """A private CA, and a server certificate it signed for 127.0.0.1: (ca.pem, server.pem, server.key)."""
    now = datetime.datetime.now(datetime.UTC)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "ss-igi test CA")])
    ca = (x509.CertificateBuilder().subject_name(ca_name).issuer_name(ca_name).public_key(ca_key.public_key())
          .serial_number(x509.random_serial_number()).not_valid_before(now - datetime.timedelta(minutes=5))
          .not_valid_after(now + datetime.timedelta(days=1))
          .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
          .add_extension(x509.KeyUsage(digital_signature=True, key_cert_sign=True, crl_sign=True,
                                       content_commitment=False, key_encipherment=False, data_encipherment=False,
                                       key_agreement=False, encipher_only=False, decipher_only=False), critical=True)
          .add_extension(x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()), critical=False)
          .sign(ca_key, hashes.SHA256()))
    key = ec.generate_private_key(ec.SECP256R1())
    server = (x509.CertificateBuilder()
              .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")]))
              .issuer_name(ca_name).public_key(key.public_key()).serial_number(x509.random_serial_number())
              .not_valid_before(now - datetime.timedelta(minutes=5)).not_valid_after(now + datetime.timedelta(days=1))
              .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
                             critical=False)
              .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), critical=False)
              .sign(ca_key, hashes.SHA256()))
    paths = folder / "ca.pem", folder / "server.pem", folder / "server.key"
    paths[0].write_bytes(ca.public_bytes(serialization.Encoding.PEM))
    paths[1].write_bytes(server.public_bytes(serialization.Encoding.PEM))
    paths[2].write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    return paths


@pytest.fixture
def tls_server(tmp_path: Path) -> Iterator[tuple[ScriptedServer, Path]]:
    ca, cert, key = _certificates(tmp_path)
    server = ScriptedServer()
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    server.httpd.socket = context.wrap_socket(server.httpd.socket, server_side=True)
    server.base_url = server.base_url.replace("http://", "https://")
    server.route("GET", "/api/v1/version", lambda req: (200, {}, {"model": {"version": "10.9.000035"}}))
    server.route("GET", "/api/v1/healthcheck", lambda req: (200, {}, {"Healthy": True}))
    with server:
        yield server, ca


def test_a_private_ca_is_trusted_through_the_ca_bundle(tls_server):
    server, ca = tls_server
    with SecretServerClient(server.base_url, "admin", "right-password", ca_bundle=str(ca)) as client:
        report = client.test_connection()
    assert report["version"] == "10.9.000035" and report["healthy"] is True


def test_an_untrusted_certificate_is_one_clear_error_not_retried(tls_server):
    server, _ = tls_server
    with SecretServerClient(server.base_url, "admin", "right-password", max_attempts=5) as client, \
            pytest.raises(SecretServerError) as caught:
        client.test_connection()
    assert "TLS verification failed" in str(caught.value) and "set a CA bundle" in str(caught.value)
    assert "right-password" not in str(caught.value)


def test_verification_can_be_turned_off(tls_server):
    server, _ = tls_server
    with SecretServerClient(server.base_url, "admin", "right-password", verify_tls=False) as client:
        assert client.test_connection()["healthy"] is True
