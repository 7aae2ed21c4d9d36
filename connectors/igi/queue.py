"""The provisioning queue, ``igi.event_out``: enqueue, claim, renew, and the write-backs. All its SQL is here.

Claiming is one statement: due, pending rows whose lease is free or expired, within the worker's `TargetScope`,
and that have no earlier pending row for the same account (same target, case-insensitive ``code``: the row heads
its account's queue), locked with ``FOR UPDATE SKIP LOCKED`` and stamped with the worker and a lease in the same
UPDATE. So any number of workers on any number of hosts take disjoint rows, a crashed worker's rows come back
when its lease ends, and the requests of one account run one after another in ``event_id`` order.

Every request names the IGI target (one per Secret Server instance) it is for in ``target``; NULL stands for the
default instance's target. A worker's scope is the targets it serves plus every target no configured instance
has: it claims those too, only to fail them with ``UnknownTarget`` (pipelines/provision.py), fenced by the
claim like every outcome. The same account name on two instances is two accounts: neither waits for the other.

A worker renews the leases of the rows it holds while it works (`renew_claims`), counts an attempt only when it
starts executing one (`begin_attempt`), and every write-back requires ``claimed_by = worker`` and an unexpired
lease: a worker whose lease ran out cannot overwrite the newer claim.

Rows are returned as IGI wrote them; `connectors.igi.request_models.validate_request` reads them with declared
types. The ``password`` column is set to NULL in the same UPDATE that makes a request final.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from connectors.igi.request_models import Operation, State, validate_request
from connectors.igi.targets import TargetScope, scope_sql

_COLUMNS = (
    "event_id, target, operation, code, person_code, attributes, permission_type, permission_id, permission_name, "
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
    target: str | None = None,
) -> int:
    """Insert one pending request and return its event_id. The request is validated first (`InvalidRequest`
    says what is wrong). ``password`` must already be what the column holds (a Fernet token, or plain text with
    ``password_encrypted=False``); encrypting is the caller's job. ``target``: the IGI target of the instance it
    is for (None: the default instance)."""
    params = {
        "operation": int(operation), "code": code.strip() if isinstance(code, str) else code,
        "person_code": person_code, "attributes": json.dumps(dict(attributes or {})),
        "permission_type": permission_type, "permission_id": permission_id, "permission_name": permission_name,
        "folder_access_role": folder_access_role, "secret_access_role": secret_access_role,
        "password": password, "password_encrypted": password_encrypted, "target": target,
    }
    validate_request(params)
    statement = sa.text(
        "INSERT INTO igi.event_out (target, operation, code, person_code, attributes, permission_type, "
        "permission_id, permission_name, folder_access_role, secret_access_role, password, password_encrypted) "
        "VALUES (:target, :operation, :code, :person_code, :attributes, :permission_type, :permission_id, "
        ":permission_name, :folder_access_role, :secret_access_role, :password, :password_encrypted) "
        "RETURNING event_id"
    )
    if isinstance(engine, Connection):
        return int(engine.execute(statement, params).scalar_one())
    with engine.begin() as conn:
        return int(conn.execute(statement, params).scalar_one())


# A request is claimable when it is the head of its account's queue: one probe of event_out_account_order_idx
# (lower(code), coalesce(target, ''), event_id) WHERE state = 1 per candidate, as a scalar subquery, which the
# planner cannot turn into a join. (A NOT EXISTS it did turn into an anti-join, and on a freshly filled queue,
# before autovacuum's ANALYZE, into a nested loop over every pair of pending requests: 0.15-0.7 s a claim with a
# thousand pending.) An account is (target, lower(code)); a NULL target is the default instance's, so a request
# of that instance probes both keys, '' and its target (an empty target, unknown, shares the '' key: it only
# waits for the NULL ones or they for it, until it fails). The same name's requests on other instances are other
# index entries: never read, never waited for.
_SAME_ACCOUNT = """coalesce(head.target, '') = ANY(
    CASE WHEN coalesce(e.target, CAST(:null_target AS text)) = CAST(:null_target AS text)
         THEN ARRAY['', CAST(:null_target AS text)] ELSE ARRAY[coalesce(e.target, '')] END)"""
_CLAIM = sa.text(f"""
WITH due AS (
    SELECT e.event_id
    FROM igi.event_out e
    WHERE e.state = 1
      AND e.next_attempt_at <= now()
      AND (e.claimed_until IS NULL OR e.claimed_until < now())
      AND {scope_sql("e")}
      AND e.event_id = (SELECT min(head.event_id) FROM igi.event_out head
                        WHERE lower(head.code) = lower(e.code) AND head.state = 1 AND {_SAME_ACCOUNT})
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
    engine: Engine, worker_id: str, batch_size: int, lease_seconds: float, scope: TargetScope | None = None
) -> list[dict[str, Any]]:
    """Claim up to ``batch_size`` due requests within ``scope`` (default: a single default instance) for
    ``worker_id`` for ``lease_seconds``, oldest first, as the raw rows IGI wrote (validate each with
    `validate_request`).

    A request is left alone while an earlier request for the same account (target and code) is pending (claimed
    or not, due or waiting for a retry), which keeps per-account order across workers. Claiming is not an attempt.
    """
    params = {"worker_id": worker_id, "batch_size": int(batch_size), "lease_seconds": float(lease_seconds),
              **(scope or TargetScope.single()).params()}
    with engine.begin() as conn:
        # The planner prices a probe per pending request; past some thousands of them the estimate crosses
        # jit_above_cost, and compiling costs ~0.4 s for a statement that runs in a few ms.
        conn.exec_driver_sql("SET LOCAL jit = off")
        rows = conn.execute(_CLAIM, params).mappings().all()
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


