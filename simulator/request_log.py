"""The server's record of what it was asked: method, path, query, status, and the body's shape.

Tests read it to check which calls a client made; the body is recorded as field paths and JSON
types only (`binding.body_shape`), never values, since passwords travel in bodies.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from simulator.records import PREFIX


@dataclass(frozen=True)
class LoggedRequest:
    """One served request. `status` is 0 for a connection dropped by fault injection."""

    method: str
    path: str
    query: dict[str, list[str]]
    status: int
    duration_ms: float = 0.0
    at: float = field(default=0.0, compare=False)
    # Field paths and JSON types of the body, never its values: {"data.password": "string"}.
    body_shape: dict[str, str] | None = field(default=None, compare=False)

    def __getitem__(self, name: str) -> Any:  # records read as dicts too: r["path"]
        return getattr(self, name)


class RequestLog:
    """A thread-safe list of `LoggedRequest`s."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._items: list[LoggedRequest] = []

    def append(self, item: LoggedRequest) -> None:
        """Record one served request."""
        with self._lock:
            self._items.append(item)

    def __len__(self) -> int:
        with self._lock:
            return len(self._items)

    def __iter__(self) -> Iterator[LoggedRequest]:
        with self._lock:
            return iter(list(self._items))

    def __getitem__(self, index: int) -> LoggedRequest:
        with self._lock:
            return self._items[index]

    def calls(self, method: str | None = None, path_prefix: str | None = None) -> list[LoggedRequest]:
        """Requests by method and path prefix (case-insensitive); the prefix may omit /SecretServer."""
        prefix = path_prefix.lower() if path_prefix else None
        with self._lock:
            items = list(self._items)
        out = []
        for item in items:
            if method and item.method.upper() != method.upper():
                continue
            if prefix:
                path = item.path.lower()
                if not (path.startswith(prefix) or path.startswith(PREFIX.lower() + prefix)):
                    continue
            out.append(item)
        return out

    def clear(self) -> None:
        """Forget every recorded request."""
        with self._lock:
            self._items.clear()
