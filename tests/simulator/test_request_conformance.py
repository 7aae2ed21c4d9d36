"""The REQUEST bodies the project sends match the reference's request models, field names and types.

tests/data/request_models.json holds, per write endpoint, the field paths and JSON types of the
example body in Delinea's Postman collection for Secret Server 10.9.35 (extracted once), and the
properties the collection lists first (required). The simulator logs each body's shape (field paths
and types, never values); every write the connector can make is made here and its body checked.
Delinea's python-tss-sdk is the second, independent client: its token request is checked the same way.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
from delinea.secrets.server import PasswordGrantAuthorizer, SecretServer

from simulator.binding import MODELS, Model
from simulator.server import LoggedRequest, SimulatorServer
from simulator.state import Organization
from tests.connector.helpers import connect

REFERENCE = json.loads((Path(__file__).parents[1] / "data" / "request_models.json").read_text("utf-8"))["endpoints"]

# Logged path (below /SecretServer/api/v1) -> the collection's name for the endpoint.
ROUTES = [
    (r"users", "users"), (r"users/\d+", "users/:id"), (r"users/\d+/password-reset", "users/:userId/password-reset"),
    (r"groups/\d+/users", "groups/:id/users"), (r"groups/\d+/users/\d+", "groups/:id/users/:userId"),
    (r"folder-permissions", "folder-permissions"),
    (r"folder-permissions/\d+", "folder-permissions/:id"), (r"secret-permissions", "secret-permissions"),
    (r"secret-permissions/\d+", "secret-permissions/:id"),
]
# The token form (the collection's fields; `domain` is documented in shared/reference/secret-server-facts.md).
TOKEN_FORMS = [{"username", "password", "grant_type"}, {"username", "password", "grant_type", "domain"},
               {"refresh_token", "grant_type"}]


def endpoint_of(call: LoggedRequest) -> str:
    below = call.path.split("/api/v1/", 1)[1].rstrip("/")
    for pattern, name in ROUTES:
        if re.fullmatch(pattern, below):
            return f"{call.method} {name}"
    raise AssertionError(f"{call.method} {call.path}: a write the reference's models do not cover")


def assert_conforms(endpoint: str, shape: dict[str, str]) -> None:
    model = REFERENCE[endpoint]
    for path, kind in shape.items():
        assert path in model["fields"], f"{endpoint}: {path} is not a field of the reference's model"
        assert kind == model["fields"][path], f"{endpoint}: {path} is {kind}, the model says {model['fields'][path]}"
    for path in model["required"]:
        assert path in shape, f"{endpoint}: required {path} missing"


def flatten(model: Model, prefix: str = "") -> dict[str, str]:
    out: dict[str, str] = {}
    for name, kind in model.fields.items():
        path = f"{prefix}{name}"
        if isinstance(kind, Model):
            out[path] = "object"
            out.update(flatten(kind, f"{path}."))
        elif kind.endswith("[]"):
            out[path], out[f"{path}[]"] = "array", kind[:-2]
        else:
            out[path] = kind
    return out


@pytest.mark.parametrize("endpoint", sorted(REFERENCE))
def test_the_simulator_binds_the_reference_models(endpoint: str) -> None:
    model = MODELS[endpoint]
    assert flatten(model) == REFERENCE[endpoint]["fields"]
    required = {*model.required, *(f"{n}.{r}" for n, k in model.fields.items() if isinstance(k, Model)
                                   and n in model.required for r in k.required)}
    assert set(REFERENCE[endpoint]["required"]) <= required


def exercise_every_write(server: SimulatorServer, org: Organization) -> None:
    """Every write method of the connector, once, the way provisioning calls them."""
    parent = next(f for f in org.folder_map.values() if f.parent_id == -1 and not f.inherit_permissions)
    inheriting = org.add_folder("Conformance", parent.id, inherit_permissions=True)
    secret = next(s for s in org.secret_map.values() if s.inherits_permissions and s.active)
    with connect(server) as client:
        client.test_connection()
        user = client.create_user("conformance.user", "Initial-Pa55!", display_name="Conformance User",
                                  email_address="c@example.com")
        client.update_user(user["id"], displayName="Conformance (ops)")
        client.set_user_enabled(user["id"], False)
        client.reset_password(user["id"], "Rotated-Pa55!")
        group = next(g for g in org.group_map.values() if g.personal_user_id is None and not g.system_group)
        client.add_group_member(group.id, user["id"])
        client.remove_group_member(group.id, user["id"])
        granted = client.grant_folder_permission(inheriting, user_id=user["id"], folder_access_role="View",
                                                 secret_access_role="List", break_inheritance=True)
        client.update_folder_permission(granted["id"], folder_access_role="Edit", secret_access_role="View",
                                        folder_id=inheriting)
        client.update_folder_permission(granted["id"], folder_access_role="Owner")  # reads the folder id first
        client.revoke_folder_permission(granted["id"])
        shared = client.grant_secret_permission(secret.id, user_id=user["id"], secret_access_role="View")
        client.update_secret_permission(shared["id"], secret_access_role="Edit", secret_id=secret.id)
        client.update_secret_permission(shared["id"], secret_access_role="Owner")
        client.revoke_secret_permission(shared["id"])


def test_every_body_the_connector_sends_matches_the_reference(simulator: SimulatorServer,
                                                              sim_org: Organization) -> None:
    exercise_every_write(simulator, sim_org)
    writes = [c for c in simulator.request_log if c.method in ("POST", "PUT", "PATCH", "DELETE")
              and "/api/v1/" in c.path]
    assert all(c.status == 200 for c in writes), [(c.method, c.path, c.status) for c in writes if c.status != 200]
    checked = set()
    for call in writes:
        endpoint = endpoint_of(call)
        if call.method == "DELETE":
            assert call.body_shape is None, f"{endpoint} carries no body"
            continue
        assert call.body_shape is not None, f"{endpoint} needs a body"
        assert_conforms(endpoint, call.body_shape)
        checked.add(endpoint)
    # Every model but the fallback's PUT /users/{id} (next test) was exercised.
    assert checked == set(REFERENCE) - {"PUT users/:id"}
    for token_call in simulator.calls("POST", "/oauth2/token"):
        assert token_call.body_shape is not None and set(token_call.body_shape) in TOKEN_FORMS
        assert set(token_call.body_shape.values()) == {"string"}


def test_the_password_reset_fallback_sends_the_update_model(make_simulator: Any, sim_org: Organization) -> None:
    server = make_simulator(org=sim_org)
    # A server older than 10.9 has no /password-reset route: the connector falls back to PUT /users/{id}.
    server.api.routes = [r for r in server.api.routes if not r[1].pattern.endswith("password-reset/?$")]
    user_id = sim_org.add_user("old.server.user", password="First-Pa55!")
    with connect(server) as client:
        client.reset_password(user_id, "Second-Pa55!")
    assert sim_org.check_password(user_id, "Second-Pa55!")
    (put,) = server.calls("PUT", "/api/v1/users/")
    assert put.status == 200 and put.body_shape is not None
    assert_conforms("PUT users/:id", put.body_shape)
    assert put.body_shape["password"] == "string" and put.body_shape["id"] == "integer"


def test_the_sdk_token_request_matches_the_reference(simulator: SimulatorServer, sim_org: Organization) -> None:
    secret_id = next(s.id for s in sim_org.secret_map.values() if s.active)
    client = SecretServer(simulator.base_url, PasswordGrantAuthorizer(simulator.base_url, "admin", "admin"))
    client.get_secret_json(secret_id)
    with connect(simulator, domain=None) as ours:
        ours.test_connection()
    tokens = simulator.calls("POST", "/oauth2/token")
    assert len(tokens) == 2  # one from each client
    assert all(t.body_shape is not None and set(t.body_shape) in TOKEN_FORMS for t in tokens)
