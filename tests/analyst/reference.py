"""Effective access computed in plain Python, independently of the SQL: for each secret, walk up from its
folder to the folder whose permissions apply, then expand each permission row to users.

The rules are the README's ("Effective access"); this is a second, differently shaped implementation of
them (the SQL descends from permission sources; this climbs from each secret). A snapshot holds one Secret Server
instance, so every path is computed within one instance; several instances are computed each on its own.
"""

from __future__ import annotations

from collections import defaultdict
from typing import Any

from tests.analyst.staging import Snapshot

RANK = {"list": 1, "view": 2, "edit": 3, "owner": 4}
NAME = {1: "List", 2: "View", 3: "Edit", 4: "Owner"}

# (user_id, secret_id, role, path_role, via, via_permission_id, via_group_id, via_folder_id)
Path = tuple[int, int, str, str, str, int, int | None, int | None]


def _present(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [r for r in rows if r.get("deleted_at") is None]


def permission_folder(folders: dict[int, dict[str, Any]], folder_id: int | None) -> int | None:
    """The folder whose own permission rows apply to ``folder_id``: climb while the folder inherits and has
    a present parent. None when the folder is absent or the climb loops."""
    seen: set[int] = set()
    current = folders.get(folder_id) if folder_id is not None else None
    while current is not None:
        if current["folder_id"] in seen:
            return None
        seen.add(current["folder_id"])
        parent = folders.get(current["parent_folder_id"]) if current["parent_folder_id"] is not None else None
        if not current["inherit_permissions"] or parent is None:
            return int(current["folder_id"])
        current = parent
    return None


def effective_paths(snapshot: Snapshot) -> set[Path]:
    users = {u["user_id"] for u in _present(snapshot.get("users", []))}
    groups = {g["group_id"] for g in _present(snapshot.get("groups", []))}
    members: dict[int, set[int]] = defaultdict(set)
    for m in _present(snapshot.get("group_members", [])):
        members[m["group_id"]].add(m["user_id"])
    folders = {f["folder_id"]: f for f in _present(snapshot.get("folders", []))}
    folder_perms: dict[int, list[dict[str, Any]]] = defaultdict(list)
    for p in _present(snapshot.get("folder_permissions", [])):
        folder_perms[p["folder_id"]].append(p)
    secret_perms: dict[int, list[dict[str, Any]]] = defaultdict(list)
    for p in _present(snapshot.get("secret_permissions", [])):
        secret_perms[p["secret_id"]].append(p)

    paths: list[tuple[int, int, int, str, int, int | None, int | None]] = []
    for secret in _present(snapshot.get("secrets", [])):
        if secret["inherits_permissions"]:
            source = permission_folder(folders, secret["folder_id"])
            grants = [(p, p["folder_permission_id"]) for p in folder_perms.get(source, [])] if source else []
        else:
            source = None
            grants = [(p, p["secret_permission_id"]) for p in secret_perms.get(secret["secret_id"], [])]
        for perm, perm_id in grants:
            rank = RANK.get(str(perm["secret_access_role"]).strip().lower())
            if rank is None:
                continue
            if perm["user_id"] is not None:
                if perm["user_id"] in users:
                    via = "folder" if source else "direct"
                    paths.append((perm["user_id"], secret["secret_id"], rank, via, perm_id, None, source))
            elif perm["group_id"] in groups:
                via = "folder group" if source else "group"
                for user_id in members.get(perm["group_id"], ()):
                    if user_id in users:
                        paths.append((user_id, secret["secret_id"], rank, via, perm_id, perm["group_id"], source))

    best: dict[tuple[int, int], int] = {}
    for user_id, secret_id, rank, *_ in paths:
        best[(user_id, secret_id)] = max(rank, best.get((user_id, secret_id), 0))
    return {(u, s, NAME[best[(u, s)]], NAME[rank], via, pid, gid, fid)
            for u, s, rank, via, pid, gid, fid in paths}


def strongest_roles(snapshot: Snapshot) -> dict[tuple[int, int], str]:
    return {(u, s): role for u, s, role, *_ in effective_paths(snapshot)}


def effective_paths_per_instance(snapshots: dict[str, Snapshot]) -> dict[str, set[Path]]:
    """The paths of each instance, from that instance's snapshot alone."""
    return {instance: effective_paths(snapshot) for instance, snapshot in snapshots.items()}


def unreachable_secret_ids(snapshot: Snapshot) -> set[int]:
    """Present secrets that no enabled user reaches other than through a disabled group."""
    enabled_users = {u["user_id"] for u in _present(snapshot["users"]) if u["enabled"]}
    enabled_groups = {g["group_id"] for g in _present(snapshot["groups"]) if g["enabled"]}
    live = {s for u, s, _, _, _, _, group, _ in effective_paths(snapshot)
            if u in enabled_users and (group is None or group in enabled_groups)}
    return {s["secret_id"] for s in _present(snapshot["secrets"])} - live


def orphan_user_ids(snapshot: Snapshot) -> set[int]:
    """Enabled users in no group (the local Everyone does not count) and holding no permission of their own."""
    groups = {g["group_id"] for g in _present(snapshot["groups"])
              if not (g["group_name"] == "Everyone" and g["domain_id"] is None)}
    grouped = {m["user_id"] for m in _present(snapshot["group_members"]) if m["group_id"] in groups}
    holders = {p["user_id"] for t in ("folder_permissions", "secret_permissions") for p in _present(snapshot[t])}
    return {u["user_id"] for u in _present(snapshot["users"]) if u["enabled"]} - grouped - holders


# (folder_id, owner_kind, user_id, group_id, folder_permission_id)
Owner = tuple[int, str, int | None, int | None, int]


def folder_owners(snapshot: Snapshot) -> set[Owner]:
    """Users and groups holding the Owner folder role on each present folder, from its permission source."""
    folders = {f["folder_id"]: f for f in _present(snapshot["folders"])}
    users = {u["user_id"] for u in _present(snapshot["users"])}
    groups = {g["group_id"] for g in _present(snapshot["groups"])}
    owners: set[Owner] = set()
    for folder_id in folders:
        source = permission_folder(folders, folder_id)
        for p in _present(snapshot["folder_permissions"]):
            if source is None or p["folder_id"] != source or str(p["folder_access_role"]).lower() != "owner":
                continue
            if p["user_id"] is not None and p["user_id"] in users:
                owners.add((folder_id, "user", p["user_id"], None, p["folder_permission_id"]))
            elif p["user_id"] is None and p["group_id"] in groups:
                owners.add((folder_id, "group", None, p["group_id"], p["folder_permission_id"]))
    return owners
