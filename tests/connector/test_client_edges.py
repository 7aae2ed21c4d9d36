"""Edge cases against a scripted HTTP server: retry policy details, typed errors, old-server
fallbacks, and the guard against reading secret values."""

from __future__ import annotations

import email.utils
import time
from collections.abc import Iterator

import pytest

from connectors.secret_server import ApiError, AuthenticationError, SecretServerClient, TransientError
from tests.connector.scripted_server import Request, ScriptedServer


@pytest.fixture
def server() -> Iterator[ScriptedServer]:
    with ScriptedServer() as s:
        yield s


def make_client(server: ScriptedServer, **options) -> tuple[SecretServerClient, list[float]]:
    slept: list[float] = []
    client = SecretServerClient(server.base_url, "admin", "right-password", **options)
    client._transport.sleep = slept.append  # record the waits instead of waiting
    return client, slept


def test_retry_after_in_seconds_and_as_http_date_is_honoured(server: ScriptedServer):
    answers = iter([
        (429, {"Retry-After": "3"}, {"message": "slow down"}),
        (503, {"Retry-After": email.utils.formatdate(time.time() + 5, usegmt=True)}, "busy"),
        (200, {}, {"model": {"version": "10.9.000033"}}),
    ])
    server.route("GET", "/api/v1/version", lambda r: next(answers))
    server.route("GET", "/api/v1/healthcheck", lambda r: (200, {}, {"healthy": True}))
    client, slept = make_client(server)
    with client:
        report = client.test_connection()
    assert report["version"] == "10.9.000033" and report["healthy"] is True
    assert slept[0] >= 3 and 3 <= slept[1] <= 7
    assert client.stats.retries == 2


def test_retry_after_beyond_the_budget_gives_up_at_once(server: ScriptedServer):
    server.route("GET", "/api/v1/version", lambda r: (503, {"Retry-After": "600"}, "maintenance"))
    client, slept = make_client(server, max_retry_seconds=30)
    with client, pytest.raises(TransientError, match="retry budget") as info:
        client._request("GET", "/version")
    assert slept == [] and info.value.attempts == 1


def test_attempts_are_bounded_and_the_last_cause_is_kept(server: ScriptedServer):
    server.route("GET", "/api/v1/version", lambda r: (502, {}, "<html>bad gateway</html>"))
    client, slept = make_client(server, max_attempts=4, backoff_base=0.2)
    with client, pytest.raises(TransientError) as info:
        client._request("GET", "/version")
    assert info.value.attempts == 4 and len(slept) == 3
    assert "HTTP 502" in str(info.value.last_cause)
    assert all(0.1 <= d <= 0.2 * 2**i for i, d in enumerate(slept))  # exponential with jitter
    assert len(server.calls("GET", "/api/v1/version")) == 4


SERVER_ERROR = (500, {}, {"message": "An error has occurred.", "exceptionMessage": "Object reference not set",
                         "exceptionType": "System.NullReferenceException", "stackTrace": "..."})


def test_a_500_on_a_read_is_retried_and_then_reported_with_its_cause(server: ScriptedServer):
    server.route("GET", "/api/v1/users/7", lambda r: SERVER_ERROR)
    client, slept = make_client(server, max_attempts=3)
    with client, pytest.raises(TransientError) as info:
        client.get_user(7)
    cause = info.value.last_cause
    assert isinstance(cause, ApiError) and cause.status == 500
    assert cause.error_code == "System.NullReferenceException"
    assert len(slept) == 2


def test_a_500_on_a_write_is_an_api_error_not_retried(server: ScriptedServer):
    server.route("PATCH", "/api/v1/users/7", lambda r: SERVER_ERROR)
    client, slept = make_client(server)
    with client, pytest.raises(ApiError) as info:
        client.set_user_enabled(7, False)
    assert info.value.status == 500 and info.value.method == "PATCH" and info.value.path == "/api/v1/users/7"
    assert slept == [] and len(server.calls("PATCH", "/api/v1/users/7")) == 1


