"""Helpers for the reconciliation tests: the simulator's truth converted to staging terms independently of the
product's normalizer, staging read back, and a client on the simulator."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from connectors.secret_server import SecretServerClient
from pipelines.reconcile import RunSummary, run_reconcile
from simulator.server import SimulatorServer
from simulator.state import Organization

KEYS = {
    "users": ("user_id",), "groups": ("group_id",), "group_members": ("group_id", "user_id"),
    "folders": ("folder_id",), "folder_permissions": ("folder_permission_id",), "secrets": ("secret_id",),
    "secret_permissions": ("secret_permission_id",),
}
COLUMNS = {
    "users": ["user_id", "user_name", "display_name", "email_address", "domain_id", "domain_name", "enabled",
              "is_application_account", "is_locked_out", "login_failures", "last_login", "created"],
    "groups": ["group_id", "group_name", "domain_id", "domain_name", "enabled", "synchronized", "created"],
    "group_members": ["group_id", "user_id"],
    "folders": ["folder_id", "folder_name", "folder_path", "parent_folder_id", "folder_type_id",
                "inherit_permissions", "inherit_secret_policy", "secret_policy_id"],
    "folder_permissions": ["folder_permission_id", "folder_id", "user_id", "group_id", "folder_access_role",
                           "secret_access_role"],
    "secrets": ["secret_id", "secret_name", "folder_id", "secret_template_id", "secret_template_name", "active",
                "inherits_permissions", "is_restricted", "site_id", "create_date", "last_accessed"],
    "secret_permissions": ["secret_permission_id", "secret_id", "user_id", "group_id", "secret_access_role"],
}
ENTITY_NAMES = list(KEYS)


def ts(value: str | None) -> datetime | None:
    """The API's zone-less times are UTC; .NET's 0001-01-01 means never."""
    if value is None or value.startswith("0001-01-01"):
        return None
    return datetime.fromisoformat(value).replace(tzinfo=UTC)


def none_if_minus_one(value: int | None) -> int | None:
    return None if value in (None, -1) else value


def truth(org: Organization) -> dict[str, dict[tuple[int, ...], dict[str, Any]]]:
    """What staging must hold (current rows, contract columns), straight from the simulator's records."""
    rows: dict[str, list[dict[str, Any]]] = {
        "users": [{
            "user_id": u["id"], "user_name": u["userName"], "display_name": u["displayName"],
            "email_address": u["emailAddress"], "domain_id": none_if_minus_one(u["domainId"]),
            "domain_name": u["domainName"], "enabled": u["enabled"],
            "is_application_account": u["isApplicationAccount"], "is_locked_out": u["isLockedOut"],
            "login_failures": u["loginFailures"], "last_login": ts(u["lastLogin"]), "created": ts(u["created"]),
        } for u in org.users()],
        "groups": [{
            "group_id": g["id"], "group_name": g["name"], "domain_id": none_if_minus_one(g["domainId"]),
            "domain_name": g["domainName"], "enabled": g["enabled"], "synchronized": g["synchronized"],
            "created": ts(g["created"]),
        } for g in org.groups()],
        "group_members": [{"group_id": g, "user_id": u} for g, u in org.group_members()],
        "folders": [{
            "folder_id": f["id"], "folder_name": f["folderName"], "folder_path": f["folderPath"],
            "parent_folder_id": none_if_minus_one(f["parentFolderId"]), "folder_type_id": f["folderTypeId"],
            "inherit_permissions": f["inheritPermissions"], "inherit_secret_policy": f["inheritSecretPolicy"],
            "secret_policy_id": none_if_minus_one(f["secretPolicyId"]),
        } for f in org.folders()],
        "folder_permissions": [{
            "folder_permission_id": p["id"], "folder_id": p["folderId"], "user_id": p["userId"],
            "group_id": p["groupId"], "folder_access_role": p["folderAccessRoleName"],
            "secret_access_role": p["secretAccessRoleName"],
        } for p in org.folder_permissions()],
        "secrets": [{
            "secret_id": s["id"], "secret_name": s["name"], "folder_id": none_if_minus_one(s["folderId"]),
            "secret_template_id": s["secretTemplateId"], "secret_template_name": s["secretTemplateName"],
            "active": s["active"], "inherits_permissions": s["inheritsPermissions"],
            "is_restricted": s["isRestricted"], "site_id": s["siteId"], "create_date": ts(s["createDate"]),
            "last_accessed": ts(s["lastAccessed"]),
        } for s in org.secrets()],
        "secret_permissions": [{
            "secret_permission_id": p["id"], "secret_id": p["secretId"], "user_id": p["userId"],
            "group_id": p["groupId"], "secret_access_role": p["secretAccessRoleName"],
        } for p in org.secret_permissions()],
    }
    return {name: {tuple(r[k] for k in KEYS[name]): r for r in items} for name, items in rows.items()}


