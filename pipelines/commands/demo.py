"""`ss-igi demo`: run the demo: simulator, embedded database, reconcile and provision."""

from __future__ import annotations

from typing import Any

from pipelines.commands._unbuilt import add_unbuilt


def add_parser(sub: Any) -> None:
    add_unbuilt(sub, "demo", "run the demo: simulator, embedded database, reconcile and provision")