def test_bad_password_is_an_authentication_error_without_the_password(server: ScriptedServer):
    client = SecretServerClient(server.base_url, "admin", "wrong-password-123")
    with client, pytest.raises(AuthenticationError) as info:
        client.test_connection()
    assert "invalid_grant" in str(info.value)
    assert "wrong-password-123" not in str(info.value) and "wrong-password-123" not in repr(info.value)


def test_password_reset_falls_back_to_put_on_servers_without_the_route(server: ScriptedServer):
    model = {"id": 42, "userName": "jdoe", "enabled": True}
    put_bodies: list[dict] = []

    def put(req: Request):
        put_bodies.append(req.json())
        return 200, {}, model

    server.route("GET", "/api/v1/users/42", lambda r: (200, {}, model))
    server.route("PUT", "/api/v1/users/42", put)
    client, _ = make_client(server)
    with client:
        client.reset_password(42, "N3w-Passw0rd!")
    assert len(server.calls("POST", "/api/v1/users/42/password-reset")) == 1
    # The update model's fields only (userName is not one of them), with the password.
    assert put_bodies == [{"id": 42, "enabled": True, "password": "N3w-Passw0rd!"}]


def test_password_reset_reporting_failure_raises(server: ScriptedServer):
    server.route("POST", "/api/v1/users/5/password-reset", lambda r: (200, {}, {"success": False}))
    client, _ = make_client(server)
    with client, pytest.raises(ApiError, match="PasswordResetFailed"):
        client.reset_password(5, "whatever-1234")


def test_never_asks_for_secret_values(server: ScriptedServer):
    client, _ = make_client(server)
    with client, pytest.raises(ValueError, match="secret values"):
        client._request("GET", "/secrets/12")
    assert server.calls("GET", "/api/v1/secrets/12") == []


def test_tls_verification_is_on_by_default_and_takes_a_ca_bundle(server: ScriptedServer):
    with SecretServerClient(server.base_url, "a", "b") as default:
        assert default._transport.verify is True
    with SecretServerClient(server.base_url, "a", "b", ca_bundle="/etc/ssl/corp.pem") as bundled:
        assert bundled._transport.verify == "/etc/ssl/corp.pem"
    with SecretServerClient(server.base_url, "a", "b", verify_tls=False) as off:
        assert off._transport.verify is False


def test_otp_and_domain_travel_with_the_login(server: ScriptedServer):
    server.route("GET", "/api/v1/version", lambda r: (200, {}, {"model": {"version": "1"}}))
    with SecretServerClient(server.base_url, "admin", "right-password", domain="CORP", otp="123456") as client:
        client._request("GET", "/version")
    login = server.calls("POST", "/oauth2/token")[0]
    assert login.form()["domain"] == "CORP" and login.headers["OTP"] == "123456"


def _search_result(records: list[dict]) -> tuple[int, dict, dict]:
    return 200, {}, {"records": records, "total": len(records), "skip": 0, "take": 1000, "hasNext": False}


def test_create_retried_after_an_ambiguous_failure_returns_what_the_first_attempt_made(server: ScriptedServer):
    existing = {"id": 77, "userName": "jdoe", "domainId": -1, "domainName": None, "enabled": True}
    answers = iter([(502, {}, "<html>Bad Gateway</html>"),
                    (400, {}, {"message": "A user with this name already exists.",
                               "errorCode": "API_DuplicateUserName"})])
    server.route("POST", "/api/v1/users", lambda r: next(answers))
    server.route("GET", "/api/v1/users", lambda r: _search_result([existing]))
    client, _ = make_client(server)
    with client:
        assert client.create_user("jdoe", "Pa55-word-1") == existing


def test_create_refused_after_an_unambiguous_failure_is_an_error(server: ScriptedServer):
    answers = iter([(429, {"Retry-After": "0"}, {"message": "slow down"}),
                    (400, {}, {"message": "A user with this name already exists.",
                               "errorCode": "API_DuplicateUserName"})])
    server.route("POST", "/api/v1/users", lambda r: next(answers))
    client, _ = make_client(server)
    with client, pytest.raises(ApiError) as info:
        client.create_user("jdoe", "Pa55-word-1")  # a 429 means the first attempt was turned away
    assert info.value.error_code == "API_DuplicateUserName" and not info.value.after_retry
    assert server.calls("GET", "/api/v1/users") == []


