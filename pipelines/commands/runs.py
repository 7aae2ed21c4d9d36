"""`ss-igi runs`: the reconciliation run history. ``ss-igi runs`` lists the last runs, each with its Secret Server
instance and what it changed per entity (``--instance NAME``: that instance's runs only); ``ss-igi runs show ID``
shows one run: counts, rejects with their reasons, and its change log counted per entity and change type.
``--json`` prints the same for scripts."""

from __future__ import annotations

import argparse
from typing import Any

from rich import box
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from pipelines.commands._render import add_listing, duration, print_json, when
from pipelines.settings import Settings

CHANGE_COLUMNS = ("added", "changed", "removed", "rejected")
STAT_COLUMNS = ("scanned", "added", "changed", "removed", "unchanged", "rejected")
STATUS_STYLE = {"succeeded": "green", "partial": "yellow", "running": "cyan"}


def add_parser(sub: Any) -> None:
    """Register ``ss-igi runs`` and ``runs show``."""
    runs_sub = add_listing(sub, "runs", "the reconciliation run history (ss-igi runs show ID: one run)", limit=10,
                           limit_help="the last N runs (default 10)", json_help="print JSON instead of a table",
                           run=run_list, actions="show")
    sub.choices["runs"].add_argument("--instance", metavar="NAME", help="only this instance's runs")
    show = runs_sub.add_parser("show", help="one run: counts, rejects, change log per entity")
    show.add_argument("run_id", type=int, metavar="ID")
    show.add_argument("--rejects", type=int, default=50, metavar="N", help="rejects listed (default 50)")
    show.add_argument("--json", action="store_true", help="print JSON instead of tables")
    show.set_defaults(run=run_show)


def _seconds(run: dict[str, Any]) -> float | None:
    if run["finished_at"] is None:
        return None
    return (run["finished_at"] - run["started_at"]).total_seconds()


def run_list(args: argparse.Namespace, settings: Settings) -> int:
    """List the last runs."""
    from connectors.igi.runs import list_runs
    from pipelines.database import open_current_database

    engine = open_current_database(settings)
    try:
        runs = list_runs(engine, args.limit, instance=args.instance.strip().lower() if args.instance else None)
    finally:
        engine.dispose()
    if args.json:
        print_json([{**r, "seconds": _seconds(r)} for r in runs])
    else:
        print_runs(runs)
    return 0


def _status(status: str) -> str:
    style = STATUS_STYLE.get(status, "red")
    return f"[{style}]{status}[/{style}]"


def print_runs(runs: list[dict[str, Any]], console: Console | None = None) -> None:
    """The runs, newest first: one line per entity a run changed or rejected rows of."""
    out = console or Console()
    if not runs:
        out.print("no reconciliation run yet (ss-igi reconcile)")
        return
    # Narrow enough for 80 columns: a run's instance and outcome (status, time taken, dry run) share one cell.
    table = Table(title=f"ss-igi runs: the last {len(runs)}", box=box.SIMPLE_HEAD,
                  padding=(0, 1, 0, 0), pad_edge=False)
    table.add_column("Run", justify="right")
    table.add_column("Started (UTC)")
    table.add_column("Instance\nOutcome", no_wrap=True)
    table.add_column("Entity", no_wrap=True)
    for column in CHANGE_COLUMNS:
        table.add_column(column.capitalize(), justify="right")
    for run in runs:
        started = when(run["started_at"]).replace(" ", "\n")
        outcome = "\n".join([f"[bold]{escape(run['instance'])}[/bold]", _status(run["status"]),
                             duration(_seconds(run)) or "running",
                             *(["dry run"] if run["dry_run"] else [])])
        head = [str(run["run_id"]), started, outcome]
        moved = {name: s for name, s in (run["stats"] or {}).items() if any(s.get(c) for c in CHANGE_COLUMNS)}
        if not moved:
            quiet = "no changes" if run["status"] in ("succeeded", "partial") else ""
            table.add_row(*head, quiet, *[""] * len(CHANGE_COLUMNS), end_section=True)
            continue
        for index, (name, stats) in enumerate(moved.items()):
            table.add_row(*(head if index == 0 else [""] * len(head)), name,
                          *(str(stats.get(c, 0)) for c in CHANGE_COLUMNS), end_section=index == len(moved) - 1)
    out.print(table)


def run_show(args: argparse.Namespace, settings: Settings) -> int:
    """Show one run."""
    from connectors.igi.runs import read_run
    from pipelines.database import open_current_database

    engine = open_current_database(settings)
    try:
        run = read_run(engine, args.run_id, reject_limit=args.rejects)
    finally:
        engine.dispose()
    if run is None:
        raise LookupError(f"no reconciliation run {args.run_id}; ss-igi runs lists the last ones")
    if args.json:
        print_json({**run, "seconds": _seconds(run)})
    else:
        print_run(run)
    return 0


def print_run(run: dict[str, Any], console: Console | None = None) -> None:
    """One run: its outcome, counts per entity, change log per entity and change type, rejects."""
    out = console or Console()
    dry = " (dry run)" if run["dry_run"] else ""
    took = f"took {duration(_seconds(run))}" if run["finished_at"] else "still running"
    out.print(f"[bold]Run {run['run_id']}[/bold] of instance {escape(run['instance'])}: {_status(run['status'])}{dry}, "
              f"started {when(run['started_at'])} UTC, {took}")
    if run["error"]:
        out.print(f"[red]error[/red]: {escape(run['error'])}")
    for name, reason in (run["incomplete"] or {}).items():
        out.print(f"[yellow]incomplete[/yellow] {name}: {escape(str(reason))}")
    for warning in run["warnings"] or []:
        out.print(f"[yellow]warning[/yellow]: {escape(str(warning))}")
    events = ", ".join(f"{name} {n}" for name, n in (run["events"] or {}).items()) or "none"
    out.print(f"IGI events{' that would be written' if run['dry_run'] else ''}: {events}")

    counts = Table(title="Counts")
    counts.add_column("Entity", no_wrap=True)
    for column in STAT_COLUMNS:
        counts.add_column(column.capitalize(), justify="right")
    for name, stats in (run["stats"] or {}).items():
        counts.add_row(name, *(str(stats.get(c, 0)) for c in STAT_COLUMNS))
    out.print(counts)

    changes = Table(title="Change log")
    changes.add_column("Entity", no_wrap=True)
    for column in ("added", "changed", "removed"):
        changes.add_column(column.capitalize(), justify="right")
    for name, by_type in run["change_log"].items():
        changes.add_row(name, *(str(by_type[c]) for c in ("added", "changed", "removed")))
    if run["change_log"]:
        out.print(changes)
    else:
        out.print("Change log: nothing changed" + (" (a dry run writes none)" if run["dry_run"] else ""))

    if run["rejects"]:
        rejects = Table(title=f"Rejects ({run['reject_total']})")
        rejects.add_column("Entity", no_wrap=True)
        rejects.add_column("Source id")
        rejects.add_column("Reason", overflow="fold")
        for reject in run["rejects"]:
            rejects.add_row(reject["entity"], escape(str(reject["source_id"] or "")), escape(reject["reason"]))
        out.print(rejects)
        if run["reject_total"] > len(run["rejects"]):
            out.print(f"... and {run['reject_total'] - len(run['rejects'])} more (--rejects N, or --json)")
    else:
        out.print("Rejects: none")
