"""`ss-igi simulator`: run the Secret Server simulator in the foreground (options: see simulator/cli.py)."""

from __future__ import annotations

import argparse
from typing import Any


def add_parser(sub: Any) -> None:
    parser = sub.add_parser(
        "simulator",
        help="run a simulated Secret Server on loopback (login admin/admin)",
        add_help=False,
    )
    parser.add_argument("simulator_args", nargs=argparse.REMAINDER)
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from simulator.cli import main

    return main(args.simulator_args)
