"""Small hand-made organizations for the analyst tests: staging rows with sensible defaults."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from tests.analyst.staging import Row, Snapshot

REMOVED = datetime(2024, 5, 1, 12, 0)


def _removed(removed: bool) -> dict[str, Any]:
    return {"deleted_at": REMOVED} if removed else {}


def user(user_id: int, *, enabled: bool = True, removed: bool = False) -> Row:
    return {"user_id": user_id, "user_name": f"user{user_id}", "domain_name": None, "enabled": enabled,
            **_removed(removed)}


def group(group_id: int, *, name: str | None = None, enabled: bool = True, removed: bool = False) -> Row:
    return {"group_id": group_id, "group_name": name or f"group{group_id}", "domain_id": None, "enabled": enabled,
            **_removed(removed)}


def member(group_id: int, user_id: int, *, removed: bool = False) -> Row:
    return {"group_id": group_id, "user_id": user_id, **_removed(removed)}


def folder(folder_id: int, parent: int | None, *, inherits: bool, path: str | None = None,
           removed: bool = False) -> Row:
    return {"folder_id": folder_id, "folder_name": f"f{folder_id}", "folder_path": path or f"\\f{folder_id}",
            "parent_folder_id": parent, "inherit_permissions": inherits, **_removed(removed)}


def folder_perm(perm_id: int, folder_id: int, *, user_id: int | None = None, group_id: int | None = None,
                secret_role: str = "View", folder_role: str = "View", removed: bool = False) -> Row:
    return {"folder_permission_id": perm_id, "folder_id": folder_id, "user_id": user_id, "group_id": group_id,
            "folder_access_role": folder_role, "secret_access_role": secret_role, **_removed(removed)}


def secret(secret_id: int, folder_id: int | None, *, inherits: bool = True, active: bool = True,
           removed: bool = False) -> Row:
    return {"secret_id": secret_id, "secret_name": f"secret{secret_id}", "folder_id": folder_id, "active": active,
            "inherits_permissions": inherits, **_removed(removed)}


def secret_perm(perm_id: int, secret_id: int, *, user_id: int | None = None, group_id: int | None = None,
                role: str = "View", removed: bool = False) -> Row:
    return {"secret_permission_id": perm_id, "secret_id": secret_id, "user_id": user_id, "group_id": group_id,
            "secret_access_role": role, **_removed(removed)}


def snapshot(*rows: Row) -> Snapshot:
    """Sort rows into their tables by the key they carry."""
    out: Snapshot = {t: [] for t in ("users", "groups", "group_members", "folders", "folder_permissions",
                                     "secrets", "secret_permissions")}
    for row in rows:
        if "secret_permission_id" in row:
            out["secret_permissions"].append(row)
        elif "folder_permission_id" in row:
            out["folder_permissions"].append(row)
        elif "secret_id" in row:
            out["secrets"].append(row)
        elif "folder_id" in row:
            out["folders"].append(row)
        elif "group_id" in row and "user_id" in row:
            out["group_members"].append(row)
        elif "group_id" in row:
            out["groups"].append(row)
        else:
            out["users"].append(row)
    return out
