"""The Prefect flow `provision`: `provision_with_settings` (pipelines/provision.py) as a flow run, with a progress and
a summary artifact. Deployments and ``ss-igi serve`` run this flow; ``ss-igi provision`` runs it when a Prefect API
is configured, and otherwise runs the workers in its own process without importing Prefect."""

from __future__ import annotations

from typing import Any

from prefect import flow, get_run_logger

from pipelines.failures import CommandFailed
from pipelines.outcomes import ProvisionSummary, unavailable_line
from pipelines.progress import ProvisionProgress, artifact_view
from pipelines.provision import provision_with_settings


# The flow's parameters are its schema for deployments and the Prefect UI, so it spells out the same parameters as
# provision_with_settings (which runs without Prefect) rather than taking them in a bundle.
@flow(name="provision", log_prints=False)
def provision(
    instance: str | None = None,
    batch_size: int | None = None,
    lease_seconds: float | None = None,
    max_attempts: int | None = None,
    workers: int = 1,
    max_batches: int | None = None,
    progress: Any = None,
    settings: Any = None,
) -> dict[str, Any]:
    """Execute IGI's pending provisioning requests on the Secret Server instances their targets name: every
    configured instance, or only ``instance``; parameters default to the settings (SS_IGI_PROVISION_*);
    ``progress``: a `ProvisionProgress` for in-process callers (the flow always adds its progress artifact);
    ``settings``: a `Settings` from an in-process caller (default: the environment's). Returns the summary:
    processed, succeeded, failed, retried; fails, after its artifact, when an instance was set aside (its login
    refused, ...)."""
    observer = progress if isinstance(progress, ProvisionProgress) else ProvisionProgress()
    view = artifact_view("provision-progress")
    if view is not None:
        observer.add_view(view)
    try:
        summary = provision_with_settings(settings, instance=instance, batch_size=batch_size,
                                          lease_seconds=lease_seconds, max_attempts=max_attempts, workers=workers,
                                          max_batches=max_batches, progress=observer)
    finally:
        observer.finish()
    publish_artifact(summary)
    get_run_logger().info("provision: %s", summary.as_dict())
    if summary.unavailable:
        raise CommandFailed(unavailable_line(summary.unavailable))
    return summary.as_dict()


def publish_artifact(summary: ProvisionSummary) -> None:
    """A Prefect table artifact: one row per request outcome (capped), totals in the description."""
    from prefect.artifacts import create_table_artifact

    rows = [{"event_id": r.event_id, "operation": r.operation, "code": r.code, "result": r.result,
             "trace": r.trace} for r in sorted(summary.results, key=lambda r: r.event_id)[:1000]]
    totals = summary.as_dict()
    create_table_artifact(
        key="provision-summary",
        table=rows or [{"event_id": None, "operation": None, "code": None, "result": "nothing due", "trace": ""}],
        description=(f"processed {totals['processed']}: succeeded {totals['succeeded']}, failed {totals['failed']}, "
                     f"retried {totals['retried']}"),
    )
