"""The simulator answers like Secret Server: login, paged searches, and the in-process API."""

from __future__ import annotations

import requests

from simulator.server import SimulatorServer


def login(server: SimulatorServer) -> requests.Session:
    answer = requests.post(f"{server.base_url}/oauth2/token",
                           data={"username": "admin", "password": "admin", "grant_type": "password"},
                           timeout=10)
    assert answer.status_code == 200
    session = requests.Session()
    session.headers["Authorization"] = f"Bearer {answer.json()['access_token']}"
    return session


def test_every_search_endpoint_answers_a_page(simulator: SimulatorServer) -> None:
    session = login(simulator)
    for path in ("users", "groups", "groups/1/users", "users/5/groups", "folders", "folder-permissions",
                 "secrets", "secret-permissions", "domains"):
        page = session.get(f"{simulator.base_url}/api/v1/{path}", params={"take": 5}, timeout=10)
        assert page.status_code == 200, path
        body = page.json()
        assert body["success"] is True and len(body["records"]) <= 5 and body["take"] == 5


def test_in_process_changes_show_through_http(simulator: SimulatorServer) -> None:
    session = login(simulator)
    user_id = simulator.org.add_user("new.person", display_name="New Person")
    found = session.get(f"{simulator.base_url}/api/v1/users",
                        params={"filter.searchText": "new.person", "take": 10}, timeout=10).json()
    assert [r["id"] for r in found["records"]] == [user_id]
    simulator.org.set_user_enabled(user_id, False)
    found = session.get(f"{simulator.base_url}/api/v1/users",
                        params={"filter.searchText": "new.person", "take": 10}, timeout=10).json()
    assert found["records"] == []


def test_requests_are_recorded_without_bodies(simulator: SimulatorServer) -> None:
    session = login(simulator)
    session.get(f"{simulator.base_url}/api/v1/users", params={"take": 1}, timeout=10)
    calls = simulator.calls("GET", "/api/v1/users")
    assert len(calls) == 1 and calls[0].query == {"take": ["1"]} and calls[0].status == 200
    assert [c.path for c in simulator.calls("POST")] == ["/SecretServer/oauth2/token"]
    simulator.clear_log()
    assert len(simulator.request_log) == 0
