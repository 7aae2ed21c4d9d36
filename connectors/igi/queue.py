"""The provisioning queue, ``igi.event_out``: enqueue, claim, and the write-backs. All its SQL is here.

Claiming is one statement: due, pending rows whose lease is free or expired, and that have no earlier pending
row for the same account (case-insensitive ``code``), locked with ``FOR UPDATE SKIP LOCKED`` and stamped with
the worker and a lease in the same UPDATE. So any number of workers on any number of hosts take disjoint rows,
a crashed worker's rows come back when its lease ends, and the requests of one account run one after another
in ``event_id`` order. Every write-back requires ``claimed_by = worker``: a worker whose lease expired and
whose request was taken over cannot overwrite the newer claim.

The ``password`` column is set to NULL in the same UPDATE that makes a request final.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from enum import IntEnum
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine


class Operation(IntEnum):
    """IGI operation codes of the OUT queue."""

    PERMISSION_ADD = 1
    PERMISSION_REMOVE = 2
    ACCOUNT_PWDCHANGE = 3
    ACCOUNT_DISABLE = 6
    ACCOUNT_ENABLE = 7
    ACCOUNT_MODIFY = 9
    ACCOUNT_CREATE = 10
    ACCOUNT_REMOVE = 11


class State(IntEnum):
    PENDING = 1
    SUCCESS = 2
    ERROR = 3


PERMISSION_TYPES = ("group", "folder", "secret")


@dataclass(frozen=True)
class ProvisioningRequest:
    """One claimed row of ``igi.event_out``. ``password`` (a Fernet token or plain text) never shows in repr."""

    event_id: int
    operation: Operation
    code: str
    person_code: str | None
    attributes: dict[str, Any]
    permission_type: str | None
    permission_id: int | None
    permission_name: str | None
    folder_access_role: str | None
    secret_access_role: str | None
    password: str | None = field(repr=False)
    password_encrypted: bool
    attempts: int
    checkpoint: dict[str, Any] | None
    claimed_by: str
    claimed_until: datetime


_COLUMNS = (
    "event_id, operation, code, person_code, attributes, permission_type, permission_id, permission_name, "
    "folder_access_role, secret_access_role, password, password_encrypted, attempts, checkpoint, "
    "claimed_by, claimed_until"
)


def _request(row: Mapping[str, Any]) -> ProvisioningRequest:
    values = dict(row)
    values["operation"] = Operation(values["operation"])
    values["attributes"] = dict(values["attributes"] or {})
    return ProvisioningRequest(**values)


def enqueue_request(
    engine: Engine | Connection,
    *,
    operation: int,
    code: str,
    person_code: str | None = None,
    attributes: Mapping[str, Any] | None = None,
    permission_type: str | None = None,
    permission_id: int | None = None,
    permission_name: str | None = None,
    folder_access_role: str | None = None,
    secret_access_role: str | None = None,
    password: str | None = None,
    password_encrypted: bool = True,
) -> int:
    """Insert one pending request and return its event_id. ``password`` must already be what the column holds
    (a Fernet token, or plain text with ``password_encrypted=False``); encrypting is the caller's job."""
    op = Operation(operation)
    if op in (Operation.PERMISSION_ADD, Operation.PERMISSION_REMOVE):
        if permission_type not in PERMISSION_TYPES:
            raise ValueError(f"a permission request needs permission_type in {PERMISSION_TYPES}")
        if permission_id is None and not permission_name:
            raise ValueError("a permission request needs permission_id or permission_name")
    if not code or not code.strip():
        raise ValueError("code (the account) is required")
    statement = sa.text(
        "INSERT INTO igi.event_out (operation, code, person_code, attributes, permission_type, permission_id, "
        "permission_name, folder_access_role, secret_access_role, password, password_encrypted) "
        "VALUES (:operation, :code, :person_code, CAST(:attributes AS jsonb), :permission_type, :permission_id, "
        ":permission_name, :folder_access_role, :secret_access_role, :password, :password_encrypted) "
        "RETURNING event_id"
    )
    params = {
        "operation": int(op), "code": code.strip(), "person_code": person_code,
        "attributes": json.dumps(dict(attributes or {})), "permission_type": permission_type,
        "permission_id": permission_id, "permission_name": permission_name,
        "folder_access_role": folder_access_role, "secret_access_role": secret_access_role,
        "password": password, "password_encrypted": password_encrypted,
    }
    if isinstance(engine, Connection):
        return int(engine.execute(statement, params).scalar_one())
    with engine.begin() as conn:
        return int(conn.execute(statement, params).scalar_one())


_CLAIM = sa.text(f"""
WITH due AS (
    SELECT e.event_id
    FROM igi.event_out e
    WHERE e.state = 1
      AND e.next_attempt_at <= now()
      AND (e.claimed_until IS NULL OR e.claimed_until < now())
      AND NOT EXISTS (
          SELECT 1 FROM igi.event_out earlier
          WHERE lower(earlier.code) = lower(e.code) AND earlier.state = 1 AND earlier.event_id < e.event_id
      )
    ORDER BY e.event_id
    LIMIT :batch_size
    FOR UPDATE OF e SKIP LOCKED
)
UPDATE igi.event_out e
SET claimed_by = :worker_id,
    claimed_until = now() + make_interval(secs => :lease_seconds),
    attempts = e.attempts + 1,
    worker_history = array_append(e.worker_history, :worker_id)
FROM due
WHERE e.event_id = due.event_id
RETURNING {", ".join("e." + c.strip() for c in _COLUMNS.split(","))}
""")


