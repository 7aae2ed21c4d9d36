"""Safety limits of a reconciliation run: a run that would remove, change or announce too much at once stops
before its commit (status ``aborted``, nothing written), naming the numbers; a dry run reports what a real run
would stop on and goes on.

Each run is judged against its own Secret Server instance's rows only (another instance's, however many, neither
dilutes nor inflates its percentages). Per entity, against its current (not deleted) staging rows before the run:
- removals: more than ``max_removals`` rows, or more than ``max_removal_percent`` of them;
- changes: more than ``max_change_percent`` of them updated. Operational columns (last login, lockout, last
  access: they move every day) do not count, and neither do additions (they are a share of nothing; the event
  limits see them).
IGI events, against the instance's accounts and permissions that IGI knew before the run:
- more than ``max_events`` events, or more than ``max_event_percent`` of what IGI knew. A first load (IGI knew
  no account or permission) and a re-emit (``--reemit-events``, every event on purpose) are exempt.

A percentage limit ignores ``percent_floor`` rows (or events) or fewer: on a small table a couple of ordinary
changes are a large share. ``None`` turns a limit off; `SafetyLimits.lifted()` turns them all off (a planned
mass change).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from connectors.igi.entities import EntityStats

DEFAULT_MAX_REMOVALS = 500
DEFAULT_MAX_REMOVAL_PERCENT = 10.0
DEFAULT_MAX_CHANGE_PERCENT = 50.0
DEFAULT_MAX_EVENTS: int | None = None
DEFAULT_MAX_EVENT_PERCENT = 50.0
DEFAULT_PERCENT_FLOOR = 10


@dataclass(frozen=True)
class SafetyLimits:
    """How much one run may remove, change and announce before it stops; ``None`` turns a limit off."""

    max_removals: int | None = DEFAULT_MAX_REMOVALS  # per entity
    max_removal_percent: float | None = DEFAULT_MAX_REMOVAL_PERCENT  # of the entity's current rows
    max_change_percent: float | None = DEFAULT_MAX_CHANGE_PERCENT  # of the entity's current rows
    max_events: int | None = DEFAULT_MAX_EVENTS
    max_event_percent: float | None = DEFAULT_MAX_EVENT_PERCENT  # of the accounts and permissions IGI knew
    percent_floor: int = DEFAULT_PERCENT_FLOOR

    @classmethod
    def lifted(cls) -> SafetyLimits:
        """No limit at all: a planned mass change."""
        return cls(None, None, None, None, None)


class SafetyLimitExceeded(RuntimeError):
    """The run would change more than its limits allow; nothing was written. ``stats`` and ``events``: the
    numbers the run would have written."""

    def __init__(self, message: str, stats: dict[str, EntityStats], events: dict[str, int] | None = None) -> None:
        super().__init__(message)
        self.stats = stats
        self.events = dict(events or {})


OVERRIDE_HINT = ("if the change is planned, check it with --dry-run and rerun with --allow-mass-change "
                 "(flow parameter allow_mass_change)")


def _percent(part: int, whole: int) -> float:
    return 100.0 * part / whole if whole else 0.0


def _over_percent(count: int, whole: int, limit: float | None, floor: int) -> bool:
    return limit is not None and whole > 0 and count > floor and _percent(count, whole) > limit


def entity_breaches(stats: Mapping[str, EntityStats], updated: Mapping[str, int], current: Mapping[str, int],
                    limits: SafetyLimits) -> list[str]:
    """The per-entity limits this diff goes over, one text each (``updated``: rows changed in a column that
    counts; ``current``: the entity's current rows before the run)."""
    breaches = []
    for name, s in stats.items():
        whole = current[name]
        over = []
        if limits.max_removals is not None and s.removed > limits.max_removals:
            over.append(f"max_removals={limits.max_removals}")
        if _over_percent(s.removed, whole, limits.max_removal_percent, limits.percent_floor):
            over.append(f"max_removal_percent={limits.max_removal_percent:g}")
        if over:
            breaches.append(f"removal: {name}: {s.removed} of {whole} ({_percent(s.removed, whole):.1f}%) "
                            f"above {' and '.join(over)}")
        changed = updated.get(name, 0)
        if _over_percent(changed, whole, limits.max_change_percent, limits.percent_floor):
            breaches.append(f"change: {name}: {changed} of {whole} ({_percent(changed, whole):.1f}%) "
                            f"above max_change_percent={limits.max_change_percent:g}")
    return breaches


def event_breaches(events: Mapping[str, int], known_before: int, limits: SafetyLimits) -> list[str]:
    """The event limits these events go over (``known_before``: accounts + permissions IGI knew)."""
    if known_before == 0:  # a first load: nothing to compare against
        return []
    total = sum(events.values())
    over = []
    if limits.max_events is not None and total > limits.max_events:
        over.append(f"max_events={limits.max_events}")
    if _over_percent(total, known_before, limits.max_event_percent, limits.percent_floor):
        over.append(f"max_event_percent={limits.max_event_percent:g}")
    if not over:
        return []
    return [f"event: {total} IGI events for {known_before} known accounts and permissions "
            f"({_percent(total, known_before):.1f}%), above {' and '.join(over)}"]


def breach_message(breaches: list[str]) -> str:
    """One line: which limits, their numbers, and how to let a planned change through."""
    kinds = sorted({b.split(":", 1)[0] for b in breaches}, key=["removal", "change", "event"].index)
    details = "; ".join(b.split(": ", 1)[1] for b in breaches)
    return f"{' and '.join(kinds)} threshold exceeded, nothing written: {details}; {OVERRIDE_HINT}"
