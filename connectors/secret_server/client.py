"""`SecretServerClient`: the only object callers need.

    with SecretServerClient(url, user, password, max_workers=8) as client:
        for user in client.iter_users():
            ...
        for group, members in client.fan_out(client.iter_group_members, group_ids):
            ...

It takes explicit arguments and reads no settings. Reads are in `reads.py`, writes in `writes.py`,
HTTP/retries in `transport.py`, tokens in `auth.py`, paging in `paging.py`, counters in `stats.py`; what the
pipelines need of it, as typing protocols, in `protocols.py`.
"""

from __future__ import annotations

from typing import Any

from connectors.secret_server.records import ConnectionReport
from connectors.secret_server.writes import WriteOperations


class SecretServerClient(WriteOperations):
    """Secret Server REST client (thread-safe; one pooled session and one token per client).

    Arguments: ``base_url`` such as ``https://host/SecretServer``; ``username``/``password`` for
    the OAuth2 password grant, optional AD ``domain`` and 2FA ``otp`` (sent as the ``OTP`` header;
    a one-time code cannot serve a later re-login); ``verify_tls`` (on by default) and an optional
    ``ca_bundle`` path; ``max_workers`` sizes both the fan-out pool and the connection pool;
    ``page_size`` is the ``take`` asked for (the server may return fewer); timeouts in seconds;
    ``max_attempts``/``max_retry_seconds`` bound the retries of each request;
    ``backoff_base``/``backoff_cap`` shape the exponential backoff.
    """

    def __enter__(self) -> SecretServerClient:
        return self

    def test_connection(self) -> ConnectionReport:
        """Log in, then ask ``GET /version`` and ``GET /healthcheck``. Raises on failure."""
        version_body = self._request("GET", "/version")
        health = self._request("GET", "/healthcheck")
        version: Any = None
        if isinstance(version_body, dict):
            model = version_body.get("model")
            version = model.get("version") if isinstance(model, dict) else version_body.get("version")
        # Real servers answer `Healthy`, ... (what Delinea's SDK reads); the collection shows `healthy`.
        health_dict = {str(k).lower(): v for k, v in health.items()} if isinstance(health, dict) else {}
        return ConnectionReport(
            base_url=self.base_url,
            version=str(version) if version is not None else None,
            healthy=health_dict.get("healthy"),
            database_mismatch=health_dict.get("databasemismatch"),
            read_only_mode=health_dict.get("readonlymode"),
            server_time_utc=health_dict.get("utcnow"),
            raw_version=version_body,
            raw_health=health,
        )
