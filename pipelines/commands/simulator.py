"""`ss-igi simulator`: run the Secret Server simulator in the foreground (options: see simulator/cli.py)."""

from __future__ import annotations

import argparse
from typing import Any

from pipelines.settings import Settings


def add_parser(sub: Any) -> None:
    """Register ``ss-igi simulator`` with the simulator's own options."""
    from simulator import cli

    parser = sub.add_parser("simulator", help="run a simulated Secret Server on loopback (login admin/admin)",
                            description=cli.DESCRIPTION)
    cli.add_arguments(parser)
    parser.set_defaults(run=run)


def run(args: argparse.Namespace, settings: Settings) -> int:
    """Run the simulator until interrupted (it takes no ss-igi setting)."""
    from simulator import cli

    return cli.run(args)
