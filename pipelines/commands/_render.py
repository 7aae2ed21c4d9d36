"""Shared rendering for the operator commands (`runs`, `queue`): times, durations, JSON."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any


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
