"""The connector against the simulator over real HTTP: every scenario ends with exactly the
simulator's truth, or with a clear, typed error."""

from __future__ import annotations

import threading

import pytest

from connectors.secret_server import ApiError, AuthenticationError, SecretServerClient, TransientError
from simulator.faults import Faults
from tests.connector.helpers import assert_exact, assert_matches_truth, connect, full_extract


def test_full_extract_matches_the_truth_when_the_server_caps_pages(make_simulator):
    server = make_simulator(page_cap=7)
    with connect(server, page_size=1000) as client:
        extract = full_extract(client)
    assert_matches_truth(extract, server.org)
    searches = server.calls("GET", "/SecretServer/api/v1/users")
    assert len(searches) > 100 // 7  # the cap really forced many pages
    first = searches[0].query
    assert first["take"] == ["1000"] and first["sortBy[0].name"] == ["id"]
    assert first["sortBy[0].direction"] == ["Asc"]
    # Never the endpoint that returns secret values.
    assert not [c for c in server.calls("GET", "/SecretServer/api/v1/secrets/") if "summary" not in c.path]
    assert client.stats.logins == 1 and client.stats.retries == 0


def test_token_expiring_in_the_middle_of_paging_is_renewed_transparently(make_simulator):
    server = make_simulator(page_cap=10, faults=Faults(token_expire_after_calls=4))
    with connect(server) as client:
        users = list(client.iter_users())
        secrets = list(client.iter_secrets())
    assert_exact(users, server.org.users())
    assert_exact(secrets, server.org.secrets())
    assert client.stats.auth_rejections >= 5
    assert client.stats.refreshes >= 3 and client.stats.logins >= 2  # refresh first, login when capped


def test_time_based_expiry_renews_before_the_token_runs_out(make_simulator):
    server = make_simulator(page_cap=10, token_ttl_s=1)
    with connect(server) as client:
        first = list(client.iter_users())
        server.clear_log()
        threading.Event().wait(1.1)  # let the 1 s token lapse
        second = list(client.iter_users())
    assert_exact(first, server.org.users()) and assert_exact(second, server.org.users())
    assert client.stats.refreshes >= 1


def test_refresh_cap_reached_falls_back_to_a_password_login(make_simulator):
    server = make_simulator(page_cap=10, refresh_cap=1, faults=Faults(token_expire_after_calls=2))
    # One call at a time (no pages fetched side by side): with tokens that last two calls, concurrent calls use up
    # each other's fresh tokens, and the count of refreshes this test reads would depend on thread timing.
    with connect(server, max_workers=1) as client:
        users = list(client.iter_users())
    assert_exact(users, server.org.users())
    assert client.stats.logins >= 3 and client.stats.refreshes >= 2
    token_calls = server.calls("POST", "/SecretServer/oauth2/token")
    assert len(token_calls) == client.stats.logins + client.stats.refreshes + _refused_refreshes(client, server)


def _refused_refreshes(client: SecretServerClient, server) -> int:
    return sum(1 for c in server.calls("POST", "/SecretServer/oauth2/token") if c.status == 400)


def test_no_refresh_token_at_all_means_a_login_each_time(make_simulator):
    server = make_simulator(page_cap=10, refresh_cap=0, faults=Faults(token_expire_after_calls=3))
    with connect(server) as client:
        assert_exact(list(client.iter_users()), server.org.users())
    assert client.stats.refreshes == 0 and client.stats.logins >= 2


def test_429_storm_with_retry_after_is_waited_out(make_simulator):
    server = make_simulator(page_cap=10, faults=Faults(rate_429=0.4, retry_after_s=2, seed=3))
    slept: list[float] = []
    with connect(server, record_sleeps=slept, max_attempts=12) as client:
        users = list(client.iter_users())
    assert_exact(users, server.org.users())
    throttled = [c for c in server.calls() if c.status == 429]
    assert throttled and len(slept) == len(throttled) == client.stats.retries
    assert all(2.0 <= s <= 3.0 for s in slept)  # Retry-After honoured, with a little jitter


@pytest.mark.parametrize("status", [502, 503, 500])
def test_bursts_of_server_errors_are_retried(make_simulator, status: int):
    server = make_simulator(page_cap=10, faults=Faults(burst_every=5, burst_length=2, burst_status=status,
                                                       retry_after_s=0))
    # 2 calls in 5 fail, and the fan-out's threads share the server's call counter: allow enough
    # attempts that no request is unlucky every time.
    with connect(server, max_attempts=20) as client:
        extract = full_extract(client)
    assert_matches_truth(extract, server.org)
    assert client.stats.retries >= 10


def test_dropped_connections_are_retried(make_simulator):
    server = make_simulator(page_cap=10, faults=Faults(drop_connection_rate=0.25, seed=5))
    with connect(server, max_attempts=10) as client:
        extract = full_extract(client)
    assert_matches_truth(extract, server.org)
    assert client.stats.retries >= 5


