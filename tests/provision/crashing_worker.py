"""A provisioning worker meant to die: run in a separate process, it exits abruptly (os._exit, no clean-up,
like a SIGKILL) right after its Nth state-changing call to Secret Server succeeds, i.e. between the call and
the queue write-back."""

from __future__ import annotations

import os
from typing import Any

from connectors.igi import create_engine
from connectors.secret_server import SecretServerClient
from pipelines.passwords import PasswordBox
from pipelines.provision import ProvisionOptions, run_provisioning


class DyingClient(SecretServerClient):
    def __init__(self, *args: Any, die_after_writes: int, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.die_after_writes = die_after_writes
        self.writes = 0

    def _request(self, method: str, path: str, **kwargs: Any) -> Any:
        result = super()._request(method, path, **kwargs)
        if method.upper() != "GET":
            self.writes += 1
            if self.writes >= self.die_after_writes:
                os._exit(9)
        return result


def main(database_url: str, base_url: str, fernet_key: str, die_after_writes: int, lease_seconds: float) -> None:
    engine = create_engine(database_url)
    client = DyingClient(base_url, "admin", "admin", die_after_writes=die_after_writes)
    run_provisioning(engine, client, PasswordBox(fernet_key),
                     ProvisionOptions(batch_size=50, lease_seconds=lease_seconds), worker_id="doomed")
    os._exit(0)  # it should not get here
