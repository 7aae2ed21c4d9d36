"""Load a reconciliation snapshot into the staging tables: COPY, set-based diff, safety check, merge.

A run reconciles one Secret Server instance (`MergeOptions.instance`, the bind parameter ``:instance``): its
diff, merge, limits, change log and events see only that instance's staging rows (the scratch tables hold only
the run's), under that instance's staging lock. Everything happens in one transaction per run (`load_run`):

1. per entity, COPY (binary) the normalized rows into a temp table ``_in_<entity>`` and the keys of rejected
   records into ``_protect_<entity>``;
2. compute the diff against the current staging table into ``_diff_<entity>``, set-based: 'added' (key not in
   staging), 'revived' (key in staging with deleted_at set), 'changed' (some contract column IS DISTINCT FROM),
   'removed' (current staging row absent from the snapshot; only for an entity whose snapshot can show
   removals: read completely and no record rejected without a key; and never a protected key: a record that
   failed validation leaves its object as it was). A row that provisioning wrote after the run started is
   never in the diff: the run's extract may predate that write, and must neither revert it nor report it;
3. check the safety limits of removals and changes (connectors/igi/limits.py): a breach raises
   `SafetyLimitExceeded` before anything is written;
4. insert, update (only rows that differ), mark removed, revive; write one change_log row per row touched
   (see sql/004_reconciliation.sql for its semantics) and the IGI events (connectors/igi/events.py); check the
   event limits (a breach rolls all of it back);
5. a dry run rolls all of it back and reports what it found (a breached limit becomes a warning); only the run
   record is written.

Any failure before the commit rolls back: staging is exactly as before, and the run is recorded as failed
with the reason. After the commit the run is what it is: housekeeping that fails (ANALYZE) is a warning.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import pandas as pd
import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from connectors.igi import events
from connectors.igi.convert import copy_frame
from connectors.igi.entities import DEFAULT_INSTANCE, DEFAULT_TARGET, PG_TYPES, SQL_TYPES, Entity, EntityStats
from connectors.igi.limits import SafetyLimitExceeded, SafetyLimits, breach_message, entity_breaches, event_breaches
from connectors.igi.normalize import Normalized
from connectors.igi.runs import add_warning, finish_run, merged_status, write_rejects

log = logging.getLogger(__name__)

# One merge into an instance's rows at a time: (STAGING_LOCK_KEY, hashtext(instance)), exclusive; provisioning's
# write-backs hold it shared, so they never interleave. Two instances' merges never wait for each other.
STAGING_LOCK_KEY = 0x55_16_1A_05
PREVIEW_PER_ENTITY = 10
ANALYZE_LOCK_TIMEOUT = "10s"


@dataclass
class MergeOptions:
    """How a run merges: for real or dry, within which safety limits, whether to re-emit every event, and
    which instance's rows it reconciles (its events go to that instance's IGI target)."""

    dry_run: bool = False
    limits: SafetyLimits = field(default_factory=SafetyLimits)
    reemit_events: bool = False  # emit every current account and permission, not just the changes
    instance: str = DEFAULT_INSTANCE
    target: str = DEFAULT_TARGET


@dataclass
class MergeResult:
    """What a merge found and wrote: per-entity stats, events per operation, a dry run's preview, warnings."""

    stats: dict[str, EntityStats]
    events: dict[str, int] = field(default_factory=dict)
    preview: list[dict[str, Any]] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)


Finish = Callable[[Connection, str, "MergeResult", "str | None"], Any]


@dataclass
class LoadOutcome:
    """How `load_run` ended, with the merge result and the run record's finish time."""

    status: str  # succeeded (the merge committed, or the dry run ran), failed or aborted
    result: MergeResult
    error: str | None = None
    finished_at: Any = None


# ---------------------------------------------------------------------------------------------- SQL builders
def _on(left: str, right: str, key: Sequence[str]) -> str:
    return " AND ".join(f"{left}.{k} = {right}.{k}" for k in key)


def _rows_of_instance(entity: Entity) -> str:
    """The run's instance's staging rows as a FROM item (so that a FULL JOIN sees no other instance's)."""
    return f"(SELECT * FROM ss_staging.{entity.name} WHERE instance = :instance)"


def _is_staged(staged: str, other: str, entity: Entity) -> str:
    """The staging row ``staged`` is the row ``other`` of a scratch table (the run's instance, the same key)."""
    return f"{staged}.instance = :instance AND {_on(staged, other, entity.key)}"


def _key_text(alias: str, entity: Entity) -> str:
    return " || ':' || ".join(f"{alias}.{k}::text" for k in entity.key)


