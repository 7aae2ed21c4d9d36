"""`ss-igi check`: test the connections to Secret Server and the IGI database."""

from __future__ import annotations

from typing import Any

from pipelines.commands._unbuilt import add_unbuilt


def add_parser(sub: Any) -> None:
    add_unbuilt(sub, "check", "test the connections to Secret Server and the IGI database")
