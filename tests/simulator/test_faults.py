"""Every fault mode, its determinism, and that faults touch /api/v1 calls only."""

from __future__ import annotations

import time
from typing import Any

import pytest
import requests

from simulator.faults import Faults
from simulator.server import SimulatorServer
from tests.simulator.helpers import get, session, token


def statuses(server: SimulatorServer, n: int) -> list[int]:
    client = session(server)
    return [get(server, client, "version").status_code for _ in range(n)]


def test_parse_reads_the_cli_syntax() -> None:
    faults = Faults.parse("latency_ms=5, rate_429=0.1,retry_after_s=2,burst_every=50,burst_length=3,"
                          "burst_status=502,token_expire_after_calls=9,seed=7,mutate_between_pages=1")
    assert faults == Faults(latency_ms=5, rate_429=0.1, retry_after_s=2, burst_every=50, burst_length=3,
                            burst_status=502, token_expire_after_calls=9, seed=7, mutate_between_pages=1.0)
    assert Faults.parse("") == Faults() and not Faults().active
    with pytest.raises(ValueError):
        Faults.parse("explode=1")
    with pytest.raises(ValueError):
        Faults(burst_status=418)


def test_latency_is_added_to_api_calls(make_simulator: Any) -> None:
    server = make_simulator(faults=Faults(latency_ms=60))
    client = session(server)
    started = time.perf_counter()
    get(server, client, "version")
    assert time.perf_counter() - started >= 0.06


def test_429_with_retry_after(make_simulator: Any) -> None:
    server = make_simulator(faults=Faults(rate_429=1.0, retry_after_s=7))
    answer = get(server, session(server), "users")
    assert answer.status_code == 429 and answer.headers["Retry-After"] == "7"


def test_a_fraction_of_429s_is_deterministic_per_seed(make_simulator: Any) -> None:
    first = statuses(make_simulator(faults=Faults(rate_429=0.3, seed=5)), 40)
    second = statuses(make_simulator(faults=Faults(rate_429=0.3, seed=5)), 40)
    other = statuses(make_simulator(faults=Faults(rate_429=0.3, seed=6)), 40)
    assert first == second != other
    assert 0 < first.count(429) < 40 and set(first) == {200, 429}


@pytest.mark.parametrize("status", [500, 502, 503])
def test_bursts_of_server_errors(make_simulator: Any, status: int) -> None:
    server = make_simulator(faults=Faults(burst_every=5, burst_length=2, burst_status=status))
    client = session(server)
    answers = [get(server, client, "version") for _ in range(10)]
    codes = [a.status_code for a in answers]
    assert codes == [200, 200, 200, status, status] * 2
    failed = answers[3]
    if status == 500:
        assert sorted(failed.json()) == ["exceptionMessage", "exceptionType", "message", "stackTrace"]
    else:
        assert failed.headers["Content-Type"].startswith("text/html") and b"<html>" in failed.content
    assert ("Retry-After" in failed.headers) == (status == 503)


def test_dropped_connections(make_simulator: Any) -> None:
    server = make_simulator(faults=Faults(drop_connection_rate=1.0))
    with pytest.raises(requests.ConnectionError):
        get(server, session(server), "users")
    assert [c.status for c in server.calls(path_prefix="/api/v1/users")] == [0]


def test_html_with_status_200(make_simulator: Any) -> None:
    server = make_simulator(faults=Faults(html_200_rate=1.0))
    answer = get(server, session(server), "users")
    assert answer.status_code == 200 and answer.headers["Content-Type"].startswith("text/html")
    with pytest.raises(ValueError):
        answer.json()


def test_records_change_between_pages(make_simulator: Any) -> None:
    server = make_simulator(faults=Faults(mutate_between_pages=1.0, seed=3))
    org = server.org
    client = session(server)
    before = sorted(u.id for u in org.user_map.values() if u.enabled)
    seen: list[int] = []
    skip = 0
    while True:
        body = get(server, client, "users", skip=skip, take=10).json()
        seen.extend(r["id"] for r in body["records"])
        if not body["hasNext"]:
            break
        skip = body["nextSkip"]
    after = sorted(u.id for u in org.user_map.values() if u.enabled)
    pages = len(server.calls("GET", "/api/v1/users"))
    assert len(set(after) - set(before)) == pages - 1  # one insert before every page but the first
    assert len(set(before) - set(after)) == pages - 1  # one delete on an already-read page
    assert set(seen) != set(after) and set(seen) != set(before)  # offset paging missed records


def test_mutations_are_deterministic_per_seed(make_simulator: Any) -> None:
    def run() -> list[int]:
        server = make_simulator(faults=Faults(mutate_between_pages=1.0, seed=9))
        client = session(server)
        for skip in (0, 10, 20, 30):
            get(server, client, "secrets", skip=skip, take=10)
        return sorted(server.org.secret_map)

    assert run() == run()


def test_faults_spare_the_token_endpoint_and_the_health_check(make_simulator: Any) -> None:
    server = make_simulator(faults=Faults(rate_429=1.0, drop_connection_rate=0.0))
    assert token(server)["access_token"]
    assert requests.get(f"{server.base_url}/api/v1/healthcheck", timeout=10).status_code == 200
    assert get(server, session(server), "version").status_code == 429


def test_faults_change_at_runtime(simulator: SimulatorServer) -> None:
    client = session(simulator)
    assert get(simulator, client, "version").status_code == 200
    simulator.faults = Faults(rate_429=1.0)
    assert get(simulator, client, "version").status_code == 429
    simulator.faults = Faults()
    assert get(simulator, client, "version").status_code == 200