def _diff_sql(entity: Entity, *, removals: bool, run_id: int) -> str:
    t, key, k0 = _rows_of_instance(entity), entity.key, entity.key[0]
    # A row provisioning wrote after this run started is newer than what the run extracted: leave it alone.
    provisioned = (f"(s.last_changed_run_id IS NULL AND s.last_changed_at >= "
                   f"(SELECT started_at FROM ss_staging.reconciliation_runs WHERE run_id = {int(run_id)}))")
    differs = " OR ".join(f"s.{c.name} IS DISTINCT FROM i.{c.name}" for c in entity.value_columns) or "false"
    # counts toward the change limit: a column other than an operational one differs
    counts = " OR ".join(f"s.{c.name} IS DISTINCT FROM i.{c.name}"
                         for c in entity.value_columns if not c.operational) or "false"
    incoming = f"""(s.{k0} IS NULL OR s.deleted_at IS NOT NULL OR ({differs}))
                   AND (s.{k0} IS NULL OR NOT {provisioned})"""
    if not removals:
        return f"""
        CREATE TEMP TABLE _diff_{entity.name} ON COMMIT DROP AS
        SELECT CASE WHEN s.{k0} IS NULL THEN 'added' WHEN s.deleted_at IS NOT NULL THEN 'revived'
                    ELSE 'changed' END AS change,
               {", ".join(f"i.{k}" for k in key)},
               CASE WHEN s.{k0} IS NULL THEN NULL ELSE {events.row_json("s", entity)} END AS before,
               ({counts}) AS counted
        FROM _in_{entity.name} i LEFT JOIN {t} s ON {_on("s", "i", key)}
        WHERE {incoming}"""
    # One pass over both tables: a staging row with no incoming row (keys are never NULL) is a removal.
    return f"""
        CREATE TEMP TABLE _diff_{entity.name} ON COMMIT DROP AS
        SELECT CASE WHEN i.{k0} IS NULL THEN 'removed' WHEN s.{k0} IS NULL THEN 'added'
                    WHEN s.deleted_at IS NOT NULL THEN 'revived' ELSE 'changed' END AS change,
               {", ".join(f"coalesce(i.{k}, s.{k}) AS {k}" for k in key)},
               CASE WHEN s.{k0} IS NULL THEN NULL ELSE {events.row_json("s", entity)} END AS before,
               (i.{k0} IS NULL OR {counts}) AS counted
        FROM _in_{entity.name} i FULL JOIN {t} s ON {_on("s", "i", key)}
             LEFT JOIN (SELECT DISTINCT * FROM _protect_{entity.name}) p ON {_on("p", "s", key)}
        WHERE CASE WHEN i.{k0} IS NULL THEN s.deleted_at IS NULL AND NOT {provisioned} AND p.{k0} IS NULL
                   ELSE {incoming} END"""


def _merge_sql(entity: Entity, *, all_added: bool) -> list[str]:
    """The merge's statements; ``all_added``: every incoming row is new (no staging row matched, e.g. a first
    load), so the insert takes ``_in_<entity>`` whole without joining the diff, and nothing is updated."""
    t, key, cols = f"ss_staging.{entity.name}", entity.key, entity.column_names
    stamp = "last_changed_run_id = :run, last_changed_at = now()"
    sets = ", ".join(f"{c.name} = i.{c.name}" for c in entity.value_columns)
    added = ("" if all_added else
             f" JOIN _diff_{entity.name} d ON {_on('d', 'i', key)} WHERE d.change = 'added'")
    insert = f"""INSERT INTO {t} (instance, {", ".join(cols)}, first_seen_run_id, first_seen_at,
                                     last_changed_run_id, last_changed_at)
            SELECT :instance, {", ".join(f"i.{c}" for c in cols)}, :run, now(), :run, now()
            FROM _in_{entity.name} i{added}"""
    if all_added:
        return [insert]
    return [
        insert,
        f"""UPDATE {t} s SET {sets + ", " if sets else ""}deleted_at = NULL, {stamp}
            FROM _in_{entity.name} i JOIN _diff_{entity.name} d ON {_on("d", "i", key)}
            WHERE d.change IN ('changed', 'revived') AND {_is_staged("s", "i", entity)}""",
        f"""UPDATE {t} s SET deleted_at = now(), {stamp}
            FROM _diff_{entity.name} d WHERE d.change = 'removed' AND {_is_staged("s", "d", entity)}""",
    ]


