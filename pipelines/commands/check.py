"""`ss-igi check`: test the connections to each configured Secret Server instance (or the one --instance names)
and to the IGI database; one row each (an instance's with its name, IGI target and URL); non-zero exit if any
fails, with the failures in one line on stderr."""

from __future__ import annotations

import argparse
import dataclasses
import sys
from typing import Any

from rich.console import Console
from rich.markup import escape
from rich.table import Table

from pipelines.check import CheckResult, check_database, check_secret_server
from pipelines.instances import DEFAULT_INSTANCE, Instance, configured_instances, instance_named
from pipelines.settings import Settings


def add_parser(sub: Any) -> None:
    """Register ``ss-igi check``."""
    parser = sub.add_parser("check", help="test the connections to Secret Server and the IGI database")
    parser.add_argument("--instance", metavar="NAME",
                        help="test only this Secret Server instance (default: each configured one)")
    parser.set_defaults(run=run)


def _check_instance(instance: Instance, labelled: bool) -> tuple[CheckResult, Instance]:
    result = check_secret_server(instance.settings)
    if labelled:  # several instances: each failure line names its instance and where it was looked for
        where = instance.settings.secret_server_url or "no URL"
        result = dataclasses.replace(result, system=f"Secret Server {instance.name} ({where})")
    return result, instance


def run(args: argparse.Namespace, settings: Settings) -> int:
    """Check each instance, then the database; print a table, and the failures on stderr."""
    configured = configured_instances(settings)
    chosen = [instance_named(settings, args.instance)] if args.instance else configured
    labelled = len(configured) > 1 or configured[0].name != DEFAULT_INSTANCE
    checked = [_check_instance(instance, labelled) for instance in chosen]
    database = check_database(settings)

    table = Table(title="ss-igi check")
    for column in ("System", "Instance", "IGI target", "Verdict"):
        table.add_column(column, no_wrap=True)
    table.add_column("Detail", overflow="fold")
    for result, instance in checked:
        detail = result.detail if result.ok or not instance.settings.secret_server_url \
            else f"{instance.settings.secret_server_url}: {result.detail}"
        table.add_row("Secret Server", instance.name, instance.target, _verdict(result), escape(detail))
    table.add_row(database.system, "", "", _verdict(database), escape(database.detail))
    Console().print(table)
    failed = [r for r, _ in checked if not r.ok] + ([] if database.ok else [database])
    if failed:
        print("ss-igi check: " + "; ".join(f"{r.system}: {r.detail}" for r in failed), file=sys.stderr)
        return 1
    return 0


def _verdict(result: CheckResult) -> str:
    return "[green]OK[/green]" if result.ok else "[red]FAILED[/red]"
