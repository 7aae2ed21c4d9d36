"""Commands announced in --help before they exist: they say so and exit non-zero."""

from __future__ import annotations

import argparse
import sys
from typing import Any


def add_unbuilt(sub: Any, name: str, help_text: str) -> argparse.ArgumentParser:
    parser: argparse.ArgumentParser = sub.add_parser(name, help=f"{help_text} (not built yet)")

    def run(args: argparse.Namespace) -> int:
        print(f"ss-igi {name}: not built yet", file=sys.stderr)
        return 2

    parser.set_defaults(run=run)
    return parser
