"""The organization's data: records by id, the indexes that keep lookups cheap, one lock, a version.

Everything else in simulator/state builds on `Store`: the changes (people.py, objects.py,
permissions.py) and the read accessors tests compare against (truth.py). One re-entrant lock guards
it all; every change bumps `version`, which invalidates the server's cached search results.
"""

from __future__ import annotations

import threading
from typing import TypeVar

from simulator.records import (
    ROOT_FOLDER_ID,
    Domain,
    Folder,
    FolderPermission,
    Group,
    Secret,
    SecretPermission,
    User,
)

K = TypeVar("K")
V = TypeVar("V")

SIM_NOW = "2024-06-01T09:00:00"  # the simulator's "now" for records created at run time


class NotFound(KeyError):
    """An id that the organization does not hold."""


class Store:
    """Users, groups, memberships, folders, secrets and permissions by id, with their indexes."""

    def __init__(self) -> None:
        self.lock = threading.RLock()
        self.version = 0
        self.domains: dict[int, Domain] = {}
        self.user_map: dict[int, User] = {}
        self.group_map: dict[int, Group] = {}  # includes personal groups (see Group.personal_user_id)
        self.members: dict[int, dict[int, None]] = {}  # group id -> ordered set of user ids
        self.user_groups: dict[int, set[int]] = {}  # user id -> group ids
        self.folder_map: dict[int, Folder] = {}
        self.folder_children: dict[int, list[int]] = {ROOT_FOLDER_ID: []}
        self.folder_perms: dict[int, FolderPermission] = {}
        self.folder_perms_by_folder: dict[int, dict[int, None]] = {}
        self.secret_map: dict[int, Secret] = {}
        self.secrets_by_folder: dict[int, dict[int, None]] = {}
        self.secret_perms: dict[int, SecretPermission] = {}
        self.secret_perms_by_secret: dict[int, dict[int, None]] = {}
        self.everyone_group_id: int | None = None
        self._next = {"user": 1, "group": 1, "folder": 1, "folder_perm": 1, "secret": 1,
                      "secret_perm": 1}

    # ------------------------------------------------------------------ ids and version
    def _new_id(self, kind: str) -> int:
        value = self._next[kind]
        self._next[kind] = value + 1
        return value

    def _touch(self) -> None:
        self.version += 1

    # ------------------------------------------------------------------ lookups that raise NotFound
    def _user(self, user_id: int) -> User:
        return _found(self.user_map, user_id, "user")

    def _group(self, group_id: int) -> Group:
        return _found(self.group_map, group_id, "group")

    def _folder(self, folder_id: int) -> Folder:
        return _found(self.folder_map, folder_id, "folder")

    def _secret(self, secret_id: int) -> Secret:
        return _found(self.secret_map, secret_id, "secret")

    def _principal(self, user_id: int | None, group_id: int | None) -> tuple[int, int | None]:
        """(group id, user id) of a permission holder: a user acts through its personal group."""
        if user_id is not None:
            return self._user(user_id).personal_group_id, user_id
        if group_id is None:
            raise ValueError("a permission needs user_id or group_id")
        group = self._group(group_id)
        return group.id, group.personal_user_id

    # ------------------------------------------------------------------ lookups for the API
    def domain_name(self, domain_id: int) -> str | None:
        """The DNS name of a domain, or None (local accounts, unknown ids)."""
        domain = self.domains.get(domain_id)
        return domain.name if domain else None

    def domain_id(self, name: str) -> int | None:
        """The id of a domain given by its DNS or NetBIOS-style name (case-insensitive), or None."""
        wanted = name.lower()
        return next((d.id for d in self.domains.values() if wanted in (d.name.lower(), d.friendly_name.lower())),
                    None)

    def permission_holder(self, p: FolderPermission | SecretPermission) -> tuple[Group, User | None]:
        """The group and (for a user's permission) the user a permission record stands for."""
        return self.group_map[p.group_id], None if p.user_id is None else self.user_map[p.user_id]

    def find_user(self, user_name: str, domain_id: int | None = None) -> User | None:
        """The first user with this name (case-insensitive), in this domain if one is given."""
        with self.lock:
            lowered = user_name.lower()
            for user in self.user_map.values():
                if user.user_name.lower() == lowered and (domain_id is None or user.domain_id == domain_id):
                    return user
            return None

    def descendant_folder_ids(self, folder_id: int) -> list[int]:
        """The folder and every folder below it, depth first."""
        with self.lock:
            out, stack = [], [folder_id]
            while stack:
                current = stack.pop()
                out.append(current)
                stack.extend(reversed(self.folder_children.get(current, ())))
            return out

    # ------------------------------------------------------------------ permission records and their indexes
    def _insert_folder_perm(self, folder_id: int, group_id: int, user_id: int | None,
                            folder_role: str, secret_role: str) -> int:
        perm_id = self._new_id("folder_perm")
        self.folder_perms[perm_id] = FolderPermission(perm_id, folder_id, group_id, user_id,
                                                      folder_role, secret_role)
        self.folder_perms_by_folder[folder_id][perm_id] = None
        return perm_id

    def _delete_folder_perm(self, permission_id: int) -> None:
        perm = self.folder_perms.pop(permission_id)
        self.folder_perms_by_folder[perm.folder_id].pop(permission_id, None)

    def _insert_secret_perm(self, secret_id: int, group_id: int, user_id: int | None, role: str) -> int:
        perm_id = self._new_id("secret_perm")
        self.secret_perms[perm_id] = SecretPermission(perm_id, secret_id, group_id, user_id, role)
        self.secret_perms_by_secret[secret_id][perm_id] = None
        return perm_id

    def _delete_secret_perm(self, permission_id: int) -> None:
        perm = self.secret_perms.pop(permission_id)
        self.secret_perms_by_secret[perm.secret_id].pop(permission_id, None)


def _found(records: dict[K, V], key: K, kind: str) -> V:
    try:
        return records[key]
    except KeyError:
        raise NotFound(f"{kind} {key}") from None
