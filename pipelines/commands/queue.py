"""`ss-igi queue`: the provisioning queue (igi.event_out). ``ss-igi queue`` shows the counts per state and the
pending and failed requests (target, operation, account, attempts, next attempt, trace), or with ``--instance NAME``
only those of that Secret Server instance (its IGI target; NULL too for the default one); ``ss-igi queue retry ID...``
puts failed requests back (state 3 -> 1) or makes waiting ones due now; ``ss-igi queue cancel ID...`` ends
pending ones (state 1 -> 3, erc_status Cancelled). Both are recorded at the head of the request's trace, and
refused for a request that succeeded or that a worker holds right now (connectors/igi/queue.py)."""

from __future__ import annotations

import argparse
import getpass
import socket
import sys
from datetime import UTC, datetime
from typing import Any

from rich.console import Console
from rich.markup import escape
from rich.table import Table

from pipelines.commands._render import add_listing, print_json, when
from pipelines.settings import Settings

STATE_NAMES = {1: "pending", 2: "success", 3: "error"}


def add_parser(sub: Any) -> None:
    """Register ``ss-igi queue`` with retry and cancel."""
    queue_sub = add_listing(sub, "queue", "the provisioning queue: counts, pending and failed requests; retry, "
                            "cancel", limit=50, limit_help="requests listed (default 50)",
                            json_help="print JSON instead of tables", run=run_show, actions="{retry,cancel}")
    sub.choices["queue"].add_argument("--instance", metavar="NAME",
                                      help="only the requests of this Secret Server instance")
    retry = queue_sub.add_parser("retry", help="put failed requests back in the queue, or make waiting ones due now")
    retry.add_argument("event_ids", type=int, nargs="+", metavar="ID")
    retry.set_defaults(run=run_retry)
    cancel = queue_sub.add_parser("cancel", help="end pending requests in state 3 (erc_status Cancelled)")
    cancel.add_argument("event_ids", type=int, nargs="+", metavar="ID")
    cancel.set_defaults(run=run_cancel)


def run_show(args: argparse.Namespace, settings: Settings) -> int:
    """List the counts per state and the pending and failed requests."""
    from connectors.igi.queue import list_requests, queue_counts
    from pipelines.database import open_current_database
    from pipelines.instances import configured_instances, instance_named
    from pipelines.routing import target_scope

    scope = None
    if args.instance is not None:
        configured = [(i.name, i.target) for i in configured_instances(settings)]
        scope = target_scope(configured, [instance_named(settings, args.instance).target])
    engine = open_current_database(settings)
    try:
        counts = queue_counts(engine, scope)
        requests = list_requests(engine, limit=args.limit, scope=scope)
    finally:
        engine.dispose()
    if args.json:
        print_json({"counts": counts, "requests": [_shown(r) for r in requests]})
    else:
        print_queue(counts, requests)
    return 0


def _shown(row: dict[str, Any]) -> dict[str, Any]:
    from connectors.igi.request_models import Operation

    try:
        operation = Operation(row["operation"]).name
    except ValueError:
        operation = str(row["operation"])
    return {**row, "operation": operation, "state": STATE_NAMES.get(row["state"], str(row["state"]))}


def _next_attempt(row: dict[str, Any]) -> str:
    if row["state"] != 1:
        return ""
    if row["claimed"]:
        return f"running ({row['claimed_by']})"
    return "due now" if row["due"] else when(row["next_attempt_at"])


def print_queue(counts: dict[str, int], requests: list[dict[str, Any]], console: Console | None = None) -> None:
    """Counts per state, then the pending and failed requests."""
    out = console or Console()
    summary = Table(title="ss-igi queue")
    for name in ("Due", "Waiting", "Running", "Succeeded", "Failed"):
        summary.add_column(name, justify="right")
    summary.add_row(*(str(counts[k]) for k in ("due", "waiting", "claimed", "succeeded", "failed")))
    out.print(summary)
    if not requests:
        out.print("no pending or failed request")
        return
    table = Table(title="Pending and failed requests")
    for name, justify in (("ID", "right"), ("Target", "left"), ("Operation", "left"), ("Account", "left"),
                          ("State", "left"), ("ERC status", "left"), ("Attempts", "right"),
                          ("Next attempt (UTC)", "left")):
        table.add_column(name, justify=justify, no_wrap=name != "Next attempt (UTC)")  # type: ignore[arg-type]
    table.add_column("Trace", overflow="fold", ratio=1)  # the rest of the width
    for row in requests:
        shown = _shown(row)
        table.add_row(str(row["event_id"]), escape(row["target"] or "(default)"), shown["operation"],
                      escape(row["code"]), shown["state"],
                      escape(row["erc_status"] or ""), str(row["attempts"]), _next_attempt(row),
                      escape(row["trace"] or ""))
    out.print(table)


def _note(action: str) -> str:
    """Who did what, when: the head of the trace."""
    try:
        user = getpass.getuser()
    except Exception:  # no user name in this environment
        user = "unknown user"
    stamp = datetime.now(UTC).strftime("%Y-%m-%d %H:%M:%SZ")
    return f"{stamp} {action} by {user}@{socket.gethostname()} (ss-igi queue)"


def _act(args: argparse.Namespace, settings: Settings, action: str, done: str) -> int:
    from connectors.igi import queue
    from pipelines.database import open_current_database

    act = queue.retry_requests if action == "retry" else queue.cancel_requests
    engine = open_current_database(settings)
    try:
        results = act(engine, args.event_ids, _note(done))
    finally:
        engine.dispose()
    for event_id, refusal in results:
        print(f"request {event_id}: {done}" if refusal is None else f"request {event_id}: refused, {refusal}")
    refused = [event_id for event_id, refusal in results if refusal is not None]
    if refused:
        print(f"ss-igi queue {action}: {len(refused)} of {len(results)} refused "
              f"({', '.join(map(str, refused))}); see above", file=sys.stderr)
        return 1
    return 0


def run_retry(args: argparse.Namespace, settings: Settings) -> int:
    """Put the given requests back in the queue (or make waiting ones due now)."""
    return _act(args, settings, "retry", "retried")


def run_cancel(args: argparse.Namespace, settings: Settings) -> int:
    """End the given pending requests."""
    return _act(args, settings, "cancel", "cancelled")
