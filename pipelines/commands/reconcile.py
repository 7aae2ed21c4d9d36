"""`ss-igi reconcile`: reconcile Secret Server into IGI staging (the `reconcile` flow) and print the run's summary.

Exit status 1 with a one-line reason when the run failed, was aborted by a removal threshold, or could not
extract every entity (the table is printed first in every case).
"""

from __future__ import annotations

import argparse
from typing import Any

from rich.console import Console
from rich.table import Table

from connectors.igi.entities import ENTITY_NAMES
from connectors.igi.staging import DEFAULT_MAX_REMOVAL_PERCENT, DEFAULT_MAX_REMOVALS

STAT_COLUMNS = ("scanned", "added", "changed", "removed", "unchanged", "rejected")


def _entities(text: str) -> list[str]:
    names = [n.strip() for n in text.split(",") if n.strip()]
    unknown = sorted(set(names) - set(ENTITY_NAMES))
    if unknown:
        raise argparse.ArgumentTypeError(f"unknown entity {', '.join(unknown)}; choose from {', '.join(ENTITY_NAMES)}")
    return names


def add_parser(sub: Any) -> None:
    parser = sub.add_parser("reconcile", help="reconcile Secret Server into IGI staging",
                            description="Extract users, groups, memberships, folders, secrets and permissions "
                                        "from Secret Server and load the differences into IGI staging.")
    parser.add_argument("--entities", type=_entities, default=None, metavar="LIST",
                        help=f"comma-separated subset to reconcile (default all: {','.join(ENTITY_NAMES)})")
    parser.add_argument("--dry-run", action="store_true",
                        help="compute and report the changes; write nothing but the run record")
    parser.add_argument("--max-removals", type=int, default=DEFAULT_MAX_REMOVALS, metavar="N",
                        help=f"abort if an entity would lose more than N rows (default {DEFAULT_MAX_REMOVALS})")
    parser.add_argument("--max-removal-percent", type=float, default=DEFAULT_MAX_REMOVAL_PERCENT, metavar="P",
                        help="abort if an entity would lose more than P%% of its rows "
                             f"(default {DEFAULT_MAX_REMOVAL_PERCENT:g}; ignored for 10 removals or fewer)")
    parser.add_argument("--no-removal-limits", action="store_true",
                        help="disable both removal limits for this run")
    parser.add_argument("--reemit-events", action="store_true",
                        help="emit every current account and permission to igi.event_target "
                             "(initial load into a fresh IGI)")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from pipelines.reconcile import ReconciliationError, reconcile

    limits_off = args.no_removal_limits
    try:
        summary = reconcile(
            entities=args.entities, dry_run=args.dry_run,
            max_removals=None if limits_off else args.max_removals,
            max_removal_percent=None if limits_off else args.max_removal_percent,
            reemit_events=args.reemit_events,
        )
    except ReconciliationError as exc:
        print_summary(exc.summary.as_dict())
        raise RuntimeError(exc.summary.reason()) from None
    print_summary(summary)
    return 0


def print_summary(summary: dict[str, Any], console: Console | None = None) -> None:
    """The run's summary as a rich table: one row per entity, events and outcome below."""
    dry = " (dry run)" if summary.get("dry_run") else ""
    table = Table(title=f"ss-igi reconcile: run {summary['run_id']} {summary['status']}{dry}")
    table.add_column("Entity")
    for column in STAT_COLUMNS:
        table.add_column(column.capitalize(), justify="right")
    table.add_column("Complete")
    for name, stats in summary["stats"].items():
        table.add_row(name, *(str(stats.get(c, 0)) for c in STAT_COLUMNS),
                      "yes" if stats.get("complete", True) else "[red]no[/red]")
    out = console or Console()
    out.print(table)
    events = ", ".join(f"{name} {count}" for name, count in summary.get("events", {}).items()) or "none"
    out.print(f"IGI events{' that would be written' if dry else ''}: {events}")
    for name, reason in summary.get("incomplete", {}).items():
        out.print(f"[yellow]incomplete[/yellow] {name}: {reason}")
    if summary.get("error"):
        out.print(f"[red]{summary['status']}[/red]: {summary['error']}")
