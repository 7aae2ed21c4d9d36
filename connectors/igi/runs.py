"""Run records and rejects: ``ss_staging.reconciliation_runs`` and ``ss_staging.rejects``.

A run row is written first in its own transaction (status ``running``), so that a run that fails is still
recorded; it is finished either inside the load's transaction (success) or in a new one after a rollback
(failed, aborted, dry run). Parameters never hold credentials: callers pass only run options.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from psycopg.types.json import Jsonb
from sqlalchemy.engine import Connection, Engine

from connectors.igi.normalize import Reject

STATUSES = ("running", "succeeded", "failed", "aborted")


def start_run(engine: Engine, *, parameters: Mapping[str, Any], dry_run: bool,
              flow_run_id: str | None = None) -> tuple[int, datetime]:
    """Insert a ``running`` run row (committed at once); return its id and start time."""
    with engine.begin() as conn:
        row = conn.execute(
            sa.text(
                "INSERT INTO ss_staging.reconciliation_runs (flow_run_id, dry_run, parameters) "
                "VALUES (CAST(:flow AS uuid), :dry, CAST(:params AS jsonb)) RETURNING run_id, started_at"
            ),
            {"flow": flow_run_id, "dry": dry_run, "params": json.dumps(dict(parameters), default=str)},
        ).one()
    return int(row.run_id), row.started_at


def finish_run(conn: Connection, run_id: int, *, status: str, stats: Mapping[str, Any],
               events: Mapping[str, int] | None = None, incomplete: Mapping[str, str] | None = None,
               extract_stats: Mapping[str, Any] | None = None, error: str | None = None) -> datetime:
    """Set the run's outcome (in the caller's transaction); return its finish time."""
    if status not in STATUSES[1:]:
        raise ValueError(f"a run finishes as one of {STATUSES[1:]}, not {status!r}")
    finished = conn.execute(
        sa.text(
            "UPDATE ss_staging.reconciliation_runs SET finished_at = clock_timestamp(), status = :status, "
            "stats = CAST(:stats AS jsonb), events = CAST(:events AS jsonb), "
            "incomplete = CAST(:incomplete AS jsonb), extract_stats = CAST(:extract AS jsonb), error = :error "
            "WHERE run_id = :run RETURNING finished_at"
        ),
        {
            "run": run_id, "status": status, "stats": json.dumps(stats, default=str),
            "events": json.dumps(dict(events or {})), "incomplete": json.dumps(dict(incomplete or {})),
            "extract": json.dumps(dict(extract_stats or {}), default=str), "error": error,
        },
    ).scalar_one()
    return finished


def _clean(value: Any) -> Any:
    """JSON-safe and storable in jsonb, which cannot hold a NUL character."""
    if isinstance(value, str):
        return value.replace("\x00", "\\u0000")
    if isinstance(value, Mapping):
        return {str(_clean(k)): _clean(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_clean(v) for v in value]
    if value is None or isinstance(value, bool | int | float):
        return value
    return str(value)


def write_rejects(conn: Connection, run_id: int, rejects: Iterable[Reject]) -> int:
    """COPY the rejects of a run into ss_staging.rejects (in the caller's transaction); return how many."""
    cursor = conn.connection.driver_connection.cursor()  # type: ignore[union-attr]
    count = 0
    with cursor.copy(
        "COPY ss_staging.rejects (run_id, entity, source_id, reason, record) FROM STDIN (FORMAT BINARY)"
    ) as copy:
        copy.set_types(["int8", "text", "text", "text", "jsonb"])
        for reject in rejects:
            copy.write_row((run_id, reject.entity, _clean(reject.source_id), _clean(reject.reason),
                            Jsonb(_clean(reject.record))))
            count += 1
    return count