def staging(engine: Engine, *, current: bool = True,
            instance: str | None = None) -> dict[str, dict[tuple[int, ...], dict[str, Any]]]:
    """Staging's rows (contract columns), current ones only by default; of one instance when given."""
    out: dict[str, dict[tuple[int, ...], dict[str, Any]]] = {}
    conditions = (["deleted_at IS NULL"] if current else []) + (["instance = :instance"] if instance else [])
    where = f" WHERE {' AND '.join(conditions)}" if conditions else ""
    with engine.connect() as conn:
        for name, columns in COLUMNS.items():
            result = conn.execute(sa.text(f"SELECT {', '.join(columns)} FROM ss_staging.{name}{where}"),
                                  {"instance": instance})
            out[name] = {tuple(r[k] for k in KEYS[name]): dict(r) for r in result.mappings()}
    return out


def full_dump(engine: Engine) -> dict[str, list[tuple[Any, ...]]]:
    """Every row of every table reconciliation may write, bookkeeping included (to prove "nothing changed")."""
    tables = [f"ss_staging.{n}" for n in ENTITY_NAMES] + ["ss_staging.change_log", "ss_staging.rejects",
                                                         "igi.event_target"]
    with engine.connect() as conn:
        return {t: sorted(map(tuple, conn.execute(sa.text(f"SELECT * FROM {t}")).all()), key=repr) for t in tables}


def instance_dump(engine: Engine, instance: str) -> dict[str, list[tuple[Any, ...]]]:
    """Every row a reconciliation may write for one instance: its staging rows, change log and rejects, and the
    events of its runs."""
    tables = [f"ss_staging.{n}" for n in [*ENTITY_NAMES, "change_log", "rejects"]]
    queries = {t: f"SELECT * FROM {t} WHERE instance = :i" for t in tables}
    queries["igi.event_target"] = ("SELECT * FROM igi.event_target WHERE run_id IN "
                                   "(SELECT run_id FROM ss_staging.reconciliation_runs WHERE instance = :i)")
    with engine.connect() as conn:
        return {t: sorted(map(tuple, conn.execute(sa.text(q), {"i": instance}).all()), key=repr)
                for t, q in queries.items()}


def account_code(user: dict[str, Any]) -> str:
    return f"{user['domainName']}\\{user['userName']}" if user.get("domainName") else user["userName"]


def expected_permissions(org: Organization) -> set[tuple[str, str, str]]:
    """(code, functionality_type, functionality) of every direct permission of every user, computed from the
    simulator's records: memberships, and user-level folder and secret permissions (group-level ones are not
    an account's)."""
    users = {u["id"]: u for u in org.users()}
    groups = {g["id"]: g for g in org.groups()}
    folders = {f["id"]: f for f in org.folders()}
    secrets = {s["id"]: s for s in org.secrets()}
    out = {(account_code(users[u]), "group", f"group:{groups[g]['name']}") for g, u in org.group_members()}
    for p in org.folder_permissions():
        if p["userId"] is not None:
            out.add((account_code(users[p["userId"]]), "folder",
                     f"folder:{folders[p['folderId']]['folderPath']}|{p['folderAccessRoleName']}|"
                     f"{p['secretAccessRoleName']}"))
    for p in org.secret_permissions():
        if p["userId"] is not None:
            secret = secrets[p["secretId"]]
            out.add((account_code(users[p["userId"]]), "secret",
                     f"secret:{secret['id']}:{secret['name']}|{p['secretAccessRoleName']}"))
    return out