def claim_pending_requests(
    engine: Engine, worker_id: str, batch_size: int, lease_seconds: float
) -> list[ProvisioningRequest]:
    """Claim up to ``batch_size`` due requests for ``worker_id`` for ``lease_seconds``, oldest first.

    Each claim counts as an attempt. A request is left alone while an earlier request for the same account
    is pending (claimed or not, due or waiting for a retry), which keeps per-account order across workers.
    """
    with engine.begin() as conn:
        rows = conn.execute(
            _CLAIM, {"worker_id": worker_id, "batch_size": int(batch_size), "lease_seconds": float(lease_seconds)}
        ).mappings().all()
    return sorted((_request(dict(r)) for r in rows), key=lambda r: r.event_id)


def save_checkpoint(engine: Engine, event_id: int, worker_id: str, checkpoint: Mapping[str, Any]) -> bool:
    """Record what Secret Server showed before a call that cannot be verified afterwards (committed at once)."""
    with engine.begin() as conn:
        result = conn.execute(
            sa.text("UPDATE igi.event_out SET checkpoint = CAST(:c AS jsonb) "
                    "WHERE event_id = :id AND claimed_by = :w AND state = 1"),
            {"c": json.dumps(dict(checkpoint)), "id": event_id, "w": worker_id},
        )
    return result.rowcount == 1


def lease_is_held(engine: Engine, event_id: int, worker_id: str) -> bool:
    """True while ``worker_id`` still holds an unexpired claim on the request."""
    with engine.connect() as conn:
        return bool(conn.execute(
            sa.text("SELECT 1 FROM igi.event_out WHERE event_id = :id AND claimed_by = :w AND state = 1 "
                    "AND claimed_until > now()"),
            {"id": event_id, "w": worker_id},
        ).scalar())


_FINISH = sa.text("""
UPDATE igi.event_out
SET state = :state, erc_status = :erc_status, trace = :trace, processed_at = now(),
    password = NULL, checkpoint = NULL, claimed_until = NULL
WHERE event_id = :event_id AND claimed_by = :worker_id AND state = 1
""")


def complete_request(conn: Connection, event_id: int, worker_id: str, trace: str,
                     erc_status: str = "Success") -> bool:
    """State 2 (success), password erased. Run it in the transaction that also writes staging; returns False
    (and the caller must roll back) when the claim was lost to another worker."""
    result = conn.execute(_FINISH, {"state": int(State.SUCCESS), "erc_status": erc_status, "trace": trace,
                                    "event_id": event_id, "worker_id": worker_id})
    return result.rowcount == 1


def fail_request(conn: Connection, event_id: int, worker_id: str, trace: str, erc_status: str) -> bool:
    """State 3 (error), password erased. False when the claim was lost to another worker."""
    result = conn.execute(_FINISH, {"state": int(State.ERROR), "erc_status": erc_status, "trace": trace,
                                    "event_id": event_id, "worker_id": worker_id})
    return result.rowcount == 1


def retry_request(conn: Connection, event_id: int, worker_id: str, trace: str, erc_status: str,
                  delay_seconds: float) -> bool:
    """Back to pending, due again after ``delay_seconds``; the claim is released, the password kept."""
    result = conn.execute(
        sa.text("UPDATE igi.event_out SET erc_status = :erc_status, trace = :trace, claimed_by = NULL, "
                "claimed_until = NULL, next_attempt_at = now() + make_interval(secs => :delay) "
                "WHERE event_id = :event_id AND claimed_by = :worker_id AND state = 1"),
        {"erc_status": erc_status, "trace": trace, "delay": float(delay_seconds), "event_id": event_id,
         "worker_id": worker_id},
    )
    return result.rowcount == 1


def release_request(conn: Connection, event_id: int, worker_id: str) -> bool:
    """Give a claimed request back untouched (the worker is stopping); the attempt is not counted."""
    result = conn.execute(
        sa.text("UPDATE igi.event_out SET claimed_by = NULL, claimed_until = NULL, attempts = attempts - 1 "
                "WHERE event_id = :event_id AND claimed_by = :worker_id AND state = 1"),
        {"event_id": event_id, "worker_id": worker_id},
    )
    return result.rowcount == 1


def queue_counts(engine: Engine) -> dict[str, int]:
    """Requests by condition: pending (due now), waiting (retry later or blocked), claimed, succeeded, failed."""
    with engine.connect() as conn:
        row = conn.execute(sa.text("""
            SELECT count(*) FILTER (WHERE state = 1 AND (claimed_until IS NULL OR claimed_until < now())
                                    AND next_attempt_at <= now()) AS due,
                   count(*) FILTER (WHERE state = 1 AND next_attempt_at > now()) AS waiting,
                   count(*) FILTER (WHERE state = 1 AND claimed_until >= now()) AS claimed,
                   count(*) FILTER (WHERE state = 2) AS succeeded,
                   count(*) FILTER (WHERE state = 3) AS failed
            FROM igi.event_out
        """)).mappings().one()
    return {k: int(v) for k, v in row.items()}