def _change_log_sql(entity: Entity, *, all_added: bool) -> str:
    # `after` is the incoming row (none for a removal), built here once rather than carried in the diff;
    # _in_<entity> has exactly the entity's columns, and to_jsonb of the whole row is a third cheaper than
    # jsonb_build_object of its columns (same object). When every incoming row is new, the rows come straight
    # from _in_<entity> (the diff holds the same keys, each 'added' with no before).
    if all_added:
        return f"""INSERT INTO ss_staging.change_log (run_id, instance, entity, object_key, change_type, before,
                                                      after)
            SELECT :run, :instance, '{entity.name}', {_key_text("i", entity)}, 'added', NULL, to_jsonb(i)
            FROM _in_{entity.name} i ORDER BY {", ".join(f"i.{k}" for k in entity.key)}"""
    return f"""INSERT INTO ss_staging.change_log (run_id, instance, entity, object_key, change_type, before, after)
            SELECT :run, :instance, '{entity.name}', {_key_text("d", entity)},
                   CASE d.change WHEN 'revived' THEN 'added' ELSE d.change END, d.before,
                   CASE WHEN d.change = 'removed' THEN NULL ELSE to_jsonb(i) END
            FROM _diff_{entity.name} d LEFT JOIN _in_{entity.name} i ON {_on("i", "d", entity.key)}
            ORDER BY {", ".join(f"d.{k}" for k in entity.key)}"""


# ---------------------------------------------------------------------------------------------- COPY
def _stage_incoming(conn: Connection, snapshot: Normalized) -> None:
    entity = snapshot.entity
    definition = ", ".join(f"{c.name} {SQL_TYPES[c.kind]}" for c in entity.columns)
    key_columns = [entity.column(k) for k in entity.key]
    key_definition = ", ".join(f"{c.name} {SQL_TYPES[c.kind]}" for c in key_columns)
    # No key and no ANALYZE: the normalizer already refused duplicate keys, the diff and merge join by hash, and
    # the planner sizes a never-analyzed table by its pages (scale l: 0.45 s of 1.1 s in this step).
    conn.exec_driver_sql(f"CREATE TEMP TABLE _in_{entity.name} ({definition}) ON COMMIT DROP")
    conn.exec_driver_sql(f"CREATE TEMP TABLE _protect_{entity.name} ({key_definition}) ON COMMIT DROP")
    cursor = conn.connection.driver_connection.cursor()  # type: ignore[union-attr]
    copy_frame(cursor, f"_in_{entity.name}", entity.column_names,
               [PG_TYPES[c.kind] for c in entity.columns], snapshot.frame)
    protected = pd.DataFrame(snapshot.protected_keys(), columns=list(entity.key), dtype="Int64")
    copy_frame(cursor, f"_protect_{entity.name}", list(entity.key), [PG_TYPES[c.kind] for c in key_columns],
               protected)


# ---------------------------------------------------------------------------------------------- stages
# One function per stage of the load, so that bench/flow_child.py can time them: COPY (`_stage_incoming`), diff,
# merge, change log, and the events (connectors/igi/events.py).
def _diff(conn: Connection, entity: Entity, removals: bool, run_id: int,
          instance: str) -> tuple[dict[str, int], int, int]:
    """Build ``_diff_<entity>``; return its row count per change, the changes that count toward the change limit,
    and the instance's current rows of the entity (counted only when a limit could need them: with no removal and
    no counted change there is nothing to compare, and an unchanged rerun skips a scan of every table)."""
    conn.execute(sa.text(_diff_sql(entity, removals=removals, run_id=run_id)), {"instance": instance})
    counts: dict[str, int] = {}
    counted = 0
    for change, n, n_counted in conn.exec_driver_sql(
            f"SELECT change, count(*), count(*) FILTER (WHERE counted) FROM _diff_{entity.name} GROUP BY change"):
        counts[change] = n
        if change == "changed":
            counted = n_counted
    current = 0
    if counts.get("removed") or counted:
        current = conn.execute(sa.text(
            f"SELECT count(*) FROM ss_staging.{entity.name} WHERE instance = :instance AND deleted_at IS NULL"),
            {"instance": instance}).scalar_one()
    return counts, counted, current


def _merge(conn: Connection, entity: Entity, run_id: int, all_added: bool, instance: str) -> None:
    for statement in _merge_sql(entity, all_added=all_added):
        conn.execute(sa.text(statement), {"run": run_id, "instance": instance})


def _log_changes(conn: Connection, entity: Entity, run_id: int, all_added: bool, instance: str) -> None:
    conn.execute(sa.text(_change_log_sql(entity, all_added=all_added)), {"run": run_id, "instance": instance})


