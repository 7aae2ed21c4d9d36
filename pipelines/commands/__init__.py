"""One module per ``ss-igi`` command: ``add_parser(subparsers)`` registers it, ``run(args) -> int`` runs it."""
