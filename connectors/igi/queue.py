"""The provisioning queue, ``igi.event_out``: enqueue, claim, renew, and the write-backs. All its SQL is here.

Claiming is one statement: due, pending rows whose lease is free or expired, and that have no earlier pending
row for the same account (case-insensitive ``code``: the row heads its account's queue), locked with
``FOR UPDATE SKIP LOCKED`` and stamped with the worker and a lease in the same UPDATE. So any number of workers
on any number of hosts take disjoint rows, a crashed worker's rows come back when its lease ends, and the
requests of one account run one after another in ``event_id`` order. A worker renews the leases of the rows it
holds while it works (`renew_claims`), counts an attempt only when it starts executing one (`begin_attempt`),
and every write-back requires ``claimed_by = worker`` and an unexpired lease: a worker whose lease ran out cannot
overwrite the newer claim.

Rows are returned as IGI wrote them; `connectors.igi.request_models.validate_request` reads them with declared
types. The ``password`` column is set to NULL in the same UPDATE that makes a request final.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from connectors.igi.request_models import (
    PERMISSION_TYPES,
    InvalidRequest,
    Operation,
    ProvisioningRequest,
    State,
    validate_request,
)

_COLUMNS = (
    "event_id, operation, code, person_code, attributes, permission_type, permission_id, permission_name, "
    "folder_access_role, secret_access_role, password, password_encrypted, attempts, checkpoint"
)


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
    """Insert one pending request and return its event_id. The request is validated first (`InvalidRequest`
    says what is wrong). ``password`` must already be what the column holds (a Fernet token, or plain text with
    ``password_encrypted=False``); encrypting is the caller's job."""
    params = {
        "operation": int(operation), "code": code.strip() if isinstance(code, str) else code,
        "person_code": person_code, "attributes": json.dumps(dict(attributes or {})),
        "permission_type": permission_type, "permission_id": permission_id, "permission_name": permission_name,
        "folder_access_role": folder_access_role, "secret_access_role": secret_access_role,
        "password": password, "password_encrypted": password_encrypted,
    }
    validate_request(params)
    statement = sa.text(
        "INSERT INTO igi.event_out (operation, code, person_code, attributes, permission_type, permission_id, "
        "permission_name, folder_access_role, secret_access_role, password, password_encrypted) "
        "VALUES (:operation, :code, :person_code, :attributes, :permission_type, :permission_id, "
        ":permission_name, :folder_access_role, :secret_access_role, :password, :password_encrypted) "
        "RETURNING event_id"
    )
    if isinstance(engine, Connection):
        return int(engine.execute(statement, params).scalar_one())
    with engine.begin() as conn:
        return int(conn.execute(statement, params).scalar_one())


# A request is claimable when it is the head of its account's queue: one probe of event_out_account_order_idx
# (lower(code), event_id) WHERE state = 1 per candidate, as a scalar subquery, which the planner cannot turn into
# a join. (A NOT EXISTS it did turn into an anti-join, and on a freshly filled queue, before autovacuum's ANALYZE,
# into a nested loop over every pair of pending requests: 0.15-0.7 s a claim with a thousand pending.)
_CLAIM = sa.text(f"""
WITH due AS (
    SELECT e.event_id
    FROM igi.event_out e
    WHERE e.state = 1
      AND e.next_attempt_at <= now()
      AND (e.claimed_until IS NULL OR e.claimed_until < now())
      AND e.event_id = (SELECT min(head.event_id) FROM igi.event_out head
                        WHERE lower(head.code) = lower(e.code) AND head.state = 1)
    ORDER BY e.event_id
    LIMIT :batch_size
    FOR UPDATE OF e SKIP LOCKED
)
UPDATE igi.event_out e
SET claimed_by = :worker_id,
    claimed_until = now() + make_interval(secs => :lease_seconds),
    worker_history = array_append(e.worker_history, :worker_id)
FROM due
WHERE e.event_id = due.event_id
RETURNING {", ".join("e." + c.strip() for c in _COLUMNS.split(","))}
""")


def claim_pending_requests(
    engine: Engine, worker_id: str, batch_size: int, lease_seconds: float
) -> list[dict[str, Any]]:
    """Claim up to ``batch_size`` due requests for ``worker_id`` for ``lease_seconds``, oldest first, as the raw
    rows IGI wrote (validate each with `validate_request`).

    A request is left alone while an earlier request for the same account is pending (claimed or not, due or
    waiting for a retry), which keeps per-account order across workers. Claiming is not an attempt.
    """
    with engine.begin() as conn:
        rows = conn.execute(
            _CLAIM, {"worker_id": worker_id, "batch_size": int(batch_size), "lease_seconds": float(lease_seconds)}
        ).mappings().all()
    return sorted((dict(r) for r in rows), key=lambda r: r["event_id"])


