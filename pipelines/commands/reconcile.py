"""`ss-igi reconcile`: reconcile Secret Server into IGI staging."""

from __future__ import annotations

from typing import Any

from pipelines.commands._unbuilt import add_unbuilt


def add_parser(sub: Any) -> None:
    add_unbuilt(sub, "reconcile", "reconcile Secret Server into IGI staging")
