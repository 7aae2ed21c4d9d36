"""`ss-igi serve`: serve the reconcile and provision deployments on this host."""

from __future__ import annotations

from typing import Any

from pipelines.commands._unbuilt import add_unbuilt


def add_parser(sub: Any) -> None:
    add_unbuilt(sub, "serve", "serve the reconcile and provision deployments on this host")
