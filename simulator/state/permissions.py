"""Permissions, following Secret Server's inheritance model.

A folder with `inheritPermissions` takes the permissions of its nearest ancestor that does not
inherit, and a secret with `inheritsPermissions` takes its folder's. Only non-inheriting folders and
secrets carry their own permission records, one per principal (a user's stands on its personal
group). Granting on an inheriting folder or secret through this API breaks inheritance first,
copying the inherited permissions onto it, as Secret Server does when inheritance is turned off.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from simulator.records import (
    FOLDER_ROLES,
    FOLDER_SECRET_ROLES,
    ROOT_FOLDER_ID,
    SECRET_ROLES,
    FolderPermission,
    SecretPermission,
    canonical_role,
)
from simulator.state.store import NotFound, Store


class Permissions(Store):
    """Grants, role changes, revocations and inheritance of folder and secret permissions."""

    # ------------------------------------------------------------------ inheritance
    def permission_source_folder(self, folder_id: int) -> int | None:
        """The folder whose permission records apply to `folder_id` (nearest non-inheriting)."""
        with self.lock:
            current = folder_id
            while current != ROOT_FOLDER_ID:
                folder = self.folder_map[current]
                if not folder.inherit_permissions:
                    return current
                current = folder.parent_id
            return None

    def _effective_folder_permissions(self, folder_id: int) -> list[FolderPermission]:
        source = self.permission_source_folder(folder_id)
        if source is None:
            return []
        return [self.folder_perms[p] for p in self.folder_perms_by_folder.get(source, {})]

    def inherited_folder_permissions(self, folder_id: int) -> list[FolderPermission]:
        """The parent's effective permissions: what breaking this folder's inheritance copies."""
        with self.lock:
            return self._effective_folder_permissions(self._folder(folder_id).parent_id)

    def inherited_secret_permissions(self, secret_id: int) -> list[tuple[int, int | None, str]]:
        """(group id, user id, secret role) from the folder's effective permissions: what breaking
        this secret's inheritance copies (a folder permission whose secret role is None gives none)."""
        with self.lock:
            perms = self._effective_folder_permissions(self._secret(secret_id).folder_id)
            return [(p.group_id, p.user_id, p.secret_role) for p in perms if p.secret_role != "None"]

    def set_folder_inherit_permissions(self, folder_id: int, inherit: bool) -> None:
        """Turn inheritance on (dropping own records) or off (copying the inherited ones)."""
        with self.lock:
            folder = self._folder(folder_id)
            if inherit == folder.inherit_permissions:
                return
            if inherit:
                for perm_id in list(self.folder_perms_by_folder[folder_id]):
                    self._delete_folder_perm(perm_id)
            else:
                for perm in self.inherited_folder_permissions(folder_id):
                    self._insert_folder_perm(folder_id, perm.group_id, perm.user_id,
                                             perm.folder_role, perm.secret_role)
            folder.inherit_permissions = inherit
            self._touch()

    def set_secret_inherits_permissions(self, secret_id: int, inherits: bool) -> None:
        """Turn inheritance on (dropping own records) or off (copying the folder's)."""
        with self.lock:
            secret = self._secret(secret_id)
            if inherits == secret.inherits_permissions:
                return
            if inherits:
                for perm_id in list(self.secret_perms_by_secret[secret_id]):
                    self._delete_secret_perm(perm_id)
            else:
                for group_id, user_id, role in self.inherited_secret_permissions(secret_id):
                    self._insert_secret_perm(secret_id, group_id, user_id, role)
            secret.inherits_permissions = inherits
            self._touch()

    # ------------------------------------------------------------------ folder permissions
    def grant_folder_permission(self, folder_id: int, user_id: int | None = None,
                                group_id: int | None = None, folder_access_role: str = "View",
                                secret_access_role: str = "View") -> int:
        """Give a user or group access to a folder; breaks inheritance first if needed."""
        with self.lock:
            folder = self._folder(folder_id)
            folder_role, secret_role = _folder_roles(folder_access_role, secret_access_role)
            group, user = self._principal(user_id, group_id)
            if folder.inherit_permissions:
                self.set_folder_inherit_permissions(folder_id, False)
            perm_id = _held_by(group, self.folder_perms, self.folder_perms_by_folder[folder_id])
            if perm_id is None:
                perm_id = self._insert_folder_perm(folder_id, group, user, folder_role, secret_role)
            else:  # one record per principal: update it
                existing = self.folder_perms[perm_id]
                existing.folder_role, existing.secret_role = folder_role, secret_role
            self._touch()
            return perm_id

    def update_folder_permission(self, permission_id: int, folder_access_role: str,
                                 secret_access_role: str) -> None:
        """Change the roles of an existing folder permission (PUT /folder-permissions/{id})."""
        with self.lock:
            perm = self.folder_perms.get(permission_id)
            if perm is None:
                raise NotFound(f"folder permission {permission_id}")
            perm.folder_role, perm.secret_role = _folder_roles(folder_access_role, secret_access_role)
            self._touch()

    def revoke_folder_permission(self, permission_id: int) -> None:
        """Delete a folder permission record."""
        with self.lock:
            if permission_id not in self.folder_perms:
                raise NotFound(f"folder permission {permission_id}")
            self._delete_folder_perm(permission_id)
            self._touch()

    # ------------------------------------------------------------------ secret permissions
    def grant_secret_permission(self, secret_id: int, user_id: int | None = None,
                                group_id: int | None = None, role: str = "View") -> int:
        """Give a user or group access to a secret; breaks inheritance first if needed."""
        with self.lock:
            secret = self._secret(secret_id)
            canonical = _secret_role(role)
            group, user = self._principal(user_id, group_id)
            if secret.inherits_permissions:
                self.set_secret_inherits_permissions(secret_id, False)
            perm_id = _held_by(group, self.secret_perms, self.secret_perms_by_secret[secret_id])
            if perm_id is None:
                perm_id = self._insert_secret_perm(secret_id, group, user, canonical)
            else:  # one record per principal: update it
                self.secret_perms[perm_id].role = canonical
            self._touch()
            return perm_id

    def update_secret_permission(self, permission_id: int, role: str) -> None:
        """Change the role of an existing secret permission (PUT /secret-permissions/{id})."""
        with self.lock:
            perm = self.secret_perms.get(permission_id)
            if perm is None:
                raise NotFound(f"secret permission {permission_id}")
            perm.role = _secret_role(role)
            self._touch()

    def revoke_secret_permission(self, permission_id: int) -> None:
        """Delete a secret permission record."""
        with self.lock:
            if permission_id not in self.secret_perms:
                raise NotFound(f"secret permission {permission_id}")
            self._delete_secret_perm(permission_id)
            self._touch()


def _folder_roles(folder_access_role: str, secret_access_role: str) -> tuple[str, str]:
    folder_role = canonical_role(folder_access_role, FOLDER_ROLES)
    secret_role = canonical_role(secret_access_role, FOLDER_SECRET_ROLES)
    if folder_role is None or secret_role is None:
        raise ValueError(f"unknown role {folder_access_role!r}/{secret_access_role!r}")
    return folder_role, secret_role


def _secret_role(role: str) -> str:
    canonical = canonical_role(role, SECRET_ROLES)
    if canonical is None:
        raise ValueError(f"unknown secret access role {role!r}")
    return canonical


def _held_by(group_id: int, records: Mapping[int, FolderPermission | SecretPermission],
             ids: Iterable[int]) -> int | None:
    """The id of the record among `ids` that stands for this principal, if any."""
    return next((perm_id for perm_id in ids if records[perm_id].group_id == group_id), None)