def test_an_html_200_is_never_taken_for_data(make_simulator):
    server = make_simulator(page_cap=10, faults=Faults(html_200_rate=0.25, seed=7))
    with connect(server, max_attempts=10) as client:
        users = list(client.iter_users())
    assert_exact(users, server.org.users())
    assert client.stats.non_json >= 2


def test_persistent_failure_ends_in_a_transient_error_with_its_cause(make_simulator):
    server = make_simulator(faults=Faults(html_200_rate=1.0))
    with connect(server, max_attempts=3) as client, pytest.raises(TransientError) as info:
        list(client.iter_users())
    assert info.value.attempts == 3 and "non-JSON" in str(info.value)


@pytest.mark.parametrize("entity", ["users", "secrets", "groups"])
def test_records_deleted_and_inserted_between_pages(make_simulator, entity: str):
    server = make_simulator(page_cap=9, faults=Faults(mutate_between_pages=1.0, seed=11))
    org = server.org
    before = {r["id"]: r for r in getattr(org, entity)()}
    with connect(server) as client:
        got = list(getattr(client, f"iter_{entity}")())
    after = {r["id"]: r for r in getattr(org, entity)()}
    ids = [r["id"] for r in got]
    assert len(ids) == len(set(ids)) and ids == sorted(ids)
    throughout = before.keys() & after.keys()
    assert throughout <= set(ids), f"missed {sorted(throughout - set(ids))}"
    # Anything else was created during the run (ids above the first snapshot's), perhaps deleted again.
    assert all(i in before or i in after or i > max(before) for i in ids)
    assert len(throughout) < len(before)  # the fault really deleted records
    for record in got:  # values as the server had them (records here are not edited, only added/removed)
        if record["id"] in throughout:
            assert record == after[record["id"]]
    assert client.stats.page_recoveries >= 1


def test_typed_400_errors(make_simulator):
    server = make_simulator()
    org = server.org
    inheriting = next(f for f in org.folders() if f["inheritPermissions"])
    with connect(server) as client:
        with pytest.raises(ApiError) as bad_role:
            client.grant_folder_permission(inheriting["id"], group_id=org.groups()[1]["id"],
                                           folder_access_role="Superuser", secret_access_role="View")
        with pytest.raises(ApiError) as inherited:
            client.grant_folder_permission(inheriting["id"], group_id=org.groups()[1]["id"],
                                           folder_access_role="View", secret_access_role="View",
                                           break_inheritance=False)
        existing = org.users()[0]
        with pytest.raises(ApiError) as duplicate:
            client.create_user(existing["userName"], "Secret-123!", domain_id=existing["domainId"]
                               if existing["domainId"] != -1 else None)
    assert bad_role.value.status == 400 and bad_role.value.error_code == "API_GenericException"
    assert bad_role.value.method == "POST" and bad_role.value.path == "/api/v1/folder-permissions"
    assert "Superuser" in (bad_role.value.message or "")
    assert inherited.value.error_code == "API_PermissionsAreInherited"
    assert duplicate.value.error_code == "API_DuplicateUserName" and not duplicate.value.after_retry
    assert "Secret-123!" not in str(duplicate.value)


def test_wrong_password_is_an_authentication_error(make_simulator):
    server = make_simulator()
    with SecretServerClient(server.base_url, "admin", "not-the-password") as client, \
            pytest.raises(AuthenticationError, match="refused the login"):
        client.test_connection()


def test_concurrent_fan_out_with_expiring_tokens(make_simulator):
    server = make_simulator(page_cap=5, refresh_cap=2, faults=Faults(token_expire_after_calls=6, latency_ms=2))
    org = server.org
    with connect(server, max_workers=8) as client:
        groups = [g["id"] for g in org.groups()]
        members = sorted((m["groupId"], m["userId"]) for _, ms in client.fan_out(client.iter_group_members, groups)
                         for m in ms)
        secret_ids = [s["id"] for s in org.secrets() if not s["inheritsPermissions"]]
        perms = [p for _, ps in client.fan_out(client.iter_secret_permissions, secret_ids) for p in ps]
    assert members == sorted(org.group_members())
    assert sorted(p["id"] for p in perms) == sorted(p["id"] for p in org.secret_permissions())
    renewals = client.stats.logins + client.stats.refreshes
    api_calls = client.stats.requests - renewals - _refused_refreshes(client, server)
    # Threads that see the same dead token share one renewal: at most about one per 6 calls.
    assert renewals <= api_calls / 6 * 2 + 8


def test_fan_out_preserves_errors_and_all_successes(make_simulator):
    from connectors.secret_server import FanOutError

    server = make_simulator()
    groups = [g["id"] for g in server.org.groups()]
    with connect(server, max_workers=4) as client:
        seen: list[int] = []
        with pytest.raises(FanOutError) as info:
            for gid, members in client.fan_out(client.iter_group_members, [*groups, 999999, 888888]):
                seen.append(gid)
                assert isinstance(members, list)
    assert seen == groups
    assert [item for item, _ in info.value.failures] == [999999, 888888]
    assert all(isinstance(exc, ApiError) for _, exc in info.value.failures)
