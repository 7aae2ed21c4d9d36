"""`ss-igi provision`: execute IGI's pending provisioning requests on Secret Server."""

from __future__ import annotations

from typing import Any

from pipelines.commands._unbuilt import add_unbuilt


def add_parser(sub: Any) -> None:
    add_unbuilt(sub, "provision", "execute IGI's pending provisioning requests on Secret Server")
