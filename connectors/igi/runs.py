"""Run records and rejects: ``ss_staging.reconciliation_runs`` and ``ss_staging.rejects``, each with the Secret
Server instance the run reconciled (runs are per instance; the history can be read for one or for all).

A run row is written first in its own transaction (status ``running``), so that a run that fails is still
recorded; it is finished either inside the load's transaction (success) or in a new one after a rollback
(failed, aborted, dry run). Parameters never hold credentials: callers pass only run options.

While it runs, a run holds a session-level advisory lock on its id, on a connection of its own (`hold_run`).
A run whose process died lost that lock with its connection, so `mark_abandoned` can tell it from one still
going, whatever its age, and records it ``abandoned``.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from psycopg.types.json import Jsonb
from sqlalchemy.engine import Connection, Engine

from connectors.igi.entities import DEFAULT_INSTANCE, ENTITY_NAMES
from connectors.igi.normalize import Reject

log = logging.getLogger(__name__)

# running, then one outcome. Failures: failed, aborted, abandoned (staging unchanged); a warning: partial
# (merged, some removals withheld).
STATUSES = ("running", "succeeded", "partial", "failed", "aborted", "abandoned")
_RUN_LOCK_CLASS = 0x5516_1A06  # advisory lock (class, run_id): held by the process running that run


@dataclass(frozen=True)
class RunHandle:
    """The run row a reconciliation holds while it runs: its id and when it started."""

    run_id: int
    started_at: datetime


def merged_status(incomplete: Mapping[str, str]) -> str:
    """The status of a run whose merge committed: partial when some entity's removals were withheld."""
    return "partial" if incomplete else "succeeded"


@contextmanager
def hold_run(engine: Engine, *, parameters: Mapping[str, Any], dry_run: bool, flow_run_id: str | None = None,
             instance: str = DEFAULT_INSTANCE) -> Iterator[RunHandle]:
    """Insert a ``running`` run row of ``instance`` and hold its lock until the block ends. If the block raises
    before the run was finished, the run is recorded failed with the exception as its reason."""
    with engine.connect() as conn:
        with conn.begin():
            row = conn.execute(
                sa.text(
                    "INSERT INTO ss_staging.reconciliation_runs (instance, flow_run_id, dry_run, parameters) "
                    "VALUES (:instance, CAST(:flow AS uuid), :dry, CAST(:params AS jsonb)) "
                    "RETURNING run_id, started_at"
                ),
                {"instance": instance, "flow": flow_run_id, "dry": dry_run,
                 "params": json.dumps(dict(parameters), default=str)},
            ).one()
            # Taken before the row is visible to anyone (the insert commits below), so no sweep can see the row
            # unlocked; a session lock outlives this transaction.
            conn.execute(sa.text("SELECT pg_advisory_lock(:c, :r)"), {"c": _RUN_LOCK_CLASS, "r": row.run_id})
        try:
            yield RunHandle(int(row.run_id), row.started_at)
        except BaseException as exc:
            _fail_if_running(engine, int(row.run_id), exc)
            raise
        finally:
            try:
                conn.execute(sa.text("SELECT pg_advisory_unlock(:c, :r)"), {"c": _RUN_LOCK_CLASS, "r": row.run_id})
                conn.commit()
            except Exception:  # the connection is gone, and the lock with it
                log.debug("run %s: advisory lock already released", row.run_id)


def _fail_if_running(engine: Engine, run_id: int, exc: BaseException) -> None:
    text = " ".join(str(exc).split())
    reason = (f"{type(exc).__name__}: {text}" if text else f"{type(exc).__name__} (interrupted)")[:2000]
    try:
        with engine.begin() as conn:
            conn.execute(sa.text(
                "UPDATE ss_staging.reconciliation_runs SET status = 'failed', finished_at = clock_timestamp(), "
                "error = :error WHERE run_id = :run AND status = 'running'"), {"run": run_id, "error": reason})
    except Exception:  # the database is what failed: the next run's sweep will mark it abandoned
        log.warning("run %s could not be recorded as failed; a later run will mark it abandoned", run_id)


def mark_abandoned(engine: Engine) -> list[int]:
    """Record as ``abandoned`` every ``running`` run whose process is gone (nobody holds its lock); their ids."""
    abandoned: list[int] = []
    with engine.begin() as conn:
        running = conn.execute(sa.text(
            "SELECT run_id FROM ss_staging.reconciliation_runs WHERE status = 'running' ORDER BY run_id")).scalars()
        for run_id in list(running):
            free = conn.execute(sa.text("SELECT pg_try_advisory_xact_lock(:c, :r)"),
                                {"c": _RUN_LOCK_CLASS, "r": run_id}).scalar_one()
            if free:
                abandoned.append(int(run_id))
        if abandoned:
            conn.execute(sa.text(
                "UPDATE ss_staging.reconciliation_runs SET status = 'abandoned', finished_at = clock_timestamp(), "
                "error = 'its process ended before the run recorded an outcome (staging was left as it was); "
                "found ' || to_char(clock_timestamp() AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI:SS') || ' UTC' "
                "WHERE run_id = ANY(:ids) AND status = 'running'"), {"ids": abandoned})
            log.warning("reconciliation runs %s were still marked running with no process: marked abandoned",
                        ", ".join(map(str, abandoned)))
    return abandoned