def pending_work(engine: Engine, scope: TargetScope | None = None) -> tuple[int, int]:
    """(due now and unclaimed, claimed by a live lease) within ``scope`` (default: a single default instance):
    what a worker with nothing to claim waits on."""
    with engine.connect() as conn:
        row = conn.execute(sa.text(f"""
            SELECT count(*) FILTER (WHERE (claimed_until IS NULL OR claimed_until < now())
                                    AND next_attempt_at <= now()) AS due,
                   count(*) FILTER (WHERE claimed_until >= now()) AS claimed
            FROM igi.event_out e WHERE state = 1 AND {scope_sql("e")}
        """), (scope or TargetScope.single()).params()).one()
    return int(row.due), int(row.claimed)


def _served_only(scope: TargetScope | None) -> tuple[str, dict[str, Any]]:
    """A WHERE condition for the requests of ``scope``'s served targets (None: every request), and its params."""
    if scope is None:
        return "true", {}
    return scope_sql("e", unknown=False), scope.params()


def queue_counts(engine: Engine, scope: TargetScope | None = None) -> dict[str, int]:
    """Requests by condition: pending (due now), waiting (retry later or blocked), claimed, succeeded, failed;
    with ``scope``, only those for its served targets."""
    where, params = _served_only(scope)
    with engine.connect() as conn:
        row = conn.execute(sa.text(f"""
            SELECT count(*) FILTER (WHERE state = 1 AND (claimed_until IS NULL OR claimed_until < now())
                                    AND next_attempt_at <= now()) AS due,
                   count(*) FILTER (WHERE state = 1 AND next_attempt_at > now()) AS waiting,
                   count(*) FILTER (WHERE state = 1 AND claimed_until >= now()) AS claimed,
                   count(*) FILTER (WHERE state = 2) AS succeeded,
                   count(*) FILTER (WHERE state = 3) AS failed
            FROM igi.event_out e WHERE {where}
        """), params).mappings().one()
    return {k: int(v) for k, v in row.items()}


# ---------------------------------------------------------------------------------------------- operators
# What `ss-igi queue` reads and does. An operator's retry or cancel is one of IGI's own transitions, recorded at
# the head of the trace: retry 3 -> 1 (a failed request runs again, its attempts counted afresh) or 1 -> 1 (a
# request waiting for its backoff is due now); cancel 1 -> 3 with erc_status ``Cancelled``. Neither touches a
# request that succeeded (2 is final) or one a worker holds right now (a live lease: its heartbeat renews it
# while the worker works); the rows are locked while they are judged, so no worker claims one meanwhile.

_LISTED = (
    "event_id, target, operation, code, state, erc_status, trace, attempts, next_attempt_at, claimed_by, "
    "claimed_until, created_at, processed_at"
)
NEEDS_PASSWORD = (Operation.ACCOUNT_CREATE, Operation.ACCOUNT_PWDCHANGE)
MAX_TRACE = 2000


