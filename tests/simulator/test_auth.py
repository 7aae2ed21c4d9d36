"""Tokens: every /api call needs one; they expire; refresh tokens are single-use and capped."""

from __future__ import annotations

import time
from typing import Any

import requests

from simulator.faults import Faults
from simulator.server import SimulatorServer
from tests.simulator.helpers import token


def call(server: SimulatorServer, access_token: str | None, path: str = "version") -> requests.Response:
    headers = {"Authorization": f"Bearer {access_token}"} if access_token else {}
    return requests.get(f"{server.base_url}/api/v1/{path}", headers=headers, timeout=10)


def refresh(server: SimulatorServer, refresh_token: str) -> requests.Response:
    return requests.post(f"{server.base_url}/oauth2/token", timeout=10,
                         data={"grant_type": "refresh_token", "refresh_token": refresh_token})


def test_the_token_answer(simulator: SimulatorServer) -> None:
    grant = token(simulator)
    assert sorted(grant) == ["access_token", "expires_in", "refresh_token", "token_type"]
    assert grant["token_type"] == "bearer" and grant["expires_in"] == 1200
    assert call(simulator, grant["access_token"]).json()["model"]["version"]


def test_api_calls_without_a_valid_token_get_403(simulator: SimulatorServer) -> None:
    for answer in (call(simulator, None), call(simulator, "forged"), call(simulator, None, "users/1")):
        assert answer.status_code == 403 and answer.json() == {"message": "Authentication failed"}
    assert requests.get(f"{simulator.base_url}/api/v1/healthcheck", timeout=10).json()["Healthy"] is True


def test_a_wrong_password_gets_400(simulator: SimulatorServer) -> None:
    answer = requests.post(f"{simulator.base_url}/oauth2/token", timeout=10,
                           data={"username": "admin", "password": "nope", "grant_type": "password"})
    assert answer.status_code == 400 and answer.json() == {"error": "Login failed."}


def test_tokens_expire_and_refresh_tokens_renew_them(make_simulator: Any) -> None:
    server = make_simulator(token_ttl_s=0.3)
    grant = token(server)
    assert grant["expires_in"] == 0  # whole seconds, rounded down
    time.sleep(0.4)
    assert call(server, grant["access_token"]).status_code == 403
    renewed = refresh(server, grant["refresh_token"])
    assert renewed.status_code == 200
    assert call(server, renewed.json()["access_token"]).status_code == 200


def test_refresh_tokens_are_single_use(simulator: SimulatorServer) -> None:
    grant = token(simulator)
    assert refresh(simulator, grant["refresh_token"]).status_code == 200
    again = refresh(simulator, grant["refresh_token"])
    assert again.status_code == 400 and again.json() == {"error": "Invalid refresh token."}


def test_refresh_cap_counts_refreshes_per_login(make_simulator: Any) -> None:
    server = make_simulator(refresh_cap=3)
    current = token(server)
    for _ in range(3):
        answer = refresh(server, current["refresh_token"])
        assert answer.status_code == 200
        current = answer.json()
    assert refresh(server, current["refresh_token"]).status_code == 400  # a fourth refresh
    assert call(server, token(server)["access_token"]).status_code == 200  # logging in again works


def test_expire_tokens_helper(simulator: SimulatorServer) -> None:
    grant = token(simulator)
    simulator.expire_tokens()
    assert call(simulator, grant["access_token"]).status_code == 403
    assert refresh(simulator, grant["refresh_token"]).status_code == 200


def test_tokens_expire_after_n_calls_when_asked(make_simulator: Any) -> None:
    server = make_simulator(faults=Faults(token_expire_after_calls=2))
    access = token(server)["access_token"]
    assert [call(server, access).status_code for _ in range(3)] == [200, 200, 403]


def test_fault_token_ttl_overrides_the_server(make_simulator: Any) -> None:
    server = make_simulator(faults=Faults(token_ttl_s=0.2))
    grant = token(server)
    assert grant["expires_in"] == 0
    time.sleep(0.3)
    assert call(server, grant["access_token"]).status_code == 403


def test_users_with_a_password_can_log_in_with_their_domain(simulator: SimulatorServer) -> None:
    org = simulator.org
    user_id = org.add_user("domain.person", domain_id=1)
    org.set_user_password(user_id, "Pa55word!")
    assert token(simulator, "domain.person", "Pa55word!", domain="CORP")["access_token"]
    answer = requests.post(f"{simulator.base_url}/oauth2/token", timeout=10,
                           data={"username": "domain.person", "password": "Pa55word!", "grant_type": "password",
                                 "domain": "EMEA"})
    assert answer.status_code == 400
    org.set_user_enabled(user_id, False)
    answer = requests.post(f"{simulator.base_url}/oauth2/token", timeout=10,
                           data={"username": "domain.person", "password": "Pa55word!", "grant_type": "password"})
    assert answer.status_code == 400
