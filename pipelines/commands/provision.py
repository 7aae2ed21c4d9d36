"""`ss-igi provision`: execute IGI's pending provisioning requests on Secret Server (the `provision` flow), then
print a summary: processed, succeeded, failed, retried. A request that fails is an outcome written back to IGI,
not a failure of the command; ``--fail-on-error`` makes it one (exit 1) for scripts."""

from __future__ import annotations

import argparse
from typing import Any

from rich.console import Console
from rich.table import Table


def add_parser(sub: Any) -> None:
    parser = sub.add_parser("provision", help="execute IGI's pending provisioning requests on Secret Server")
    parser.add_argument("--batch-size", type=int, help="requests claimed per batch (SS_IGI_PROVISION_BATCH_SIZE)")
    parser.add_argument("--lease-seconds", type=float, help="claim lease (SS_IGI_PROVISION_LEASE_SECONDS)")
    parser.add_argument("--max-attempts", type=int, help="attempts before a request fails for good")
    parser.add_argument("--workers", type=int, default=1, help="workers in this process (default 1)")
    parser.add_argument("--max-batches", type=int, help="stop after this many batches per worker")
    parser.add_argument("--fail-on-error", action="store_true", help="exit 1 when a request ended in error")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from pipelines.provision import provision

    totals = provision(batch_size=args.batch_size, lease_seconds=args.lease_seconds,
                       max_attempts=args.max_attempts, workers=args.workers, max_batches=args.max_batches)
    print_summary(totals)
    if args.fail_on_error and totals.get("failed"):
        raise RuntimeError(f"{totals['failed']} request(s) ended in error; see igi.event_out.trace")
    return 0


def print_summary(totals: dict[str, Any], console: Console | None = None) -> None:
    table = Table(title="ss-igi provision")
    for column in ("processed", "succeeded", "failed", "retried"):
        table.add_column(column.capitalize(), justify="right")
    table.add_row(*(str(totals.get(c, 0)) for c in ("processed", "succeeded", "failed", "retried")))
    (console or Console()).print(table)
