"""`ClientStats`: what one client did (requests, retries, logins, pages, ...), counted for the benchmark, the
progress display and tests. Its own module, since the transport, the token manager and paging all count."""

from __future__ import annotations

import threading
from dataclasses import dataclass, field, fields


@dataclass
class ClientStats:
    """Counters for one client (read by the benchmark and by tests). Increments are thread-safe."""

    requests: int = 0  # HTTP requests sent (API and token endpoint), including retries
    retries: int = 0  # requests re-sent after a transient failure
    logins: int = 0  # password grants
    refreshes: int = 0  # refresh-token grants that succeeded
    auth_rejections: int = 0  # 401/403 answers to API calls
    non_json: int = 0  # 200s whose body was not JSON
    pages: int = 0  # search pages fetched
    page_recoveries: int = 0  # re-reads after a shifted page was detected
    total_changes: int = 0  # pages whose `total` differed from the previous page's
    throttled: int = 0  # 429 and 503 answers (the server asking us to slow down)
    retry_wait_ms: int = 0  # time spent waiting before retries (backoff and Retry-After)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False, compare=False)

    def add(self, name: str, n: int = 1) -> None:
        """Add ``n`` to the counter ``name``."""
        with self._lock:
            setattr(self, name, getattr(self, name) + n)

    def as_dict(self) -> dict[str, int]:
        """Every counter by name."""
        return {f.name: getattr(self, f.name) for f in fields(self) if not f.name.startswith("_")}
