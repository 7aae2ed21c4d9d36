"""The reconciliation flow: Secret Server -> pandas -> IGI staging, with a run record, a change log and IGI events.

`run_reconcile(engine, client, instance=..., target=...)` does the whole job for one Secret Server instance
with an injected database engine and client: it reads and writes only that instance's staging rows, and its
events go to the instance's IGI target; `reconcile_with_settings` wires a configured instance's settings into it
(pipelines/instances.py). The Prefect flow `reconcile` (pipelines/reconcile_flow.py)
runs that with one Prefect task per entity for extraction (retries belong to the connector, not to Prefect),
publishes a table artifact and returns the summary; this module does not import Prefect.

Extraction follows the entity declarations (connectors/igi/entities.py): users, groups, folders and secrets
with one paged search each; memberships per group and permissions per folder / per secret that breaks
inheritance, fanned out on the client's bounded pool. The fan-outs run side by side with the lists: each starts
as soon as its own parent list is in, while the lists that follow are paged. An entity whose extraction fails
(after the connector's retries) is loaded as far as it got and never diffed for removals; so is an entity with a
record rejected without a usable id (it may stand for any of its objects), and a relation whose parent list is
incomplete.
Such a run is recorded ``partial``. References are checked against this run's snapshot of the referenced
entity, or against staging when that entity is out of scope (or incomplete).

Run statuses and what they mean for a caller (the CLI's exit code, the Prefect flow run's state):
succeeded 0 / Completed; partial 3 / Completed named "Partial" (a warning: merged, some removals withheld);
failed and aborted 1 / Failed (staging unchanged). abandoned is set later, by a sweep (`mark_abandoned`).
"""

from __future__ import annotations

import contextvars
import logging
import threading
from collections.abc import Callable, Collection, Sequence
from concurrent.futures import Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from connectors.igi.entities import (
    DEFAULT_INSTANCE,
    DEFAULT_TARGET,
    ENTITIES,
    Entity,
    EntityStats,
    ReadAll,
    ReadPer,
    select_entities,
)
from connectors.igi.limits import (
    DEFAULT_MAX_CHANGE_PERCENT,
    DEFAULT_MAX_EVENT_PERCENT,
    DEFAULT_MAX_EVENTS,
    DEFAULT_MAX_REMOVAL_PERCENT,
    DEFAULT_MAX_REMOVALS,
    DEFAULT_PERCENT_FLOOR,
    SafetyLimits,
)
from connectors.igi.normalize import Normalized, Normalizer, check_references
from connectors.igi.runs import RunHandle, hold_run, mark_abandoned, merged_status
from connectors.igi.staging import MergeOptions, fail_run, load_run, record_run
from connectors.secret_server.protocols import SecretServerReads
from pipelines.failures import explain, fatal_for_run
from pipelines.progress import ExtractProgress, reading
from pipelines.settings import Settings, instance_variable

log = logging.getLogger(__name__)

# Extract and normalize one entity (all of it, or the children of the parents given): `extract_entity`, or a
# Prefect task around it.
Extract = Callable[[SecretServerReads, str, "list[int] | None"], Normalized]


EXIT_CODES = {"succeeded": 0, "partial": 3, "failed": 1, "aborted": 1}


class ReconciliationError(RuntimeError):
    """The run failed or was aborted; ``summary`` says what happened."""

    def __init__(self, summary: RunSummary) -> None:
        super().__init__(summary.reason())
        self.summary = summary


@dataclass
class RunSummary:
    """What one reconciliation run did: its status, per-entity stats, events, and why it is not complete."""

    run_id: int
    status: str  # succeeded, partial, failed or aborted
    dry_run: bool
    started_at: datetime
    finished_at: datetime | None
    stats: dict[str, EntityStats]
    instance: str = DEFAULT_INSTANCE
    events: dict[str, int] = field(default_factory=dict)
    incomplete: dict[str, str] = field(default_factory=dict)
    error: str | None = None
    preview: list[dict[str, Any]] = field(default_factory=list)
    extract_stats: dict[str, Any] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        """The run succeeded fully."""
        return self.status == "succeeded"

    def reason(self) -> str:
        """One line: the run (and its instance, unless it is the default one), its status, and why."""
        run = f"run {self.run_id}" + ("" if self.instance == DEFAULT_INSTANCE else f" of instance {self.instance}")
        if self.error:
            return f"{run} {self.status}: {self.error}"
        if self.incomplete:
            parts = "; ".join(f"{name}: {why}" for name, why in self.incomplete.items())
            return f"{run} {self.status}, loaded without removals for: {parts}"
        return f"{run} {self.status}"

    def table(self) -> list[dict[str, Any]]:
        """One row per entity: scanned, added, changed, removed, unchanged, rejected, complete."""
        return [{"entity": name, **s.as_dict()} for name, s in self.stats.items()]

    def as_dict(self) -> dict[str, Any]:
        """The summary as JSON-ready data (the flow's return value)."""
        return {
            "run_id": self.run_id, "instance": self.instance, "status": self.status, "dry_run": self.dry_run,
            "started_at": self.started_at.isoformat(),
            "finished_at": self.finished_at.isoformat() if self.finished_at else None,
            "stats": {name: s.as_dict() for name, s in self.stats.items()}, "events": dict(self.events),
            "incomplete": dict(self.incomplete), "error": self.error, "preview": list(self.preview),
            "extract_stats": dict(self.extract_stats), "warnings": list(self.warnings), "reason": self.reason(),
        }


