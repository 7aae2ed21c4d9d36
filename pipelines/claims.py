"""A provisioning worker's claims, kept alive by a heartbeat while it works, and fenced by what it surely holds.

A claim is a lease on a request: ``claimed_until`` in igi.event_out. Without renewal a slow Secret Server call
could outlive it, another worker could take the request over, and both would write. So `HeldClaims` renews the
leases of every request the worker still holds, several times per lease, from a background thread; and it
knows, from its own clock, until when each lease is surely held: the monotonic time just before the statement
that last set it, plus the lease. `seconds_left` is that time minus a safety margin; the connector sends no
request once it is spent (`SecretServerClient.within`), and a request the heartbeat finds taken is lost at once.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Iterable
from types import TracebackType

from sqlalchemy.engine import Engine

from connectors.igi import queue

log = logging.getLogger("ss_igi.provision")

RENEWALS_PER_LEASE = 4


class HeldClaims:
    """The requests one worker holds, with the time each is surely held; a context manager runs the heartbeat."""

    def __init__(self, engine: Engine, worker_id: str, lease_seconds: float) -> None:
        self.engine = engine
        self.worker_id = worker_id
        self.lease_seconds = float(lease_seconds)
        # Keep this much of a lease unused: a request sent now must reach Secret Server while the claim holds.
        self.margin = self.lease_seconds * 0.2
        self._until: dict[int, float] = {}  # event_id -> monotonic time until which the claim surely holds
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    # ------------------------------------------------------------------ what the worker asks
    def hold(self, event_ids: Iterable[int], claimed_at: float) -> None:
        """Requests just claimed by a statement sent at monotonic time ``claimed_at``."""
        with self._lock:
            for event_id in event_ids:
                self._until[event_id] = claimed_at + self.lease_seconds

    def drop(self, event_id: int) -> None:
        """The request is final, released or lost: no longer renewed."""
        with self._lock:
            self._until.pop(event_id, None)

    def begin(self, event_id: int) -> int | None:
        """Start an attempt (counted, lease renewed); its attempts so far, or None when the claim is lost."""
        sent = time.monotonic()
        attempts = queue.begin_attempt(self.engine, event_id, self.worker_id, self.lease_seconds)
        with self._lock:
            if attempts is None:
                self._until.pop(event_id, None)
            elif event_id in self._until:
                self._until[event_id] = sent + self.lease_seconds
        return attempts

    def seconds_left(self, event_id: int) -> float:
        """Seconds this worker may still act for the request (0 or less: stop, the claim may be gone)."""
        with self._lock:
            until = self._until.get(event_id)
        return -1.0 if until is None else until - self.margin - time.monotonic()

    # ------------------------------------------------------------------ the heartbeat
    def renew(self) -> None:
        """One heartbeat: extend every held lease; a request whose lease was not ours any more is lost."""
        with self._lock:
            ids = list(self._until)
        if not ids:
            return
        sent = time.monotonic()
        renewed, locked = queue.renew_claims(self.engine, self.worker_id, ids, self.lease_seconds)
        with self._lock:
            for event_id in ids:
                if event_id not in self._until or event_id in locked:
                    continue  # finished meanwhile, or being written back: its lease stays as it was
                if event_id in renewed:
                    self._until[event_id] = sent + self.lease_seconds
                else:
                    log.warning("request %s: claim lost (lease ran out); this worker stops acting for it", event_id)
                    del self._until[event_id]

    def _beat(self) -> None:
        interval = self.lease_seconds / RENEWALS_PER_LEASE
        while not self._stop.wait(interval):
            try:
                self.renew()
            except Exception as exc:  # the database may be back at the next beat; until then leases run down
                log.warning("claim heartbeat failed (%s); leases run down until it works again", type(exc).__name__)

    def __enter__(self) -> HeldClaims:
        self._stop.clear()
        self._thread = threading.Thread(target=self._beat, name=f"heartbeat-{self.worker_id}", daemon=True)
        self._thread.start()
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
