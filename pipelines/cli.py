"""The ``ss-igi`` command line. Each command lives in ``pipelines/commands/<name>.py`` with ``add_parser``
and ``run``; this module only assembles them and turns failures into a one-line reason and exit status 1."""

from __future__ import annotations

import argparse
import importlib
import logging
import os
import sys
from collections.abc import Sequence

from pipelines.logs import install_redaction
from pipelines.settings import Settings

COMMANDS = ["demo", "reconcile", "provision", "request", "runs", "queue", "check", "db", "simulator", "serve",
            "dictionary"]

# Flags that override a setting's environment variable. No password has one: a command line is visible to
# other users in the process list.
SETTING_FLAGS = {
    "--secret-server-url": "SECRET_SERVER_URL",
    "--secret-server-username": "SECRET_SERVER_USERNAME",
    "--secret-server-domain": "SECRET_SERVER_DOMAIN",
    "--database-url": "IGI_DATABASE_URL",
    "--home": "SS_IGI_HOME",
}


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="ss-igi",
        description="Delinea Secret Server <-> IBM IGI: reconcile, provision, operate.",
    )
    parser.add_argument("-v", "--verbose", action="store_true", help="log debug detail (never secrets)")
    for flag, variable in SETTING_FLAGS.items():
        parser.add_argument(flag, metavar="VALUE", dest=variable, help=f"overrides {variable}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for name in COMMANDS:
        module = importlib.import_module(f"pipelines.commands.{name}")
        module.add_parser(sub)
    return parser


def _prefect_defaults() -> None:
    """Prefect keeps its state under SS_IGI_HOME unless told otherwise, and never phones home. Must run before
    prefect is imported: it reads these at import."""
    home = Settings().ss_igi_home
    os.environ.setdefault("PREFECT_HOME", str(home / "prefect"))
    os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
    # The CLI prints its own summaries; Prefect's per-task INFO lines would drown them.
    os.environ.setdefault("PREFECT_LOGGING_LEVEL", "WARNING")


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    for variable in SETTING_FLAGS.values():
        if getattr(args, variable) is not None:
            os.environ[variable] = getattr(args, variable)  # Settings(), in commands and flows, reads these
    _prefect_defaults()
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.WARNING,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    install_redaction()
    try:
        return int(args.run(args) or 0)
    except KeyboardInterrupt:
        print("ss-igi: interrupted", file=sys.stderr)
        return 130
    except Exception as exc:  # the CLI's contract: one line on stderr, non-zero exit
        from pipelines.failures import explain

        if args.verbose:
            logging.getLogger("ss_igi").exception("command failed")
        print(f"ss-igi {args.command}: {explain(exc)}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
