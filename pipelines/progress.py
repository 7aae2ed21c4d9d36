"""Progress of a reconcile or provision run, for a terminal (rich) and for the Prefect UI (a progress artifact).

The work is told of an observer object and reports to it; nothing here is global. `ExtractProgress` follows a
reconciliation: `run_reconcile` gives it the client's counters (`ClientStats`) and hangs it on the client as
its page observer, `extract_all` says when each entity starts (with how many searches: one, or one per parent
of a fan-out) and ends. Requests expected grow as first pages tell their ``total``. Entities are extracted side
by side, so a page is counted for the entity its thread is `reading` (a per-thread mark set by the extraction),
and retries and throttling, which the client counts as a whole, go to the entity that reports next.
`ProvisionProgress` counts request outcomes against the requests that were due when the run started. Each one
feeds its views:
`TerminalView` (a rich live display on a console, stderr by default) and `PrefectProgressView` (updates the
flow run's progress artifact, at most once a second).
"""

from __future__ import annotations

import logging
import math
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, Protocol

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TaskID,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)

from connectors.secret_server.stats import ClientStats

log = logging.getLogger(__name__)


@dataclass
class Line:
    """One line of progress: an entity of a reconcile, or the requests of a provision run."""

    name: str
    expected: int  # requests (pages) expected so far; grows as first pages tell their totals
    done: int = 0
    rows: int = 0
    retries: int = 0
    throttled: int = 0
    failed: int = 0
    finished: bool = False
    note: str = ""


class View(Protocol):
    """A display of progress lines."""

    def update(self, lines: list[Line], final: bool = False) -> None:
        """Show ``lines`` (``final``: the last time)."""
        ...

    def close(self) -> None:
        """Stop displaying."""
        ...


class _Observed:
    """Lines behind a lock, and the views told after each change."""

    def __init__(self, views: Sequence[View] | None = None) -> None:
        self.lines: dict[str, Line] = {}
        self.views: list[View] = list(views or [])
        self._lock = threading.Lock()
        self._views_lock = threading.Lock()  # views are told one change at a time, in order, from any thread

    def add_view(self, view: View) -> None:
        """Also show the progress in ``view``."""
        self.views.append(view)

    def _changed(self, final: bool = False) -> None:
        if not self.views:
            return
        with self._views_lock:
            with self._lock:
                snapshot = [Line(**{k: getattr(line, k) for k in ("name", "expected", "done", "rows", "retries",
                                                                   "throttled", "failed", "finished", "note")})
                            for line in self.lines.values()]
            for view in self.views:
                try:
                    view.update(snapshot, final)
                except Exception as exc:  # a display never fails the run it shows
                    log.debug("progress view %s failed: %s", type(view).__name__, exc)

    def close(self) -> None:
        """The run is over: last update, displays stopped."""
        self._changed(final=True)
        for view in self.views:
            view.close()


_reading = threading.local()


@contextmanager
def reading(entity: str) -> Iterator[None]:
    """Pages this thread reads meanwhile belong to ``entity`` (entities are extracted side by side)."""
    previous = getattr(_reading, "entity", None)
    _reading.entity = entity
    try:
        yield
    finally:
        _reading.entity = previous


class ExtractProgress(_Observed):
    """Observer of a reconciliation's extraction (see module doc)."""

    def __init__(self, views: Sequence[View] | None = None) -> None:
        super().__init__(views)
        self._stats: Callable[[], dict[str, int]] = dict
        self._seen: dict[str, int] = {}  # the client's counters when last given to a line
        self._order: list[str] = []
        self._current: Line | None = None  # the entity last started: pages read outside `reading` count there

    def attach(self, stats: ClientStats) -> None:
        """Read retries and throttling from the client's counters."""
        self._stats = stats.as_dict
        self._seen = stats.as_dict()

    def planned(self, entities: Sequence[str]) -> None:
        """The entities about to be extracted, in the order their lines are shown (they may start in any order)."""
        with self._lock:
            self._order = list(entities)

    def entity_started(self, entity: str, searches: int) -> None:
        """An entity's extraction begins: ``searches`` paged searches (one, or one per parent of a fan-out)."""
        with self._lock:
            if not any(not line.finished for line in self.lines.values()):
                self._seen = self._stats()  # nothing was running: what the client counted since belongs to no one
            line = Line(entity, expected=searches)
            self.lines[entity] = line
            rank = {name: i for i, name in enumerate(self._order)}
            self.lines = dict(sorted(self.lines.items(), key=lambda item: rank.get(item[0], len(rank))))
            self._current = line
        self._changed()

    def page_read(self, skip: int, total: int | None, records: int) -> None:
        """A page was read (from any thread): one request done, ``records`` rows more."""
        with self._lock:
            line = self.lines.get(getattr(_reading, "entity", None) or "") or self._current
            if line is None or line.finished:
                return
            line.done += 1
            line.rows += records
            if skip == 0 and total is not None and total > records > 1:
                line.expected += math.ceil((total - records) / (records - 1))  # pages overlap by one record
            line.expected = max(line.expected, line.done)
            self._count_retries(line)
        self._changed()

    def entity_finished(self, entity: str, rows: int, complete: bool) -> None:
        """The entity's extraction ended; ``rows`` scanned, ``complete`` or cut short."""
        with self._lock:
            line = self.lines[entity]
            line.rows, line.finished, line.expected = rows, True, line.done
            line.note = "" if complete else "incomplete"
            self._count_retries(line)
            if self._current is line:
                self._current = None
        self._changed()

    def _count_retries(self, line: Line) -> None:
        now = self._stats()
        line.retries += now.get("retries", 0) - self._seen.get("retries", 0)
        line.throttled += now.get("throttled", 0) - self._seen.get("throttled", 0)
        self._seen = now


