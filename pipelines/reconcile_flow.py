"""The Prefect flow `reconcile`: `reconcile_with_settings` (pipelines/reconcile.py) as a flow run, with one Prefect
task per entity for extraction, optional Dask scale-out of the fan-outs, a progress and a summary artifact.

A flow run reconciles one Secret Server instance (parameter ``instance``; pipelines/instances.py): its name ends
with the instance it was given, and its summary artifact names the instance it reconciled.
Deployments and ``ss-igi serve`` run this flow; ``ss-igi reconcile`` runs it when a Prefect API is configured (or
Dask is), and otherwise runs `reconcile_with_settings` in its own process, which never imports Prefect.
"""

from __future__ import annotations

import math
from functools import partial
from typing import Any

from prefect import flow, get_run_logger, task
from prefect.cache_policies import NO_CACHE

from connectors.igi.entities import ENTITIES
from connectors.igi.limits import (
    DEFAULT_MAX_CHANGE_PERCENT,
    DEFAULT_MAX_EVENT_PERCENT,
    DEFAULT_MAX_EVENTS,
    DEFAULT_MAX_REMOVAL_PERCENT,
    DEFAULT_MAX_REMOVALS,
    DEFAULT_PERCENT_FLOOR,
)
from connectors.igi.normalize import Normalized, concat_snapshots
from connectors.secret_server.protocols import SecretServerReads
from pipelines.instances import instance_named
from pipelines.progress import ExtractProgress, artifact_view
from pipelines.reconcile import ReconciliationError, RunSummary, extract_entity, reconcile_with_settings
from pipelines.settings import Settings


@task(name="extract", task_run_name="extract-{entity_name}", cache_policy=NO_CACHE, persist_result=False)
def extract_task(client: SecretServerReads, entity_name: str, parent_ids: list[int] | None = None) -> Normalized:
    """One Prefect task per entity: extract (paged or fanned out) and normalize."""
    return extract_entity(client, entity_name, parent_ids)


# Scale-out: with SS_IGI_DASK_ADDRESS set ("local" for a temporary cluster on this host, or a scheduler's
# tcp://host:8786), the flow runs on Prefect's Dask task runner and splits each per-object fan-out (group
# members, folder and secret permissions) into chunks that run as tasks on the Dask workers. A task cannot take
# the flow's client with it to another process, so each chunk opens its own, of the run's instance, from the
# worker's settings.
DASK_ADDRESS_SETTING = "SS_IGI_DASK_ADDRESS"
DASK_CHUNKS = 8


def dask_task_runner(settings: Settings | None = None) -> Any:
    """The Dask task runner when SS_IGI_DASK_ADDRESS is set, else None (Prefect's default thread pool)."""
    address = (settings or Settings()).ss_igi_dask_address
    if not address:
        return None
    from prefect_dask import DaskTaskRunner  # the optional extra: pip install 'ss-igi[dask]'

    return DaskTaskRunner() if address == "local" else DaskTaskRunner(address=address)


@task(name="extract-chunk", task_run_name="extract-{entity_name}-chunk", cache_policy=NO_CACHE,
      persist_result=False)
def extract_chunk_task(entity_name: str, parent_ids: list[int], instance: str | None = None) -> Normalized:
    """One chunk of a fan-out on a Dask worker, with a client of its own on ``instance`` from the worker's
    settings."""
    from pipelines.secret_server import open_secret_server

    with open_secret_server(instance_named(Settings(), instance).settings) as client:
        return extract_entity(client, entity_name, parent_ids)


def extract_on_dask(client: SecretServerReads, entity_name: str, parent_ids: list[int] | None = None, *,
                    instance: str | None = None) -> Normalized:
    """`extract_task`, with fan-outs spread over the task runner in chunks (read from ``instance``), merged back
    in order."""
    if not parent_ids or len(parent_ids) < 2:
        return extract_task(client, entity_name, parent_ids)
    size = math.ceil(len(parent_ids) / DASK_CHUNKS)
    futures = [extract_chunk_task.submit(entity_name, parent_ids[i:i + size], instance)
               for i in range(0, len(parent_ids), size)]
    return concat_snapshots(ENTITIES[entity_name], [future.result() for future in futures])


