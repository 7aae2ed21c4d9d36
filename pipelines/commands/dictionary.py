"""`ss-igi dictionary`: write docs/data-dictionary.md from the comments of the (migrated) IGI database."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from pipelines.database import open_database
from pipelines.dictionary import DEFAULT_PATH, generate_dictionary, write_dictionary
from pipelines.settings import Settings


def add_parser(sub: Any) -> None:
    """Register ``ss-igi dictionary``."""
    parser = sub.add_parser(
        "dictionary", help="write the data dictionary (docs/data-dictionary.md) from the database's comments"
    )
    parser.add_argument("--output", type=Path, default=DEFAULT_PATH, help=f"file to write (default {DEFAULT_PATH})")
    parser.add_argument(
        "--check", action="store_true", help="write nothing; exit 1 when the file is not up to date"
    )
    parser.set_defaults(run=run)


def run(args: argparse.Namespace, settings: Settings) -> int:
    """Write the data dictionary, or with --check say whether it is current."""
    engine = open_database(settings)  # migrated first: the dictionary describes the current sql/
    try:
        if args.check:
            current = args.output.read_text(encoding="utf-8") if args.output.exists() else ""
            if current != generate_dictionary(engine):
                print(f"ss-igi dictionary: {args.output} is out of date; run ss-igi dictionary", file=sys.stderr)
                return 1
            print(f"{args.output} is up to date")
            return 0
        changed = write_dictionary(engine, args.output)
    finally:
        engine.dispose()
    print(f"{'wrote' if changed else 'unchanged:'} {args.output}")
    return 0