# ---------------------------------------------------------------------------------------------- merge
def merge_snapshot(conn: Connection, run_id: int, snapshots: Sequence[Normalized],
                   options: MergeOptions) -> MergeResult:
    """Diff and merge the snapshots into staging in the caller's transaction (see the module doc)."""
    conn.exec_driver_sql("SET LOCAL TimeZone = 'UTC'")  # jsonb of timestamptz in the change log: UTC
    # For this transaction only: no JIT (the unanalyzed scratch tables make the planner expect millions of rows,
    # and compiling cost about 0.1 s per statement for nothing), and room for the diff's sorts and hashes in
    # memory (scale l spilled them to disk with the default 4 MB), unless work_mem is already larger.
    conn.exec_driver_sql("SET LOCAL jit = off")
    conn.exec_driver_sql("SELECT set_config('work_mem', '64MB', true) "
                         "WHERE pg_size_bytes(current_setting('work_mem')) < pg_size_bytes('64MB')")
    instance = options.instance
    conn.execute(sa.text("SELECT pg_advisory_xact_lock(:k, hashtext(:instance))"),
                 {"k": STAGING_LOCK_KEY, "instance": instance})
    stats: dict[str, EntityStats] = {}
    current: dict[str, int] = {}
    counted: dict[str, int] = {}
    preview: list[dict[str, Any]] = []
    added_only: dict[str, bool] = {}  # every incoming row of the entity is new (see `_merge_sql`)
    for snap in snapshots:
        entity = snap.entity
        _stage_incoming(conn, snap)
        removals = snap.removals_withheld() is None
        counts, counted[entity.name], current[entity.name] = _diff(conn, entity, removals, run_id, instance)
        added_only[entity.name] = counts.keys() <= {"added"} and counts.get("added", 0) == len(snap.frame)
        added = counts.get("added", 0) + counts.get("revived", 0)
        stats[entity.name] = EntityStats(
            scanned=snap.scanned, added=added, changed=counts.get("changed", 0),
            removed=counts.get("removed", 0), unchanged=len(snap.frame) - added - counts.get("changed", 0),
            rejected=len(snap.rejects), complete=removals,
        )
        if options.dry_run:
            rows = conn.exec_driver_sql(
                f"SELECT change, {_key_text('d', entity)} FROM _diff_{entity.name} d "
                f"ORDER BY 1, {', '.join(f'd.{k}' for k in entity.key)} LIMIT {PREVIEW_PER_ENTITY}").all()
            preview += [{"entity": entity.name, "object_key": key, "change_type": change} for change, key in rows]
    breaches = entity_breaches(stats, counted, current, options.limits)
    if breaches and not options.dry_run:
        raise SafetyLimitExceeded(breach_message(breaches), stats)

    touched = any(s.added or s.changed or s.removed for s in stats.values())
    known_before = 0
    # The permission events compare the permissions before and after the merge of only the users whose
    # permissions it can change; a re-emit needs them all, and a first load (nothing known) has no before.
    affected_only = False
    if touched and not options.reemit_events:
        known_before = events.count_known(conn, instance)
        if known_before:
            events.mark_affected_users(conn, [s.entity.name for s in snapshots], instance)
            affected_only = True
    if touched or options.reemit_events:
        events.snapshot_permissions(conn, "_perm_before", instance, affected_only=affected_only)
    for snap in snapshots:
        written_rows = stats[snap.entity.name]
        if written_rows.added or written_rows.changed or written_rows.removed:
            all_added = added_only[snap.entity.name]
            _merge(conn, snap.entity, run_id, all_added, instance)
            _log_changes(conn, snap.entity, run_id, all_added, instance)
    written: dict[str, int] = {}
    if touched or options.reemit_events:
        events.snapshot_permissions(conn, "_perm_after", instance, affected_only=affected_only)
        users_diffed = any(s.entity.name == "users" for s in snapshots)
        written = events.write_events(conn, run_id, instance, options.target, users_diff=users_diffed,
                                      reemit=options.reemit_events)
        if not options.reemit_events:  # a re-emit sends every event on purpose
            breaches += event_breaches(written, known_before, options.limits)
            if breaches and not options.dry_run:
                raise SafetyLimitExceeded(breach_message(breaches), stats, written)
    warnings = [f"a real run would stop here: {breach_message(breaches)}"] if breaches else []
    return MergeResult(stats, written, preview, warnings)


