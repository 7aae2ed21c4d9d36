"""`ss-igi reconcile`: reconcile Secret Server into IGI staging (the `reconcile` flow) and print the run's summary.
``--instance NAME`` reconciles one configured instance; without it, each configured instance is reconciled in turn
(one run each, a summary each, the exit status of the worst run).

The summary table is printed first in every case; the exit status follows the run's status (README: run
history): 0 succeeded, 3 partial (merged, some removals withheld: a warning), 1 failed or aborted (staging
unchanged), each non-zero one with a one-line reason on stderr. A dry run previews: it reports a safety limit
that a real run would stop on as a warning and exits 0.

With a Prefect API configured (PREFECT_API_URL, or the active profile's), the run is a flow run that the API
records; so it is with SS_IGI_DASK_ADDRESS, whose fan-out needs Prefect's task runner. Otherwise the flow's code
runs in this process and no Prefect server is started: it would cost seconds, most of a small tenant's run.
"""

from __future__ import annotations

import argparse
import sys
from typing import TYPE_CHECKING, Any

from rich.console import Console
from rich.markup import escape
from rich.table import Table

from connectors.igi.entities import ENTITY_NAMES
from connectors.igi.limits import (
    DEFAULT_MAX_CHANGE_PERCENT,
    DEFAULT_MAX_EVENT_PERCENT,
    DEFAULT_MAX_REMOVAL_PERCENT,
    DEFAULT_MAX_REMOVALS,
    DEFAULT_PERCENT_FLOOR,
)
from connectors.igi.staging import PREVIEW_PER_ENTITY
from pipelines.commands._prefect_api import prefect_api_configured
from pipelines.failures import CommandFailed
from pipelines.instances import DEFAULT_INSTANCE, Instance, configured_instances, instance_named
from pipelines.settings import Settings

if TYPE_CHECKING:
    from pipelines.progress import ExtractProgress

STAT_COLUMNS = ("scanned", "added", "changed", "removed", "unchanged", "rejected")


def _entities(text: str) -> list[str]:
    names = [n.strip() for n in text.split(",") if n.strip()]
    unknown = sorted(set(names) - set(ENTITY_NAMES))
    if unknown:
        raise argparse.ArgumentTypeError(f"unknown entity {', '.join(unknown)}; choose from {', '.join(ENTITY_NAMES)}")
    return names