def finish_run(conn: Connection, run_id: int, *, status: str, stats: Mapping[str, Any],
               events: Mapping[str, int] | None = None, incomplete: Mapping[str, str] | None = None,
               extract_stats: Mapping[str, Any] | None = None, error: str | None = None,
               warnings: Sequence[str] = ()) -> datetime:
    """Set the run's outcome (in the caller's transaction); return its finish time."""
    if status not in STATUSES[1:]:
        raise ValueError(f"a run finishes as one of {STATUSES[1:]}, not {status!r}")
    finished = conn.execute(
        sa.text(
            "UPDATE ss_staging.reconciliation_runs SET finished_at = clock_timestamp(), status = :status, "
            "stats = CAST(:stats AS jsonb), events = CAST(:events AS jsonb), "
            "incomplete = CAST(:incomplete AS jsonb), extract_stats = CAST(:extract AS jsonb), error = :error, "
            "warnings = CAST(:warnings AS jsonb) WHERE run_id = :run RETURNING finished_at"
        ),
        {
            "run": run_id, "status": status, "stats": json.dumps(stats, default=str),
            "events": json.dumps(dict(events or {})), "incomplete": json.dumps(dict(incomplete or {})),
            "extract": json.dumps(dict(extract_stats or {}), default=str), "error": error,
            "warnings": json.dumps(list(warnings)),
        },
    ).scalar_one()
    return finished


def add_warning(engine: Engine, run_id: int, warning: str) -> None:
    """Append a warning to a finished run's record (its outcome stays what it is)."""
    with engine.begin() as conn:
        conn.execute(sa.text(
            "UPDATE ss_staging.reconciliation_runs SET warnings = warnings || jsonb_build_array(CAST(:w AS text)) "
            "WHERE run_id = :run"), {"run": run_id, "w": warning})


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


def write_rejects(conn: Connection, run_id: int, instance: str, rejects: Iterable[Reject]) -> int:
    """COPY the rejects of a run of ``instance`` into ss_staging.rejects (in the caller's transaction); return
    how many."""
    cursor = conn.connection.driver_connection.cursor()  # type: ignore[union-attr]
    count = 0
    with cursor.copy(
        "COPY ss_staging.rejects (run_id, instance, entity, source_id, reason, record) FROM STDIN (FORMAT BINARY)"
    ) as copy:
        copy.set_types(["int8", "text", "text", "text", "text", "jsonb"])
        for reject in rejects:
            copy.write_row((run_id, instance, reject.entity, _clean(reject.source_id), _clean(reject.reason),
                            Jsonb(_clean(reject.record))))
            count += 1
    return count


# ---------------------------------------------------------------------------------------------- history
_RUN_COLUMNS = ("run_id, instance, flow_run_id, started_at, finished_at, status, dry_run, parameters, stats, events, "
                "incomplete, extract_stats, error, warnings")


def list_runs(engine: Engine, limit: int = 10, instance: str | None = None) -> list[dict[str, Any]]:
    """The last ``limit`` runs (of ``instance``; None: of every instance), newest first, as stored (``stats``
    per entity)."""
    where = "" if instance is None else "WHERE instance = :instance "
    with engine.connect() as conn:
        rows = conn.execute(sa.text(
            f"SELECT {_RUN_COLUMNS} FROM ss_staging.reconciliation_runs {where}ORDER BY run_id DESC LIMIT :n"),
            {"n": int(limit), "instance": instance}).mappings().all()
    return [dict(r) for r in rows]


def read_run(engine: Engine, run_id: int, reject_limit: int = 100) -> dict[str, Any] | None:
    """One run: its record, its rejects (up to ``reject_limit``, with their total) and its change log counted
    per entity and change type; None when there is no such run."""
    with engine.connect() as conn:
        row = conn.execute(sa.text(
            f"SELECT {_RUN_COLUMNS} FROM ss_staging.reconciliation_runs WHERE run_id = :r"), {"r": run_id}
        ).mappings().one_or_none()
        if row is None:
            return None
        rejects = conn.execute(sa.text(
            "SELECT entity, source_id, reason FROM ss_staging.rejects WHERE run_id = :r ORDER BY reject_id "
            "LIMIT :n"), {"r": run_id, "n": int(reject_limit)}).mappings().all()
        reject_total = conn.execute(sa.text("SELECT count(*) FROM ss_staging.rejects WHERE run_id = :r"),
                                    {"r": run_id}).scalar_one()
        changes = conn.execute(sa.text(
            "SELECT entity, change_type, count(*) AS n FROM ss_staging.change_log WHERE run_id = :r "
            "GROUP BY entity, change_type ORDER BY entity, change_type"), {"r": run_id}).all()
    change_log: dict[str, dict[str, int]] = {}
    for entity, change_type, n in sorted(changes, key=lambda c: (_entity_order(c[0]), c[1])):
        change_log.setdefault(entity, {"added": 0, "changed": 0, "removed": 0})[change_type] = int(n)
    return {**dict(row), "rejects": [dict(r) for r in rejects], "reject_total": int(reject_total),
            "change_log": change_log}


def _entity_order(name: str) -> int:
    return ENTITY_NAMES.index(name) if name in ENTITY_NAMES else len(ENTITY_NAMES)
