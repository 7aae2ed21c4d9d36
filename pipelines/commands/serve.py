"""`ss-igi serve`: serve the reconcile and provision flows on this host (``prefect.serve``): a nightly reconcile
(one deployment per configured instance when there are several) and provisioning every minute (every instance's
requests), until interrupted. Needs a Prefect API (PREFECT_API_URL) to take runs from. The
served runs are processes of their own that read their settings from the environment, as a deployment's runs do:
the global setting flags cannot reach them, so serve refuses them rather than ignore them."""

from __future__ import annotations

import argparse
from typing import Any, cast

from pipelines.failures import CommandFailed
from pipelines.settings import Settings

DEFAULT_RECONCILE_CRON = "0 2 * * *"
DEFAULT_PROVISION_INTERVAL_S = 60


def add_parser(sub: Any) -> None:
    """Register ``ss-igi serve``."""
    parser = sub.add_parser("serve", help="serve the reconcile and provision deployments on this host")
    parser.add_argument(
        "--reconcile-cron", default=DEFAULT_RECONCILE_CRON, help=f"cron (UTC) (default {DEFAULT_RECONCILE_CRON!r})"
    )
    parser.add_argument(
        "--provision-interval",
        type=int,
        default=DEFAULT_PROVISION_INTERVAL_S,
        help=f"seconds between provisioning runs (default {DEFAULT_PROVISION_INTERVAL_S})",
    )
    parser.add_argument("--limit", type=int, default=None, help="most flow runs at once on this host")
    parser.set_defaults(run=run)


def _reconcile_deployments(settings: Settings) -> dict[str, dict[str, Any]]:
    """Name -> parameters of the served reconcile deployments: one, or one per instance when several are
    configured (each instance's runs have their own schedule slot, limits and status)."""
    from pipelines.instances import configured_instances

    instances = configured_instances(settings)
    if len(instances) == 1:
        return {"nightly-reconcile-served": {}}
    return {f"nightly-reconcile-{i.name}-served": {"instance": i.name} for i in instances}


def run(args: argparse.Namespace, settings: Settings) -> int:
    """Serve both deployments until interrupted."""
    if settings != Settings():  # a global flag changed a setting
        raise CommandFailed("served flow runs read their settings from the environment; set the variables "
                            "(README: Configuration) instead of the global flags")
    from prefect import serve
    from prefect.deployments.runner import RunnerDeployment

    from pipelines.provision_flow import provision
    from pipelines.reconcile_flow import reconcile

    # Names of their own, so that served deployments never take over the work-pool ones of prefect.yaml.
    # In a synchronous caller to_deployment() returns the deployment itself, not a coroutine.
    deployments = [
        cast(RunnerDeployment, reconcile.to_deployment(name=name, cron=args.reconcile_cron, parameters=parameters))
        for name, parameters in _reconcile_deployments(settings).items()
    ]
    deployments.append(cast(RunnerDeployment, provision.to_deployment(name="provision-every-minute-served",
                                                                      interval=args.provision_interval)))
    serve(*deployments, limit=args.limit)
    return 0