def renew_claims(engine: Engine, worker_id: str, event_ids: Iterable[int],
                 lease_seconds: float) -> tuple[set[int], set[int]]:
    """Extend the lease of the requests ``worker_id`` still holds (unexpired) among ``event_ids``. Returns the
    renewed ones, and those still held but locked by another transaction (this worker's own write-back, say),
    which are not waited for and keep their lease. A request in neither is lost: its lease ran out, and it may
    already be another worker's."""
    ids = sorted(set(event_ids))
    if not ids:
        return set(), set()
    params = {"lease": float(lease_seconds), "ids": ids, "w": worker_id}
    with engine.begin() as conn:
        renewed = {int(r) for r in conn.execute(sa.text("""
            UPDATE igi.event_out e SET claimed_until = now() + make_interval(secs => :lease)
            FROM (SELECT event_id FROM igi.event_out
                  WHERE event_id = ANY(:ids) AND claimed_by = :w AND state = 1 AND claimed_until > now()
                  FOR UPDATE SKIP LOCKED) held
            WHERE e.event_id = held.event_id
            RETURNING e.event_id"""), params).scalars()}
        locked: set[int] = set()
        if len(renewed) < len(ids):
            params["ids"] = [i for i in ids if i not in renewed]
            locked = {int(r) for r in conn.execute(sa.text(
                "SELECT event_id FROM igi.event_out WHERE event_id = ANY(:ids) AND claimed_by = :w AND state = 1 "
                "AND claimed_until > now()"), params).scalars()}
    return renewed, locked


def begin_attempt(engine: Engine, event_id: int, worker_id: str, lease_seconds: float) -> int | None:
    """Count an attempt as the worker starts executing the request, renewing its lease; returns the attempts so
    far, or None when the claim is no longer this worker's."""
    with engine.begin() as conn:
        attempts = conn.execute(
            sa.text("UPDATE igi.event_out SET attempts = attempts + 1, "
                    "claimed_until = now() + make_interval(secs => :lease) "
                    "WHERE event_id = :id AND claimed_by = :w AND state = 1 AND claimed_until > now() "
                    "RETURNING attempts"),
            {"lease": float(lease_seconds), "id": event_id, "w": worker_id},
        ).scalar()
    return None if attempts is None else int(attempts)


def save_checkpoint(engine: Engine, event_id: int, worker_id: str, checkpoint: Mapping[str, Any]) -> bool:
    """Record what Secret Server showed before a call that cannot be verified afterwards (committed at once);
    False when the claim is no longer this worker's (then the call must not be made)."""
    with engine.begin() as conn:
        result = conn.execute(
            sa.text("UPDATE igi.event_out SET checkpoint = CAST(:c AS jsonb) "
                    "WHERE event_id = :id AND claimed_by = :w AND state = 1 AND claimed_until > now()"),
            {"c": json.dumps(dict(checkpoint)), "id": event_id, "w": worker_id},
        )
    return result.rowcount == 1


_FINISH = sa.text("""
UPDATE igi.event_out
SET state = :state, erc_status = :erc_status, trace = :trace, processed_at = now(),
    password = NULL, checkpoint = NULL, claimed_until = NULL
WHERE event_id = :event_id AND claimed_by = :worker_id AND state = 1 AND claimed_until > now()
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
                "WHERE event_id = :event_id AND claimed_by = :worker_id AND state = 1 AND claimed_until > now()"),
        {"erc_status": erc_status, "trace": trace, "delay": float(delay_seconds), "event_id": event_id,
         "worker_id": worker_id},
    )
    return result.rowcount == 1


def release_request(conn: Connection, event_id: int, worker_id: str, *, started: bool = False) -> bool:
    """Give a claimed request back (the worker is stopping, or ran out of time before it could finish); it is
    due again at once. ``started``: its attempt had begun and is taken back, as it did not fail."""
    result = conn.execute(
        sa.text("UPDATE igi.event_out SET claimed_by = NULL, claimed_until = NULL, "
                "attempts = attempts - CASE WHEN :started THEN 1 ELSE 0 END "
                "WHERE event_id = :event_id AND claimed_by = :worker_id AND state = 1"),
        {"event_id": event_id, "worker_id": worker_id, "started": started},
    )
    return result.rowcount == 1


def pending_work(engine: Engine) -> tuple[int, int]:
    """(due now and unclaimed, claimed by a live lease): what a worker with nothing to claim waits on."""
    with engine.connect() as conn:
        row = conn.execute(sa.text("""
            SELECT count(*) FILTER (WHERE (claimed_until IS NULL OR claimed_until < now())
                                    AND next_attempt_at <= now()) AS due,
                   count(*) FILTER (WHERE claimed_until >= now()) AS claimed
            FROM igi.event_out WHERE state = 1
        """)).one()
    return int(row.due), int(row.claimed)


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


__all__ = [
    "PERMISSION_TYPES",
    "InvalidRequest",
    "Operation",
    "ProvisioningRequest",
    "State",
    "begin_attempt",
    "claim_pending_requests",
    "complete_request",
    "enqueue_request",
    "fail_request",
    "pending_work",
    "queue_counts",
    "release_request",
    "renew_claims",
    "retry_request",
    "save_checkpoint",
    "validate_request",
]