# ---------------------------------------------------------------------------------------------- extract
def extract_entity(client: SecretServerReads, entity_name: str, parent_ids: list[int] | None = None) -> Normalized:
    """Extract and normalize one entity; a connector failure (after its retries) ends it as incomplete."""
    entity = ENTITIES[entity_name]
    normalizer = Normalizer(entity)
    source = entity.source
    try:
        if isinstance(source, ReadAll):
            with reading(entity_name):
                normalizer.add_all(source.read(client))
        else:
            parent_field = entity.column(entity.parent_column).source  # groupId, folderId, secretId
            read = source.read

            def read_one(parent: int) -> list[Any]:  # drained here, on the fan-out thread, for the progress
                with reading(entity_name):
                    return list(read(client, parent))

            for parent_id, records in client.fan_out(read_one, parent_ids or []):
                for record in records:
                    if isinstance(record, dict) and record.get(parent_field) is None:
                        record = {**record, parent_field: parent_id}
                    normalizer.add(record)
    except Exception as exc:
        fatal = fatal_for_run(exc)
        if fatal is not None:  # every other call would fail the same way (a refused login is final): stop
            raise fatal from None
        reason = f"{type(exc).__name__}: {' '.join(str(exc).split())}"[:1000]
        log.warning("extraction of %s incomplete: %s", entity_name, reason)
        return normalizer.finish(complete=False, error=reason)
    return normalizer.finish()


def _staging_keys(engine: Engine, instance: str, entity: Entity, when: tuple[str, Any] | None = None) -> set[int]:
    """The keys of the instance's current staging rows of ``entity`` (where column ``when[0]`` is ``when[1]``)."""
    sql = f"SELECT {entity.key[0]} FROM ss_staging.{entity.name} WHERE instance = :instance AND deleted_at IS NULL"
    params: dict[str, Any] = {"instance": instance}
    if when is not None:
        sql += f" AND {when[0]} = :v"
        params["v"] = when[1]
    with engine.connect() as conn:
        return {int(v) for v in conn.execute(sa.text(sql), params).scalars()}


def _parents(engine: Engine, instance: str, source: ReadPer,
             snap: Normalized | None) -> tuple[list[int], str | None]:
    """Ids to fan out over, from this run's snapshot of the parent entity (None: out of scope, so staging's),
    and why the list is incomplete (None when complete)."""
    parent = ENTITIES[source.per]
    when = source.per_when
    if snap is None:
        return sorted(_staging_keys(engine, instance, parent, when)), None
    frame = snap.frame if when is None else snap.frame[(snap.frame[when[0]] == when[1]).fillna(False)]
    ids = {int(v) for v in frame[parent.key[0]].dropna()}
    ids |= {k[0] for k in snap.protected_keys()}  # a rejected parent's children are fetched (and protected)
    if snap.removals_withheld() is None:
        return sorted(ids), None
    # some parent could not be read or identified: its children may be missing from the fan-out
    return (sorted(ids | _staging_keys(engine, instance, parent, when)),
            f"its parent entity {parent.name} is incomplete")


def _known_keys(engine: Engine, instance: str, name: str, snapshots: dict[str, Normalized]) -> Collection[int]:
    snap = snapshots.get(name)
    if snap is None:
        return _staging_keys(engine, instance, ENTITIES[name])
    keys = {int(k) for k in snap.loaded_keys()}
    return keys if snap.complete else keys | _staging_keys(engine, instance, ENTITIES[name])