def events_of(engine: Engine, run_id: int) -> list[dict[str, Any]]:
    with engine.connect() as conn:
        return [dict(r) for r in conn.execute(sa.text(
            "SELECT event_id, code, operation, state, target, functionality, functionality_type, attributes "
            "FROM igi.event_target WHERE run_id = :r ORDER BY event_id"), {"r": run_id}).mappings()]


def changes_of(engine: Engine, run_id: int) -> list[dict[str, Any]]:
    with engine.connect() as conn:
        return [dict(r) for r in conn.execute(sa.text(
            "SELECT entity, object_key, change_type, before, after FROM ss_staging.change_log "
            "WHERE run_id = :r ORDER BY change_id"), {"r": run_id}).mappings()]


def run_row(engine: Engine, run_id: int) -> dict[str, Any]:
    with engine.connect() as conn:
        return dict(conn.execute(sa.text("SELECT * FROM ss_staging.reconciliation_runs WHERE run_id = :r"),
                                 {"r": run_id}).mappings().one())


# The two instances of the multi-instance tests (fixtures in conftest.py) and their IGI targets (pipelines/instances.py
# names a named instance's default target SecretServer-<name>).
TARGETS = {"default": "SecretServer", "dr": "SecretServer-dr"}


def reconcile_instance(engine: Engine, clients: dict[str, SecretServerClient], instance: str,
                       **options: Any) -> RunSummary:
    """One run of ``instance`` (``default`` or ``dr``) with its client and its IGI target."""
    return run_reconcile(engine, clients[instance], instance=instance, target=TARGETS[instance], **options)


def make_client(server: SimulatorServer, **options: Any) -> SecretServerClient:
    options.setdefault("max_workers", 4)
    options.setdefault("backoff_base", 0.01)
    options.setdefault("backoff_cap", 0.05)
    return SecretServerClient(server.base_url, server.username, server.password, **options)


def permissions_by_user(org: Organization) -> dict[tuple[int, str, str], str]:
    """(user_id, functionality_type, functionality) -> account code, for every direct permission of a user."""
    users = {u["id"]: u for u in org.users()}
    groups = {g["id"]: g for g in org.groups()}
    folders = {f["id"]: f for f in org.folders()}
    secrets = {s["id"]: s for s in org.secrets()}
    out = {(u, "group", f"group:{groups[g]['name']}"): account_code(users[u]) for g, u in org.group_members()}
    for p in org.folder_permissions():
        if p["userId"] is not None:
            name = (f"folder:{folders[p['folderId']]['folderPath']}|{p['folderAccessRoleName']}|"
                    f"{p['secretAccessRoleName']}")
            out[(p["userId"], "folder", name)] = account_code(users[p["userId"]])
    for p in org.secret_permissions():
        if p["userId"] is not None:
            secret = secrets[p["secretId"]]
            name = f"secret:{secret['id']}:{secret['name']}|{p['secretAccessRoleName']}"
            out[(p["userId"], "secret", name)] = account_code(users[p["userId"]])
    return out


def expected_changes(before: dict[str, dict[tuple[int, ...], dict[str, Any]]],
                     after: dict[str, dict[tuple[int, ...], dict[str, Any]]]) -> set[tuple[str, str, str]]:
    """(entity, object_key, change_type) between two truths."""
    out: set[tuple[str, str, str]] = set()
    for name in ENTITY_NAMES:
        old, new = before[name], after[name]
        for key in new.keys() - old.keys():
            out.add((name, ":".join(map(str, key)), "added"))
        for key in old.keys() - new.keys():
            out.add((name, ":".join(map(str, key)), "removed"))
        for key in old.keys() & new.keys():
            if old[key] != new[key]:
                out.add((name, ":".join(map(str, key)), "changed"))
    return out
