"""IGI targets: the Secret Server instance a provisioning request is for, and which requests a worker takes.

IGI names the target (service) of each request in ``igi.event_out.target``; ss-igi gives every configured
Secret Server instance its own target (pipelines/instances.py). A NULL target stands for the default instance's.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from connectors.igi.entities import DEFAULT_TARGET  # the IGI target of a single-instance setup


@dataclass(frozen=True)
class TargetScope:
    """Which requests a worker takes, by ``igi.event_out.target``: those of the targets it ``served``, and those
    whose target is none of the ``known`` ones (every configured instance's), to fail them. A NULL target stands
    for ``null_target``, the default instance's target (None when no instance named default is configured: then
    a NULL target is unknown too)."""

    served: tuple[str, ...]
    known: tuple[str, ...]
    null_target: str | None

    @classmethod
    def single(cls, target: str = DEFAULT_TARGET) -> TargetScope:
        """A single-instance setup: one default instance whose IGI target is ``target``."""
        return cls((target,), (target,), target)

    def params(self) -> dict[str, Any]:
        """The bind parameters of `scope_sql`."""
        return {"served": list(self.served), "known": list(self.known), "null_target": self.null_target}


def scope_sql(alias: str, *, unknown: bool = True) -> str:
    """SQL: the row ``alias`` is for a served target, or (``unknown``) for a target no instance has."""
    target = f"coalesce({alias}.target, CAST(:null_target AS text))"
    served = f"{target} = ANY(CAST(:served AS text[]))"
    if not unknown:
        return served
    return f"({served} OR {target} IS NULL OR {target} <> ALL(CAST(:known AS text[])))"