def extract_all(engine: Engine, client: SecretServerReads, entities: Sequence[Entity], extract: Extract,
                progress: ExtractProgress | None = None, *, instance: str = DEFAULT_INSTANCE) -> dict[str, Normalized]:
    """Every entity, then the references, checked in dependency order; ``progress`` is told of each. The lists
    are read one after another (one list's pages at a time on the page pool, one list's records in memory), and
    each fan-out starts as soon as its own parent list is in, beside the lists that follow. An exception (a
    refused login: `fatal_for_run`) stops the entities not yet started and is raised once the running ones have
    ended; they end at their next call, since the client remembers a refused login."""
    if progress:
        progress.planned([entity.name for entity in entities])
    stop = threading.Event()

    def extract_one(entity: Entity, after: Future[Normalized | None] | None) -> Normalized | None:
        # ``after``: a fan-out's parent list (its ids), or the list read before this one
        try:
            parent_ids: list[int] | None = None
            incomplete_parent = None
            if isinstance(entity.source, ReadPer):
                parent_snapshot = after.result() if after is not None else None
                if after is not None and parent_snapshot is None:
                    return None  # the parent was not extracted: the run stops
                parent_ids, incomplete_parent = _parents(engine, instance, entity.source, parent_snapshot)
            elif after is not None:
                wait([after])
            if stop.is_set():
                return None
            if progress:
                progress.entity_started(entity.name, 1 if parent_ids is None else len(parent_ids))
            snapshot = extract(client, entity.name, parent_ids)
            if incomplete_parent and snapshot.complete:
                snapshot.complete, snapshot.error = False, incomplete_parent
            if progress:
                progress.entity_finished(entity.name, snapshot.scanned, snapshot.complete)
            return snapshot
        except BaseException:
            stop.set()
            raise

    futures: dict[str, Future[Normalized | None]] = {}
    previous_list: Future[Normalized | None] | None = None
    with ThreadPoolExecutor(len(entities) or 1, thread_name_prefix="ss-extract") as pool:
        for entity in entities:  # a parent is declared (so submitted) before its children
            after = futures.get(entity.source.per) if isinstance(entity.source, ReadPer) else previous_list
            # each thread runs in a copy of this context, so Prefect tasks called there belong to this flow run
            futures[entity.name] = pool.submit(contextvars.copy_context().run, extract_one, entity, after)
            if isinstance(entity.source, ReadAll):
                previous_list = futures[entity.name]
    for future in futures.values():
        if (error := future.exception()) is not None:
            raise error
    snapshots = {name: snapshot for name, future in futures.items() if (snapshot := future.result()) is not None}
    for snapshot in snapshots.values():  # dependency order: a referenced entity is checked first
        known = {ref.entity: _known_keys(engine, instance, ref.entity, snapshots)
                 for ref in snapshot.entity.references}
        check_references(snapshot, known)
    return snapshots


# ---------------------------------------------------------------------------------------------- run
def run_reconcile(
    engine: Engine,
    client: SecretServerReads,
    *,
    instance: str = DEFAULT_INSTANCE,
    target: str = DEFAULT_TARGET,
    entities: Sequence[str] | None = None,
    dry_run: bool = False,
    max_removals: int | None = DEFAULT_MAX_REMOVALS,
    max_removal_percent: float | None = DEFAULT_MAX_REMOVAL_PERCENT,
    max_change_percent: float | None = DEFAULT_MAX_CHANGE_PERCENT,
    max_events: int | None = DEFAULT_MAX_EVENTS,
    max_event_percent: float | None = DEFAULT_MAX_EVENT_PERCENT,
    percent_floor: int = DEFAULT_PERCENT_FLOOR,
    allow_mass_change: bool = False,
    reemit_events: bool = False,
    flow_run_id: str | None = None,
    extract: Extract = extract_entity,
    progress: ExtractProgress | None = None,
) -> RunSummary:
    """Reconcile the Secret Server ``instance`` (read through ``client``) into its staging rows once; its events
    go to IGI's ``target``. Always records the run and returns its summary (failures and aborts included: they
    leave staging exactly as it was, every instance's). The limits are those of connectors/igi/limits.py, against
    the instance's own rows; ``allow_mass_change`` lifts them all for a planned change. ``progress`` follows the
    extraction."""
    selected = select_entities(list(entities) if entities else None)
    limits = SafetyLimits.lifted() if allow_mass_change else SafetyLimits(
        max_removals, max_removal_percent, max_change_percent, max_events, max_event_percent, percent_floor)
    parameters = {"entities": [e.name for e in selected], "dry_run": dry_run, "max_removals": max_removals,
                  "max_removal_percent": max_removal_percent, "max_change_percent": max_change_percent,
                  "max_events": max_events, "max_event_percent": max_event_percent, "percent_floor": percent_floor,
                  "allow_mass_change": allow_mass_change, "reemit_events": reemit_events}
    mark_abandoned(engine)
    if progress is not None:
        progress.attach(client.stats)
        client.page_observer = progress.page_read
    options = MergeOptions(dry_run, limits, reemit_events, instance, target)
    with hold_run(engine, parameters=parameters, dry_run=dry_run, flow_run_id=flow_run_id, instance=instance) as run:
        log.info("reconciliation run %s of instance %s started: %s", run.run_id, instance, parameters)
        summary = _run(engine, client, run, selected, options, extract, progress)
    log.info("reconciliation %s", summary.reason())
    return summary


