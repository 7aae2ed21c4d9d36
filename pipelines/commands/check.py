"""`ss-igi check`: test the connections to Secret Server and the IGI database; non-zero exit if either fails."""

from __future__ import annotations

import argparse
import sys
from typing import Any

from rich.console import Console
from rich.table import Table

from pipelines.check import run_checks
from pipelines.settings import Settings


def add_parser(sub: Any) -> None:
    """Register ``ss-igi check``."""
    parser = sub.add_parser("check", help="test the connections to Secret Server and the IGI database")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace, settings: Settings) -> int:
    """Check both connections; print a table, and the failures on stderr."""
    results = run_checks(settings)
    table = Table(title="ss-igi check")
    table.add_column("System")
    table.add_column("Verdict")
    table.add_column("Detail", overflow="fold")
    for result in results:
        table.add_row(result.system, "[green]OK[/green]" if result.ok else "[red]FAILED[/red]", result.detail)
    Console().print(table)
    failed = [r for r in results if not r.ok]
    if failed:
        print("ss-igi check: " + "; ".join(f"{r.system}: {r.detail}" for r in failed), file=sys.stderr)
        return 1
    return 0
