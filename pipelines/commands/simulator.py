"""`ss-igi simulator`: run the Secret Server simulator in the foreground (options: see simulator/cli.py)."""

from __future__ import annotations

from typing import Any


def add_parser(sub: Any) -> None:
    from simulator import cli

    parser = sub.add_parser("simulator", help="run a simulated Secret Server on loopback (login admin/admin)",
                            description=cli.DESCRIPTION)
    cli.add_arguments(parser)
    parser.set_defaults(run=cli.run)