class ProvisionProgress(_Observed):
    """Observer of provisioning workers: request outcomes against the requests due at the start."""

    def __init__(self, views: Sequence[View] | None = None) -> None:
        super().__init__(views)
        self.lines["requests"] = Line("requests", expected=0)

    def started(self, due: int) -> None:
        """``due`` requests are waiting as the run starts (more may arrive)."""
        with self._lock:
            self.lines["requests"].expected = due
        self._changed()

    def request_finished(self, result: str) -> None:
        """One outcome: succeeded, failed, retried (or lost: another worker took it over)."""
        with self._lock:
            line = self.lines["requests"]
            line.done += 1
            line.expected = max(line.expected, line.done)
            line.rows += result == "succeeded"
            line.failed += result == "failed"
            line.retries += result == "retried"
        self._changed()

    def finish(self) -> None:
        """The provision run is over."""
        with self._lock:
            self.lines["requests"].finished = True
        self.close()


# ---------------------------------------------------------------------------------------------- views
class TerminalView:
    """A rich live display: one bar per line, with requests done of expected, rows, retries and throttling
    (provisioning: succeeded, failed, retried), elapsed and remaining time."""

    def __init__(self, console: Console | None = None, *, provisioning: bool = False) -> None:
        counts = ("{task.fields[rows]} ok, {task.fields[failed]} failed, {task.fields[retries]} retried"
                  if provisioning else
                  "{task.fields[rows]} rows, {task.fields[retries]} retries, {task.fields[throttled]} throttled")
        self.progress = Progress(
            TextColumn("{task.description:<18}"), BarColumn(bar_width=20), MofNCompleteColumn(),
            TextColumn("requests" if not provisioning else ""), TextColumn(counts),
            TextColumn("{task.fields[note]}", style="yellow"), TimeElapsedColumn(), TimeRemainingColumn(),
            console=console or Console(stderr=True), transient=False,
        )
        self.tasks: dict[str, TaskID] = {}
        self._started = False

    def update(self, lines: list[Line], final: bool = False) -> None:
        """Redraw the bars from ``lines``."""
        if not self._started:  # started by the first news, so a run that fails at once draws nothing
            self.progress.start()
            self._started = True
        for line in lines:
            fields: dict[str, Any] = {"rows": line.rows, "retries": line.retries, "throttled": line.throttled,
                      "failed": line.failed, "note": line.note}
            if line.name not in self.tasks:
                self.tasks[line.name] = self.progress.add_task(line.name, total=line.expected, **fields)
            task = self.tasks[line.name]
            self.progress.update(task, total=max(line.expected, line.done), completed=line.done, **fields)
            if line.finished:
                self.progress.stop_task(task)
        if final:
            self.progress.refresh()

    def close(self) -> None:
        """Stop the live display."""
        if self._started:
            self.progress.stop()
            self._started = False


class PrefectProgressView:
    """The flow run's progress artifact (``key``): percent done, and a line per entity in its description."""

    def __init__(self, key: str, entities: int = 1, *, min_interval: float = 1.0) -> None:
        from prefect.artifacts import create_progress_artifact

        self.entities = max(1, entities)
        self.min_interval = min_interval
        self._last = 0.0
        self.artifact_id = create_progress_artifact(progress=0.0, key=key, description="starting")

    def update(self, lines: list[Line], final: bool = False) -> None:
        """Update the artifact (at most once per ``min_interval``, always when ``final``)."""
        now = time.monotonic()
        if not final and now - self._last < self.min_interval:
            return
        self._last = now
        from prefect.artifacts import update_progress_artifact

        share = sum(1.0 if line.finished else line.done / max(1, line.expected) for line in lines)
        percent = 100.0 if final else min(99.9, 100.0 * share / max(self.entities, len(lines)))
        description = "; ".join(
            f"{line.name} {line.done}/{line.expected} requests, {line.rows} "
            f"{'ok' if line.name == 'requests' else 'rows'}" + (f", {line.failed} failed" if line.failed else "")
            + (f", {line.retries} retr{'y' if line.retries == 1 else 'ies'}" if line.retries else "")
            + (f", {line.throttled} throttled" if line.throttled else "") + (f" ({line.note})" if line.note else "")
            for line in lines) or "nothing to do"
        update_progress_artifact(artifact_id=self.artifact_id, progress=percent, description=description)  # type: ignore[arg-type]

    def close(self) -> None:
        """Nothing to release: the artifact stays with the flow run."""


def artifact_view(key: str, entities: int = 1) -> PrefectProgressView | None:
    """The progress artifact of the current flow run, or None when it cannot be made (never fails a run)."""
    try:
        return PrefectProgressView(key, entities)
    except Exception as exc:
        log.warning("no progress artifact %s: %s", key, exc)
        return None


def terminal_wanted(quiet: bool, console: Console | None = None) -> bool:
    """Progress is drawn only on a terminal, and never with --quiet (logs stay machine-readable)."""
    return not quiet and (console or Console(stderr=True)).is_terminal
