"""Helpers shared by the connector tests against the simulator."""

from __future__ import annotations

from typing import Any

from connectors.secret_server import SecretServerClient
from simulator.server import SimulatorServer


def connect(server: SimulatorServer, *, record_sleeps: list[float] | None = None, **options: Any) -> SecretServerClient:
    """A client for the simulator with fast backoff; with ``record_sleeps`` waits are recorded, not slept."""
    options.setdefault("backoff_base", 0.01)
    options.setdefault("backoff_cap", 0.05)
    client = SecretServerClient(server.base_url, server.username, server.password, **options)
    if record_sleeps is not None:
        client._transport.sleep = record_sleeps.append
    return client


def by_id(records: Any, key: str = "id") -> dict[Any, dict[str, Any]]:
    return {r[key]: r for r in records}


def assert_exact(got: list[dict[str, Any]], truth: list[dict[str, Any]], key: str = "id") -> None:
    """Same records, no duplicates, equal values, ascending key."""
    ids = [r[key] for r in got]
    assert len(ids) == len(set(ids)), "a record was yielded twice"
    assert ids == sorted(ids)
    assert by_id(got, key) == by_id(truth, key)


def full_extract(client: SecretServerClient) -> dict[str, Any]:
    """Everything the reconciliation reads, the way it reads it (fan-out for per-object calls)."""
    users = list(client.iter_users())
    groups = list(client.iter_groups())
    folders = list(client.iter_folders())
    secrets = list(client.iter_secrets())
    members = sorted((m["groupId"], m["userId"])
                     for _, ms in client.fan_out(client.iter_group_members, [g["id"] for g in groups])
                     for m in ms)
    folder_perms = [p for _, ps in client.fan_out(client.iter_folder_permissions,
                                                  [f["id"] for f in folders if not f["inheritPermissions"]])
                    for p in ps]
    secret_perms = [p for _, ps in client.fan_out(client.iter_secret_permissions,
                                                  [s["id"] for s in secrets if not s["inheritsPermissions"]])
                    for p in ps]
    return {"users": users, "groups": groups, "folders": folders, "secrets": secrets, "members": members,
            "folder_permissions": sorted(folder_perms, key=lambda p: p["id"]),
            "secret_permissions": sorted(secret_perms, key=lambda p: p["id"])}


def assert_matches_truth(extract: dict[str, Any], org: Any) -> None:
    assert_exact(extract["users"], org.users())
    assert_exact(extract["groups"], org.groups())
    assert_exact(extract["folders"], org.folders())
    assert_exact(extract["secrets"], org.secrets())
    assert extract["members"] == sorted(org.group_members())
    assert by_id(extract["folder_permissions"]) == by_id(org.folder_permissions())
    assert by_id(extract["secret_permissions"]) == by_id(org.secret_permissions())