def add_parser(sub: Any) -> None:
    """Register ``ss-igi reconcile``."""
    parser = sub.add_parser("reconcile", help="reconcile Secret Server into IGI staging",
                            description="Extract users, groups, memberships, folders, secrets and permissions "
                                        "from Secret Server and load the differences into IGI staging. "
                                        "Exit status: 0 succeeded, 3 partial, 1 failed or aborted.")
    parser.add_argument("--instance", metavar="NAME",
                        help="the Secret Server instance to reconcile (default: each configured one in turn)")
    parser.add_argument("--entities", type=_entities, default=None, metavar="LIST",
                        help=f"comma-separated subset to reconcile (default all: {','.join(ENTITY_NAMES)})")
    parser.add_argument("--dry-run", action="store_true",
                        help="compute and report the changes; write nothing but the run record")
    limits = parser.add_argument_group(
        "safety limits", "a run over any of them aborts before writing anything; percentages ignore "
                         "an entity (or event set) with --percent-floor changes or fewer")
    limits.add_argument("--max-removals", type=int, default=DEFAULT_MAX_REMOVALS, metavar="N",
                        help=f"abort if an entity would lose more than N rows (default {DEFAULT_MAX_REMOVALS})")
    limits.add_argument("--max-removal-percent", type=float, default=DEFAULT_MAX_REMOVAL_PERCENT, metavar="P",
                        help="abort if an entity would lose more than P%% of its rows "
                             f"(default {DEFAULT_MAX_REMOVAL_PERCENT:g})")
    limits.add_argument("--no-removal-limits", action="store_true",
                        help="disable both removal limits for this run")
    limits.add_argument("--max-change-percent", type=float, default=DEFAULT_MAX_CHANGE_PERCENT, metavar="P",
                        help="abort if more than P%% of an entity's rows would change, operational columns "
                             f"(last login, lockout, last access) aside (default {DEFAULT_MAX_CHANGE_PERCENT:g})")
    limits.add_argument("--max-events", type=int, default=None, metavar="N",
                        help="abort if the run would write more than N IGI events (default: no count limit)")
    limits.add_argument("--max-event-percent", type=float, default=DEFAULT_MAX_EVENT_PERCENT, metavar="P",
                        help="abort if the events would exceed P%% of the accounts and permissions IGI knew "
                             f"(default {DEFAULT_MAX_EVENT_PERCENT:g}; a first load is exempt)")
    limits.add_argument("--percent-floor", type=int, default=DEFAULT_PERCENT_FLOOR, metavar="N",
                        help=f"percentage limits ignore N changes or fewer (default {DEFAULT_PERCENT_FLOOR})")
    limits.add_argument("--allow-mass-change", action="store_true",
                        help="lift every safety limit for this run: a planned mass change (check it with "
                             "--dry-run first)")
    parser.add_argument("--reemit-events", action="store_true",
                        help="emit every current account and permission to igi.event_target "
                             "(initial load into a fresh IGI)")
    parser.add_argument("--quiet", action="store_true", help="no live progress (it shows only on a terminal)")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace, settings: Settings) -> int:
    """Reconcile the instance named by --instance, else each configured instance in turn (one run each); print
    each run's summary. The exit status follows the run's status, the worst one's when there are several."""
    from pipelines.logs import quiet_console

    run_here = not (prefect_api_configured() or settings.ss_igi_dask_address)
    if not run_here:  # importing Prefect sets up its logging; the console is quieted after that
        import pipelines.reconcile_flow  # noqa: F401
    quiet_console(args.verbose)
    removals_off = args.no_removal_limits
    parameters: dict[str, Any] = {
        "entities": args.entities, "dry_run": args.dry_run,
        "max_removals": None if removals_off else args.max_removals,
        "max_removal_percent": None if removals_off else args.max_removal_percent,
        "max_change_percent": args.max_change_percent, "max_events": args.max_events,
        "max_event_percent": args.max_event_percent, "percent_floor": args.percent_floor,
        "allow_mass_change": args.allow_mass_change, "reemit_events": args.reemit_events,
    }
    configured = configured_instances(settings)
    chosen = [instance_named(settings, args.instance)] if args.instance else configured
    labelled = len(configured) > 1 or configured[0].name != DEFAULT_INSTANCE
    if len(chosen) == 1:
        return _one_run(args, settings, parameters, chosen[0], run_here, labelled)
    return _each_instance(args, settings, parameters, chosen, run_here)


def _reconcile(args: argparse.Namespace, settings: Settings, parameters: dict[str, Any],
               run_here: bool) -> dict[str, Any]:
    """One run (``parameters`` name its instance), with a live progress display of its own on a terminal."""
    from pipelines.progress import ExtractProgress, TerminalView, terminal_wanted

    terminal = [TerminalView()] if terminal_wanted(args.quiet) else []
    try:
        if run_here:
            return _reconcile_here(settings, parameters, ExtractProgress(terminal))
        return _reconcile_as_flow_run(settings, parameters, ExtractProgress(terminal))
    finally:
        for view in terminal:
            view.close()


def _one_run(args: argparse.Namespace, settings: Settings, parameters: dict[str, Any], instance: Instance,
             run_here: bool, labelled: bool) -> int:
    from pipelines.reconcile import EXIT_CODES

    summary = _reconcile(args, settings, {**parameters, "instance": instance.name}, run_here)
    print_summary(summary, show_instance=labelled)
    if summary["status"] in ("failed", "aborted"):
        raise CommandFailed(summary["reason"])
    code = EXIT_CODES[summary["status"]]
    if code:
        print(f"ss-igi reconcile: {summary['reason']}", file=sys.stderr)
    return code


# Several runs end with the worst of their statuses: a failure over a warning (partial) over a success.
SEVERITY = {"succeeded": 0, "partial": 1, "failed": 2, "aborted": 2}