def _run(engine: Engine, client: SecretServerReads, run: RunHandle, selected: list[Entity], options: MergeOptions,
         extract: Extract, progress: ExtractProgress | None) -> RunSummary:
    run_id = run.run_id
    ordered: list[Normalized] = []
    incomplete: dict[str, str] = {}
    extract_stats: dict[str, Any] = {}

    def finish(conn: Any, status: str, result: Any, error: str | None) -> Any:
        return record_run(conn, run_id, status, result, error, snapshots=ordered, dry_run=options.dry_run,
                          incomplete=incomplete, extract_stats=extract_stats, instance=options.instance)

    try:
        snapshots = extract_all(engine, client, selected, extract, progress, instance=options.instance)
        ordered += [snapshots[e.name] for e in selected]
        incomplete.update({s.entity.name: why for s in ordered if (why := s.removals_withheld()) is not None})
        extract_stats.update(client.stats.as_dict())
        if all(not s.complete for s in ordered):  # nothing came through (e.g. Secret Server unreachable): fail
            outcome = fail_run(engine, ordered, _nothing_extracted(incomplete, options.instance), finish=finish)
        else:
            outcome = load_run(engine, run_id, ordered, options, finish=finish)
    except Exception as exc:  # e.g. the Dask scheduler is unreachable: the run is recorded failed, with why
        reason = explain(exc, options.instance)[:2000]
        # Info, not error: the failure is reported once, by whoever ran the run (the command's one line, the flow's
        # raised ReconciliationError) and in the run record; an error record here was a second console line.
        log.info("reconciliation run %s failed: %s", run_id, reason)
        outcome = fail_run(engine, ordered, reason, finish=finish)
    status = merged_status(incomplete) if outcome.status == "succeeded" else outcome.status
    return RunSummary(
        run_id=run_id, instance=options.instance, status=status, dry_run=options.dry_run, started_at=run.started_at,
        finished_at=outcome.finished_at, stats=outcome.result.stats, events=outcome.result.events,
        incomplete=incomplete, error=outcome.error, preview=outcome.result.preview, extract_stats=extract_stats,
        warnings=outcome.result.warnings,
    )


def _nothing_extracted(incomplete: dict[str, str], instance: str) -> str:
    """One line for a run that read nothing: the first entity's reason (the others are in ``incomplete``)."""
    first, why = next(iter(incomplete.items()))
    others = f"; {len(incomplete) - 1} other entities failed too (see the run's incomplete)" \
        if len(incomplete) > 1 else ""
    url = instance_variable(instance, "SECRET_SERVER_URL")
    return f"no entity could be extracted: {first}: {why}{others}; check {url} and that Secret Server is up"


# ---------------------------------------------------------------------------------------------- settings
def reconcile_with_settings(settings: Settings, *, instance: str | None = None,
                            progress: ExtractProgress | None = None, flow_run_id: str | None = None,
                            extract: Extract = extract_entity, **parameters: Any) -> RunSummary:
    """One run of the configured ``instance`` (None: the only one configured; pipelines/instances.py) wired from
    ``settings``: IGI's database and the instance's Secret Server client opened, `run_reconcile` with
    ``parameters`` (its keyword arguments), both closed, then ``progress``. The body of the Prefect flow
    (pipelines/reconcile_flow.py), and what the CLI runs in this process when no Prefect API is configured."""
    from pipelines.database import open_database
    from pipelines.instances import instance_named
    from pipelines.secret_server import open_secret_server

    try:
        chosen = instance_named(settings, instance)
        engine = open_database(settings)
        try:
            with open_secret_server(chosen.settings) as client:
                return run_reconcile(engine, client, instance=chosen.name, target=chosen.target,
                                     flow_run_id=flow_run_id, extract=extract, progress=progress, **parameters)
        finally:
            engine.dispose()
    finally:
        if progress is not None:
            progress.close()


__all__ = [
    "EXIT_CODES",
    "ReconciliationError",
    "RunSummary",
    "extract_all",
    "extract_entity",
    "reconcile_with_settings",
    "run_reconcile",
]
