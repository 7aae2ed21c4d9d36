"""The ``ss-igi`` command line. Each command lives in ``pipelines/commands/<name>.py`` with ``add_parser``
and ``run(args, settings)``; this module assembles them, reads the settings once (the global flags override the
environment) and turns failures into a one-line reason and exit status 1."""

from __future__ import annotations

import argparse
import contextlib
import importlib
import io
import logging
import os
import sys
from collections.abc import Iterator, Sequence
from typing import Any

from pipelines.logs import install_redaction
from pipelines.settings import Settings, instance_variable

COMMANDS = ["demo", "reconcile", "provision", "request", "runs", "queue", "check", "db", "simulator", "serve",
            "dictionary"]

# Flags that override a setting (the `Settings` field; its environment variable is the name in capitals). No
# password has one: a command line is visible to other users in the process list.
SETTING_FLAGS = {
    "--secret-server-url": "secret_server_url",
    "--secret-server-username": "secret_server_username",
    "--secret-server-domain": "secret_server_domain",
    "--database-url": "igi_database_url",
    "--home": "ss_igi_home",
}


class Parser(argparse.ArgumentParser):
    """An argparse parser that takes no abbreviated options: with them, `request ... --secret 42` was read as an
    ambiguous prefix of the global --secret-server-* flags. Subcommands' parsers are of this class too."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **{**kwargs, "allow_abbrev": False})


def _global_flags(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("-v", "--verbose", action="store_true", help="log debug detail (never secrets)")
    for flag, name in SETTING_FLAGS.items():
        parser.add_argument(flag, metavar="VALUE", dest=name, help=f"overrides {name.upper()}")


def build_parser(commands: Sequence[str] = COMMANDS) -> argparse.ArgumentParser:
    """The parser of ``ss-igi``: global flags, then one subcommand of ``commands`` (default all)."""
    parser = Parser(prog="ss-igi", description="Delinea Secret Server <-> IBM IGI: reconcile, provision, operate.")
    _global_flags(parser)
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for name in commands:
        module = importlib.import_module(f"pipelines.commands.{name}")
        module.add_parser(sub)
    return parser


def _command_named(argv: Sequence[str] | None) -> list[str]:
    """The command ``argv`` names, as a list of one, else all of them: a command's parser imports what the
    command needs, and the start-up of a command should not pay for the others' (the simulator's, say)."""
    first = Parser(prog="ss-igi", add_help=False)
    _global_flags(first)
    first.add_argument("command", nargs="?")
    with contextlib.redirect_stderr(io.StringIO()):  # a mistake here is the full parser's to report
        try:
            named = first.parse_known_args(argv)[0].command
        except SystemExit:
            named = None
    return [named] if named in COMMANDS else COMMANDS


def settings_from(args: argparse.Namespace) -> Settings:
    """The settings of this command: the environment, overridden by the global flags given. The --secret-server-*
    flags set the default instance's settings only: with ``--instance`` naming another one they are refused,
    rather than let a run against that instance ignore them."""
    given = {name: getattr(args, name) for name in SETTING_FLAGS.values() if getattr(args, name) is not None}
    instance = getattr(args, "instance", None)
    if instance is not None:
        from pipelines.instances import DEFAULT_INSTANCE
        from pipelines.secret_server import ConfigurationError

        flags = [flag for flag, name in SETTING_FLAGS.items() if name in given and name.startswith("secret_server_")]
        name = instance.strip().lower()
        if flags and name != DEFAULT_INSTANCE:
            raise ConfigurationError(f"{', '.join(flags)} set the default instance only; for instance {name} "
                                     f"set {instance_variable(name, 'SECRET_SERVER_*')} in the environment")
    return Settings(**given)


def _prefect_defaults(settings: Settings) -> None:
    """Prefect keeps its state under SS_IGI_HOME unless told otherwise, and never phones home. Must run before
    prefect is imported: it reads these (its own settings) from the environment at import."""
    if "PREFECT_HOME" not in os.environ:
        prefect_home = settings.ss_igi_home / "prefect"
        prefect_home.mkdir(parents=True, exist_ok=True)  # Prefect creates only the last level, else fails
        os.environ["PREFECT_HOME"] = str(prefect_home)
    os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
    # A first start of Prefect's temporary server creates its database: about 30 s on a 2-core machine, past
    # Prefect's default wait of 20 s (the demo on a fresh machine failed there).
    os.environ.setdefault("PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS", "120")
    # The CLI prints its own summaries; Prefect's per-task INFO lines would drown them.
    os.environ.setdefault("PREFECT_LOGGING_LEVEL", "WARNING")


# Loggers of Prefect's flow and task runs: their records still go to Prefect's API (the handler on the logger
# itself), but not to the terminal, where a failed run would print its traceback twice over the CLI's own line.
RUN_LOGGERS = ("prefect.flow_runs", "prefect.task_runs")


@contextlib.contextmanager
def _runs_logged_to_prefect_only(verbose: bool) -> Iterator[None]:
    """The command prints each run's outcome itself (a table; one line on failure). With -v, everything shows.
    Prefect's logging set-up leaves ``propagate`` alone, so this holds whenever prefect is imported."""
    if verbose:
        yield
        return
    # At exit Prefect's events worker notes "Still processing items" while it delivers the last events: progress,
    # not a problem (they are delivered). It logs under the worker's class name.
    logging.getLogger("EventsWorker").setLevel(logging.ERROR)
    saved = {name: logging.getLogger(name).propagate for name in RUN_LOGGERS}
    for name in RUN_LOGGERS:
        logging.getLogger(name).propagate = False
    try:
        yield
    finally:
        for name, propagate in saved.items():
            logging.getLogger(name).propagate = propagate


def main(argv: Sequence[str] | None = None) -> int:
    """Run ``ss-igi`` with ``argv`` (default: the process's arguments); returns the exit status."""
    args = build_parser(_command_named(argv)).parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.WARNING,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    install_redaction()
    try:
        settings = settings_from(args)
        _prefect_defaults(settings)
        with _runs_logged_to_prefect_only(args.verbose):
            return int(args.run(args, settings) or 0)
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