def _each_instance(args: argparse.Namespace, settings: Settings, parameters: dict[str, Any],
                   instances: list[Instance], run_here: bool) -> int:
    """One run per instance, in turn: an instance that fails (even to start: a missing setting, say) does not
    stop the others. Each summary is printed as it ends; then one line on stderr per run that did not succeed."""
    from pipelines.failures import explain
    from pipelines.reconcile import EXIT_CODES

    statuses: list[str] = []
    reasons: list[str] = []
    for instance in instances:
        try:
            summary = _reconcile(args, settings, {**parameters, "instance": instance.name}, run_here)
        except Exception as exc:  # not started: said in one line, like a failed run
            reason = explain(exc, instance.name)
            statuses.append("failed")
            reasons.append(f"instance {instance.name}: {reason}")
            Console().print(f"[red]ss-igi reconcile: instance {escape(instance.name)} failed[/red]: {escape(reason)}")
            continue
        print_summary(summary, show_instance=True)
        statuses.append(summary["status"])
        if summary["status"] != "succeeded":  # the reason names any instance but the default one
            named = "" if instance.name != DEFAULT_INSTANCE else f"instance {instance.name}: "
            reasons.append(f"{named}{summary['reason']}")
    for reason in reasons:
        print(f"ss-igi reconcile: {reason}", file=sys.stderr)
    return EXIT_CODES[max(statuses, key=SEVERITY.__getitem__)]


def _reconcile_here(settings: Settings, parameters: dict[str, Any], progress: ExtractProgress) -> dict[str, Any]:
    """The run in this process: no Prefect API to report to, so no Prefect at all (the run history is in
    ss_staging.reconciliation_runs either way)."""
    from pipelines.reconcile import reconcile_with_settings

    return reconcile_with_settings(settings, progress=progress, **parameters).as_dict()


def _reconcile_as_flow_run(settings: Settings, parameters: dict[str, Any],
                           progress: ExtractProgress) -> dict[str, Any]:
    """The run as a flow run that the Prefect API records (and that Dask's task runner needs)."""
    from pipelines.reconcile import ReconciliationError
    from pipelines.reconcile_flow import reconcile

    try:
        return reconcile(**parameters, progress=progress, settings=settings)
    except ReconciliationError as exc:
        return exc.summary.as_dict()


def print_summary(summary: dict[str, Any], console: Console | None = None, *, show_instance: bool = False) -> None:
    """The run's summary as a rich table: one row per entity; a dry run's first changes, events, outcome below.
    ``show_instance``: name the run's instance in the title (several instances are configured)."""
    dry = " (dry run)" if summary.get("dry_run") else ""
    instance = f"instance {summary.get('instance')}, " if show_instance else ""
    table = Table(title=f"ss-igi reconcile: {instance}run {summary['run_id']} {summary['status']}{dry}")
    table.add_column("Entity")
    for column in STAT_COLUMNS:
        table.add_column(column.capitalize(), justify="right")
    table.add_column("Complete")
    for name, stats in summary["stats"].items():
        table.add_row(name, *(str(stats.get(c, 0)) for c in STAT_COLUMNS),
                      "yes" if stats.get("complete", True) else "[red]no[/red]")
    out = console or Console()
    out.print(table)
    if summary.get("preview"):
        out.print(f"First changes (up to {PREVIEW_PER_ENTITY} per entity):")
        for change in summary["preview"]:
            out.print(f"  {change['change_type']:<8} {change['entity']} {change['object_key']}")
    events = ", ".join(f"{name} {count}" for name, count in summary.get("events", {}).items()) or "none"
    out.print(f"IGI events{' that would be written' if dry else ''}: {events}")
    for name, reason in summary.get("incomplete", {}).items():
        out.print(f"[yellow]incomplete[/yellow] {name}: {escape(reason)}")
    for warning in summary.get("warnings", []):
        out.print(f"[yellow]warning[/yellow]: {escape(warning)}")
    if summary.get("error"):
        out.print(f"[red]{summary['status']}[/red]: {escape(summary['error'])}")