def load_run(
    engine: Engine,
    run_id: int,
    snapshots: Sequence[Normalized],
    options: MergeOptions,
    *,
    finish: Finish,
) -> LoadOutcome:
    """Merge in one transaction and record the run: ``finish(conn, status, result, error)`` writes the run
    record (and rejects), inside the merge's transaction on success, in a new one after a rollback."""
    with engine.connect() as conn:
        transaction = conn.begin()
        try:
            result = merge_snapshot(conn, run_id, snapshots, options)
            if options.dry_run:
                transaction.rollback()
                with conn.begin():
                    finished = finish(conn, "succeeded", result, None)
            else:
                finished = finish(conn, "succeeded", result, None)
                transaction.commit()
        except SafetyLimitExceeded as exc:
            if transaction.is_active:
                transaction.rollback()
            aborted = MergeResult(exc.stats, exc.events)
            with conn.begin():
                finished = finish(conn, "aborted", aborted, str(exc))
            return LoadOutcome("aborted", aborted, str(exc), finished)
        except Exception as exc:
            if transaction.is_active:
                transaction.rollback()
            reason = f"{type(exc).__name__}: {' '.join(str(exc).split())}"[:2000]
            log.error("reconciliation load failed, rolled back: %s", reason)
            return fail_run(engine, snapshots, reason, finish=finish, conn=conn)
    if not options.dry_run:  # committed: the run is what it is, whatever happens next
        for warning in _analyze_changed_tables(engine, result):
            result.warnings.append(warning)
            try:
                add_warning(engine, run_id, warning)
            except Exception as exc:
                log.warning("run %s: could not record the warning %r: %s", run_id, warning, exc)
    return LoadOutcome("succeeded", result, None, finished)


def _analyze_changed_tables(engine: Engine, result: MergeResult) -> list[str]:
    """Refresh planner statistics of tables whose content changed a lot (a first load above all): autovacuum
    gets to it only after its nap, and until then analysts' joins over the views run on empty-table plans
    (seen: a filtered effective_access query at scale m taking 68 s before ANALYZE, 0.15 s after). Runs after
    the commit: a failure (a lock timeout, a cancelled statement) is returned as a warning, never raised."""
    warnings = []
    for name, stats in result.stats.items():
        written = stats.added + stats.changed + stats.removed
        if written > 1000 or written > 0.1 * (stats.unchanged + written):
            try:
                with engine.begin() as conn:
                    # never wait long behind a lock (e.g. a manual VACUUM); an operator's own lock_timeout stands
                    conn.exec_driver_sql("SELECT set_config('lock_timeout', %s, true) "
                                         "WHERE current_setting('lock_timeout') = '0'", (ANALYZE_LOCK_TIMEOUT,))
                    conn.exec_driver_sql(f"ANALYZE ss_staging.{name}")
            except Exception as exc:
                reason = f"{type(exc).__name__}: {' '.join(str(exc).split())}"[:500]
                log.warning("after the commit, ANALYZE ss_staging.%s failed: %s", name, reason)
                warnings.append(f"after the commit, ANALYZE ss_staging.{name} failed "
                                f"(planner statistics are stale until autovacuum analyzes it): {reason}")
    return warnings


def fail_run(engine: Engine, snapshots: Sequence[Normalized], reason: str, *, finish: Finish,
             conn: Connection | None = None) -> LoadOutcome:
    """Record a run as failed (staging untouched) with what extraction received."""
    empty = MergeResult({s.entity.name: EntityStats(scanned=s.scanned, rejected=len(s.rejects),
                                                    complete=s.complete) for s in snapshots})
    if conn is None:
        with engine.begin() as own:
            finished = finish(own, "failed", empty, reason)
    else:
        with conn.begin():
            finished = finish(conn, "failed", empty, reason)
    return LoadOutcome("failed", empty, reason, finished)


def record_run(conn: Connection, run_id: int, status: str, result: MergeResult, error: str | None, *,
               snapshots: Sequence[Normalized], dry_run: bool, incomplete: dict[str, str],
               extract_stats: dict[str, Any], instance: str) -> Any:
    """The usual ``finish`` for `load_run`: rejects (not for a dry run) and the run row; a merge that went
    through with some removals withheld (``incomplete``) is recorded ``partial``."""
    if not dry_run:
        write_rejects(conn, run_id, instance, (r for s in snapshots for r in s.rejects))
    if status == "succeeded":
        status = merged_status(incomplete)
    return finish_run(conn, run_id, status=status, stats={k: v.as_dict() for k, v in result.stats.items()},
                      events=result.events, incomplete=incomplete, extract_stats=extract_stats, error=error,
                      warnings=result.warnings)