def list_requests(engine: Engine, states: Iterable[int] = (State.PENDING, State.ERROR),
                  limit: int = 50, scope: TargetScope | None = None) -> list[dict[str, Any]]:
    """Requests in ``states`` (with ``scope``, only those for its served targets), oldest first (pending ones,
    then failed ones most recent first), without their password; each with ``claimed`` (a live lease) and
    ``due`` (may be claimed now)."""
    where, params = _served_only(scope)
    with engine.connect() as conn:
        rows = conn.execute(sa.text(f"""
            SELECT {_LISTED},
                   coalesce(claimed_until > now(), false) AS claimed,
                   (state = 1 AND next_attempt_at <= now() AND coalesce(claimed_until <= now(), true)) AS due
            FROM igi.event_out e
            WHERE state = ANY(:states) AND {where}
            ORDER BY state, CASE WHEN state = 1 THEN event_id ELSE -event_id END
            LIMIT :limit"""), {"states": [int(s) for s in states], "limit": int(limit), **params}).mappings().all()
    return [dict(r) for r in rows]


def _judge(row: Mapping[str, Any] | None, action: str) -> str | None:
    """Why ``action`` (retry or cancel) is refused for the row, or None when it may proceed."""
    if row is None:
        return "no such request"
    if row["state"] == State.SUCCESS:
        return "it succeeded (a final state)"
    if row["claimed"]:
        return f"a worker holds it right now ({row['claimed_by']}); try again when its attempt has ended"
    if action == "cancel" and row["state"] == State.ERROR:
        return "it has already ended in error (state 3)"
    if action == "retry" and row["state"] == State.ERROR and row["operation"] in NEEDS_PASSWORD \
            and not row["has_password"]:
        return "its password was erased when it failed; IGI must send a new request"
    return None


def _operator_requests(engine: Engine, event_ids: Iterable[int], action: str, note: str,
                       statement: sa.TextClause) -> list[tuple[int, str | None]]:
    ids = sorted({int(i) for i in event_ids})
    results: list[tuple[int, str | None]] = []
    with engine.begin() as conn:
        rows = {r["event_id"]: dict(r) for r in conn.execute(sa.text(
            "SELECT event_id, state, operation, claimed_by, password IS NOT NULL AS has_password, "
            "coalesce(claimed_until > now(), false) AS claimed "
            "FROM igi.event_out WHERE event_id = ANY(:ids) ORDER BY event_id FOR UPDATE"), {"ids": ids}).mappings()}
        for event_id in ids:
            refusal = _judge(rows.get(event_id), action)
            if refusal is None:
                conn.execute(statement, {"id": event_id, "note": note, "max": MAX_TRACE})
            results.append((event_id, refusal))
    return results


_RETRY = sa.text("""
UPDATE igi.event_out
SET trace = left(:note || CASE WHEN state = 3
                              THEN ': was state 3 ' || coalesce(erc_status, '') || ' after ' || attempts
                                   || ' attempt(s): ' || coalesce(trace, '')
                              ELSE ': made due now; last outcome: ' || coalesce(trace, 'none') END, :max),
    attempts = CASE WHEN state = 3 THEN 0 ELSE attempts END,
    erc_status = CASE WHEN state = 3 THEN NULL ELSE erc_status END,
    state = 1, processed_at = NULL, next_attempt_at = now(), claimed_by = NULL, claimed_until = NULL
WHERE event_id = :id AND state IN (1, 3) AND (claimed_until IS NULL OR claimed_until <= now())
""")

_CANCEL = sa.text("""
UPDATE igi.event_out
SET state = 3, erc_status = 'Cancelled', trace = left(:note || '; last outcome: ' || coalesce(trace, 'none'), :max),
    processed_at = now(), password = NULL, checkpoint = NULL, claimed_by = NULL, claimed_until = NULL
WHERE event_id = :id AND state = 1 AND (claimed_until IS NULL OR claimed_until <= now())
""")


def retry_requests(engine: Engine, event_ids: Iterable[int], note: str) -> list[tuple[int, str | None]]:
    """Put failed requests back in the queue (state 3 -> 1, attempts from 0), or make waiting ones due now;
    ``note`` heads the trace. Returns (event_id, None) for each done, (event_id, why) for each refused."""
    return _operator_requests(engine, event_ids, "retry", note, _RETRY)


def cancel_requests(engine: Engine, event_ids: Iterable[int], note: str) -> list[tuple[int, str | None]]:
    """End pending requests in state 3 with erc_status ``Cancelled`` (password erased); ``note`` heads the
    trace. Returns (event_id, None) for each done, (event_id, why) for each refused."""
    return _operator_requests(engine, event_ids, "cancel", note, _CANCEL)


__all__ = [
    "Operation",  # callers that enqueue name the operation from here
    "begin_attempt",
    "cancel_requests",
    "claim_pending_requests",
    "complete_request",
    "enqueue_request",
    "fail_request",
    "list_requests",
    "pending_work",
    "queue_counts",
    "release_request",
    "renew_claims",
    "retry_request",
    "retry_requests",
    "save_checkpoint",
]
