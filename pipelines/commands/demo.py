"""`ss-igi demo`: the whole job on embedded defaults, with no configuration (see pipelines/demo.py)."""

from __future__ import annotations

import argparse
from typing import Any

from pipelines.settings import Settings


def add_parser(sub: Any) -> None:
    """Register ``ss-igi demo``."""
    parser = sub.add_parser(
        "demo", help="run the demo: simulator, embedded database, reconcile, provision, reconcile again"
    )
    parser.add_argument("--scale", choices=["s", "m", "l"], default="m",
                        help="size of the simulated organization (default m: 5,000 users)")
    parser.add_argument("--seed", type=int, default=42, help="seed of the generated organization")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace, settings: Settings) -> int:
    """Run the demo."""
    from pipelines.demo import run_demo

    run_demo(settings, scale=args.scale, seed=args.seed)
    return 0