def test_membership_add_retried_after_a_gateway_timeout_is_not_an_error(server: ScriptedServer):
    member = {"groupId": 3, "userId": 9, "userName": "jdoe", "groupName": "Ops"}
    answers = iter([(504, {}, "<html>Gateway Timeout</html>"),
                    (400, {}, {"message": "already a member", "errorCode": "API_UserAlreadyInGroup"})])
    server.route("POST", "/api/v1/groups/3/users", lambda r: next(answers))
    server.route("GET", "/api/v1/groups/3/users", lambda r: _search_result([member]))
    client, _ = make_client(server)
    with client:
        assert client.add_group_member(3, 9) == member


def test_permission_grant_retried_after_a_bad_gateway_returns_what_the_first_attempt_made(server: ScriptedServer):
    made = {"id": 31, "folderId": 5, "groupId": 40, "userId": 9, "folderAccessRoleName": "View",
            "secretAccessRoleName": "List"}
    answers = iter([(502, {}, "<html>Bad Gateway</html>"),
                    (400, {}, {"message": "A permission for this user or group already exists.",
                               "errorCode": "API_DuplicatePermission"})])
    bodies: list[dict] = []

    def post(req: Request):
        bodies.append(req.json())
        return next(answers)

    server.route("POST", "/api/v1/folder-permissions", post)
    server.route("GET", "/api/v1/folder-permissions", lambda r: _search_result([made]))
    client, _ = make_client(server)
    with client:
        assert client.grant_folder_permission(5, user_id=9, folder_access_role="View",
                                              secret_access_role="List") == made
    assert [b["breakInheritance"] for b in bodies] == [False, False]  # never broken unless asked


def test_a_role_change_is_one_put_with_the_update_model(server: ScriptedServer):
    puts: list[dict] = []

    def put(req: Request):
        puts.append(req.json())
        return 200, {}, {"id": 31, "secretId": 8, "secretAccessRoleName": "Edit"}

    server.route("GET", "/api/v1/secret-permissions/31", lambda r: (200, {}, {"id": 31, "secretId": 8}))
    server.route("PUT", "/api/v1/secret-permissions/31", put)
    client, _ = make_client(server)
    with client:
        client.update_secret_permission(31, secret_access_role="Edit")
    assert puts == [{"id": 31, "secretId": 8, "secretAccessRoleName": "Edit"}]
    assert server.calls("POST", "/api/v1/secret-permissions") == []


def test_close_after_a_fan_out_stopped_early_does_not_wait_on_itself(server: ScriptedServer):
    """A refused login ends a fan-out at once while other calls are still paging; closing the client then
    finishes (their remaining pages are fetched in their own threads) instead of deadlocking on the pools."""
    import threading

    users = [{"id": i, "userName": f"u{i}"} for i in range(1, 81)]

    def page(req: Request) -> tuple[int, dict, dict]:
        time.sleep(0.03)
        skip, take = int(req.query["skip"][0]), int(req.query["take"][0])
        return 200, {}, {"records": users[skip:skip + take], "total": len(users), "skip": skip, "take": take,
                         "hasNext": skip + take < len(users)}

    server.route("GET", "/api/v1/users", page)
    client = SecretServerClient(server.base_url, "admin", "right-password", max_workers=4, page_size=2)

    def read(item: int) -> list:
        if item == 0:
            time.sleep(0.1)  # the others are paging by now
            raise AuthenticationError("login refused")
        return list(client.iter_users())

    with pytest.raises(AuthenticationError):
        for _ in client.fan_out(read, [0, 1, 2, 3]):
            pass
    closer = threading.Thread(target=client.close, daemon=True)
    closer.start()
    closer.join(timeout=20)
    assert not closer.is_alive(), "close() deadlocked on a fan-out call that was still paging"
