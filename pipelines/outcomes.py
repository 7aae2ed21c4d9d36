"""What executing a provisioning request can end in: an `Outcome`, a `PermanentFailure`, or a `LostClaim`."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from sqlalchemy.engine import Connection


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
