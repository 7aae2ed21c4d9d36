"""`ss-igi request`: enqueue a provisioning request by hand."""

from __future__ import annotations

from typing import Any

from pipelines.commands._unbuilt import add_unbuilt


def add_parser(sub: Any) -> None:
    add_unbuilt(sub, "request", "enqueue a provisioning request by hand")
