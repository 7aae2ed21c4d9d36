"""Shared by the operator commands (`runs`, `queue`): their listing options; times, durations, JSON."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any


def add_listing(sub: Any, name: str, help_text: str, *, limit: int, limit_help: str, json_help: str,
                run: Callable[..., int], actions: str) -> Any:
    """Register a command that lists (``--limit N``, ``--json``) with ``run``; returns the subparsers for its
    ``actions`` (their names, as --help shows them) on one item of the list."""
    parser = sub.add_parser(name, help=help_text)
    parser.add_argument("--limit", type=int, default=limit, metavar="N", help=limit_help)
    parser.add_argument("--json", action="store_true", help=json_help)
    parser.set_defaults(run=run)
    return parser.add_subparsers(dest=f"{name}_command", metavar=actions)


def when(value: datetime | None) -> str:
    """A timestamp as UTC to the second ('' for None)."""
    return value.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S") if value else ""


def duration(seconds: float | None) -> str:
    """12.3 s, 4 min 05 s, 2 h 03 min."""
    if seconds is None:
        return ""
    if seconds < 60:
        return f"{seconds:.1f} s"
    minutes, secs = divmod(round(seconds), 60)
    if minutes < 60:
        return f"{minutes} min {secs:02d} s"
    return f"{minutes // 60} h {minutes % 60:02d} min"


def print_json(data: Any) -> None:
    """Machine-readable output: JSON with ISO timestamps, one document on stdout."""
    print(json.dumps(data, default=lambda v: v.isoformat() if isinstance(v, datetime) else str(v), indent=2))
