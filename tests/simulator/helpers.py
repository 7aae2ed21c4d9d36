"""Small HTTP helpers for the simulator's tests."""

from __future__ import annotations

from typing import Any

import requests

from simulator.server import SimulatorServer


def token(server: SimulatorServer, username: str = "admin", password: str = "admin", **extra: str) -> dict[str, Any]:
    answer = requests.post(f"{server.base_url}/oauth2/token", timeout=10,
                           data={"username": username, "password": password, "grant_type": "password", **extra})
    assert answer.status_code == 200, answer.text
    return dict(answer.json())


def session(server: SimulatorServer) -> requests.Session:
    client = requests.Session()
    client.headers["Authorization"] = f"Bearer {server.login()}"
    return client


def get(server: SimulatorServer, client: requests.Session, path: str, **params: Any) -> requests.Response:
    return client.get(f"{server.base_url}/api/v1/{path}", params=params, timeout=10)


def walk(server: SimulatorServer, client: requests.Session, path: str, **params: Any) -> list[dict[str, Any]]:
    """Every record of a search, the way real clients page: while hasNext, skip = nextSkip."""
    records: list[dict[str, Any]] = []
    skip = 0
    while True:
        page = get(server, client, path, skip=skip, **params)
        assert page.status_code == 200, page.text
        body = page.json()
        records.extend(body["records"])
        if not body["hasNext"]:
            return records
        skip = body["nextSkip"]
