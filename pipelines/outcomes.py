"""What executing a provisioning request can end in: an `Outcome`, a `PermanentFailure`, or a `LostClaim`; and what
workers report of it: a `RequestResult` per request, added up in a `ProvisionSummary`."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy.engine import Connection

from pipelines.progress import ProvisionProgress


class PermanentFailure(Exception):
    """The request cannot succeed as given: state 3 with ``erc_status`` and ``trace``. Never holds a password."""

    def __init__(self, erc_status: str, trace: str) -> None:
        super().__init__(trace)
        self.erc_status = erc_status
        self.trace = trace


class LostClaim(Exception):
    """Another worker took the request over (this worker's lease ran out): stop touching it."""


@dataclass
class Outcome:
    """A success: its trace, and the staging step the worker runs in the transaction that makes it final."""

    trace: str
    staging: Callable[[Connection], None] | None = None


@dataclass
class RequestResult:
    """One request's outcome as a worker reports it."""

    event_id: int
    operation: str
    code: str
    result: str  # succeeded, failed, retried, lost
    trace: str


class _Count:
    """A `ProvisionSummary` attribute that reads how many requests ended in the result of its name."""

    def __set_name__(self, owner: type, name: str) -> None:
        self.result = name

    def __get__(self, summary: ProvisionSummary, owner: type | None = None) -> int:
        return summary.by_result[self.result]


@dataclass
class ProvisionSummary:
    """What one or more workers did: processed = succeeded + failed + retried (lost claims aside)."""

    by_result: Counter[str] = field(default_factory=Counter)  # succeeded, failed, retried, lost
    by_operation: Counter[str] = field(default_factory=Counter)  # "OPERATION:result", lost claims aside
    results: list[RequestResult] = field(default_factory=list)
    unavailable: dict[str, str] = field(default_factory=dict)  # instance set aside in the run -> why
    batches: int = 0
    seconds: float = 0.0
    progress: ProvisionProgress | None = field(default=None, repr=False, compare=False)

    succeeded = _Count()  # done on Secret Server, or found done already
    failed = _Count()  # cannot succeed as given
    retried = _Count()  # failed for a passing reason: due again later
    lost = _Count()  # claim lost to another worker: no outcome written

    def record(self, result: RequestResult) -> None:
        """One request's outcome: counted, kept, and told to the progress observer."""
        self.by_result[result.result] += 1
        if result.result != "lost":
            self.by_operation[f"{result.operation}:{result.result}"] += 1
        self.results.append(result)
        if self.progress is not None:
            self.progress.request_finished(result.result)

    @property
    def processed(self) -> int:
        """Requests that reached an outcome (lost claims aside)."""
        return self.succeeded + self.failed + self.retried

    def merge(self, other: ProvisionSummary) -> None:
        """Add another worker's summary to this one."""
        self.by_result.update(other.by_result)
        self.by_operation.update(other.by_operation)
        self.results.extend(other.results)
        self.unavailable.update(other.unavailable)
        self.batches += other.batches
        self.seconds = max(self.seconds, other.seconds)

    def as_dict(self) -> dict[str, Any]:
        """The totals, as the flow returns them and the CLI prints them; ``unavailable``: the instances set
        aside (login refused, ...) and why."""
        return {"processed": self.processed, "succeeded": self.succeeded, "failed": self.failed,
                "retried": self.retried, "lost_claims": self.lost, "batches": self.batches,
                "seconds": round(self.seconds, 3), "unavailable": dict(self.unavailable)}


def unavailable_line(unavailable: dict[str, str]) -> str:
    """The instances a run set aside and why, in one line (empty when none was)."""
    if not unavailable:
        return ""
    return "; ".join(f"instance {name}: {why}" for name, why in unavailable.items()) + \
        "; their requests stay pending"
