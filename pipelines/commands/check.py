"""`ss-igi check`: test the connections to each configured Secret Server instance (or the one --instance names)
and to the IGI database; one row each (an instance's with its name, IGI target and URL); non-zero exit if any
fails, with the failures in one line on stderr."""

from __future__ import annotations

import argparse
import sys
from typing import Any

from rich.console import Console
from rich.markup import escape
from rich.table import Table

from pipelines.check import CheckResult, check_database, check_secret_server
from pipelines.instances import DEFAULT_INSTANCE, configured_instances, instance_named
from pipelines.settings import Settings


def add_parser(sub: Any) -> None:
    """Register ``ss-igi check``."""
    parser = sub.add_parser("check", help="test the connections to Secret Server and the IGI database")
    parser.add_argument("--instance", metavar="NAME",
                        help="test only this Secret Server instance (default: each configured one)")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace, settings: Settings) -> int:
    """Check each instance, then the database; print a table, and the failures on stderr."""
    configured = configured_instances(settings)
    chosen = [instance_named(settings, args.instance)] if args.instance else configured
    checked = [(instance, check_secret_server(instance.settings)) for instance in chosen]
    database = check_database(settings)

    table = Table(title="ss-igi check")
    table.add_column("System", no_wrap=True)
    table.add_column("Verdict", no_wrap=True)
    table.add_column("Detail", overflow="fold")
    for instance, result in checked:  # a success's detail starts with the URL; a failure's gets it
        url = instance.settings.secret_server_url
        detail = result.detail if result.ok or not url else f"{url}: {result.detail}"
        table.add_row(f"Secret Server {escape(instance.name)}\ntarget {escape(instance.target)}", _verdict(result),
                      escape(detail))
    table.add_row(database.system, _verdict(database), escape(database.detail))
    Console().print(table)

    # The reasons, in one line; a single default instance is "Secret Server", as before instances.
    single = len(configured) == 1 and configured[0].name == DEFAULT_INSTANCE
    failed = [(r.system if single else f"Secret Server {i.name} ({i.settings.secret_server_url or 'no URL'})", r)
              for i, r in checked if not r.ok]
    if not database.ok:
        failed.append((database.system, database))
    if failed:
        print("ss-igi check: " + "; ".join(f"{label}: {r.detail}" for label, r in failed), file=sys.stderr)
        return 1
    return 0


def _verdict(result: CheckResult) -> str:
    return "[green]OK[/green]" if result.ok else "[red]FAILED[/red]"