def publish_artifact(summary: RunSummary) -> None:
    """The flow run's summary: a table artifact, one row per entity, the outcome in its description."""
    from prefect.artifacts import create_table_artifact

    events = ", ".join(f"{name} {n}" for name, n in summary.events.items()) or "none"
    description = (f"Reconciliation run {summary.run_id} of instance {summary.instance}: {summary.status}"
                   f"{' (dry run)' if summary.dry_run else ''}. IGI events: {events}.")
    if not summary.ok:
        description += f" {summary.reason()}"
    create_table_artifact(key="reconcile-summary", table=summary.table(), description=description)


def flow_run_name() -> str:
    """Prefect's usual two-word name, then the instance when the run names one (e.g. ``brave-otter-dr``)."""
    from prefect.runtime import flow_run
    from prefect.utilities.names import generate_slug

    instance = flow_run.parameters.get("instance")
    return f"{generate_slug(2)}-{instance}" if instance else generate_slug(2)


@flow(name="reconcile", flow_run_name=flow_run_name, log_prints=False, task_runner=dask_task_runner())
def reconcile(
    instance: str | None = None,
    entities: list[str] | None = None,
    dry_run: bool = False,
    max_removals: int | None = DEFAULT_MAX_REMOVALS,
    max_removal_percent: float | None = DEFAULT_MAX_REMOVAL_PERCENT,
    max_change_percent: float | None = DEFAULT_MAX_CHANGE_PERCENT,
    max_events: int | None = DEFAULT_MAX_EVENTS,
    max_event_percent: float | None = DEFAULT_MAX_EVENT_PERCENT,
    percent_floor: int = DEFAULT_PERCENT_FLOOR,
    allow_mass_change: bool = False,
    reemit_events: bool = False,
    progress: Any = None,
    settings: Any = None,
) -> dict[str, Any]:
    """Reconcile a Secret Server instance into IGI staging. ``instance``: its name (None: the only configured
    one; several configured: name one); ``entities``: a subset (default all); ``dry_run``: compute and
    report, write only the run record; ``max_*`` and ``percent_floor``: the safety limits (None: no limit; see
    connectors/igi/limits.py) above which the run aborts; ``allow_mass_change``: lift them all for a planned
    change; ``reemit_events``: emit every current account and permission to igi.event_target (an initial load
    into a fresh IGI); ``progress``: an `ExtractProgress` to follow the extraction (in-process callers such as
    the CLI's terminal display; the flow always adds its progress artifact); ``settings``: a `Settings` from an
    in-process caller (default: read from the environment, as a deployment's run does).
    Raises `ReconciliationError` when the run failed or aborted (the flow run ends Failed);
    a partial run ends Completed, in a state named "Partial"; both return the summary."""
    from prefect.runtime import flow_run
    from prefect.states import Completed

    settings = settings or Settings()
    chosen = instance_named(settings, instance)
    observer = progress if isinstance(progress, ExtractProgress) else ExtractProgress()
    view = artifact_view("reconcile-progress", len(entities or ENTITIES))
    if view is not None:
        observer.add_view(view)
    summary = reconcile_with_settings(
        settings, instance=chosen.name, progress=observer, flow_run_id=str(flow_run.id) if flow_run.id else None,
        extract=partial(extract_on_dask, instance=chosen.name) if settings.ss_igi_dask_address else extract_task,
        entities=entities, dry_run=dry_run, max_removals=max_removals, max_removal_percent=max_removal_percent,
        max_change_percent=max_change_percent, max_events=max_events, max_event_percent=max_event_percent,
        percent_floor=percent_floor, allow_mass_change=allow_mass_change, reemit_events=reemit_events,
    )
    publish_artifact(summary)
    get_run_logger().info("reconcile: %s", summary.reason())
    if summary.status == "partial":  # a warning: merged, some removals withheld. Calling the flow returns data.
        return Completed(name="Partial", message=summary.reason(), data=summary.as_dict())  # type: ignore[return-value]
    if not summary.ok:
        raise ReconciliationError(summary)
    return summary.as_dict()


__all__ = ["DASK_ADDRESS_SETTING", "dask_task_runner", "extract_on_dask", "publish_artifact", "reconcile"]
