"""`ss-igi provision`: execute IGI's pending provisioning requests on Secret Server (the `provision` flow), then
print a summary: processed, succeeded, failed, retried. With a Prefect API configured it runs as a flow run
that the API records; without one, the workers run in this process and no Prefect server is started. It serves
every configured Secret Server instance, or only ``--instance NAME``'s requests. A request that fails is an
outcome written back to IGI, not a failure of the command; ``--fail-on-error`` makes it one (exit 1) for scripts.
An instance whose login is refused is set aside (its requests stay pending, the others' proceed), and the command
ends with exit 1 and one line naming it."""

from __future__ import annotations

import argparse
from typing import Any

from rich.console import Console
from rich.table import Table

from pipelines.commands._prefect_api import prefect_api_configured
from pipelines.failures import CommandFailed
from pipelines.outcomes import unavailable_line
from pipelines.settings import Settings


def add_parser(sub: Any) -> None:
    """Register ``ss-igi provision``."""
    parser = sub.add_parser("provision", help="execute IGI's pending provisioning requests on Secret Server")
    parser.add_argument("--instance", metavar="NAME",
                        help="only the requests of this Secret Server instance (default: every configured one)")
    parser.add_argument("--batch-size", type=int, help="requests claimed per batch (SS_IGI_PROVISION_BATCH_SIZE)")
    parser.add_argument("--lease-seconds", type=float, help="claim lease (SS_IGI_PROVISION_LEASE_SECONDS)")
    parser.add_argument("--max-attempts", type=int, help="attempts before a request fails for good")
    parser.add_argument("--workers", type=int, default=1, help="workers in this process (default 1)")
    parser.add_argument("--max-batches", type=int, help="stop after this many batches per worker")
    parser.add_argument("--fail-on-error", action="store_true", help="exit 1 when a request ended in error")
    parser.add_argument("--quiet", action="store_true", help="no live progress (it shows only on a terminal)")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace, settings: Settings) -> int:
    """Run the workers (as a flow run when a Prefect API is configured), then print the totals."""
    from pipelines.logs import quiet_console
    from pipelines.progress import ProvisionProgress, TerminalView, terminal_wanted
    from pipelines.provision import provision_with_settings

    quiet_console(args.verbose)

    params = {"instance": args.instance, "batch_size": args.batch_size, "lease_seconds": args.lease_seconds,
              "max_attempts": args.max_attempts, "workers": args.workers, "max_batches": args.max_batches}
    terminal = [TerminalView(provisioning=True)] if terminal_wanted(args.quiet) else []
    progress = ProvisionProgress(terminal)
    # With a Prefect API, a flow run it records. Without one, the workers run in this process and no temporary
    # Prefect server is started (it would cost seconds, and outlive this process if it were killed).
    try:
        if prefect_api_configured():
            from pipelines.provision_flow import provision

            totals = provision(**params, progress=progress, settings=settings)
        else:
            totals = provision_with_settings(settings, **params, progress=progress).as_dict()
    finally:
        progress.finish()
    print_summary(totals)
    if totals.get("unavailable"):
        raise CommandFailed(unavailable_line(totals["unavailable"]))
    if args.fail_on_error and totals.get("failed"):
        raise CommandFailed(f"{totals['failed']} request(s) ended in error; ss-igi queue shows why")
    return 0


def print_summary(totals: dict[str, Any], console: Console | None = None) -> None:
    """The totals as a one-row table: processed, succeeded, failed, retried."""
    table = Table(title="ss-igi provision")
    for column in ("processed", "succeeded", "failed", "retried"):
        table.add_column(column.capitalize(), justify="right")
    table.add_row(*(str(totals.get(c, 0)) for c in ("processed", "succeeded", "failed", "retried")))
    (console or Console()).print(table)
