"""Folder and secret permissions: search, read, create, update (role change), delete.

The rules (see simulator/api.py for the reasons): one permission per principal on a folder or
secret, so a second POST for the same principal answers 400 ``API_DuplicatePermission`` and a role
change is a PUT on the permission's id; a POST on an inheriting folder answers 400
``API_PermissionsAreInherited`` unless ``breakInheritance`` is true; a POST on an inheriting secret
breaks the secret's inheritance, copying its folder's permissions first.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from simulator import render
from simulator.binding import (
    CREATE_FOLDER_PERMISSION,
    CREATE_SECRET_PERMISSION,
    UPDATE_FOLDER_PERMISSION,
    UPDATE_SECRET_PERMISSION,
    bind,
    invalid,
)
from simulator.paging import BadRequest, Filters
from simulator.records import (
    FOLDER_ROLES,
    FOLDER_SECRET_ROLES,
    SECRET_ROLES,
    FolderPermission,
    SecretPermission,
    canonical_role,
)
from simulator.routes.base import V1, Request, Resource, Result, Route, existing


def _role(name: str, roles: dict[str, int]) -> str:
    role = canonical_role(name, roles)
    if role is None:
        raise BadRequest(f"Invalid role name '{name}'.", "API_GenericException")
    return role


def _mismatch(name: str, given: int, actual: int) -> BadRequest:
    return invalid(f"{name} {given} does not match the permission's {name} ({actual}).", name,
                   f"Expected {actual}.")


def _duplicate(kind: str, existing: int | None) -> BadRequest:
    detail = (f"The principal already has permission {existing} on this {kind}; change its role with "
              f"PUT /{kind}-permissions/{existing}." if existing is not None else
              f"The principal already has access to this {kind} through the permissions it inherits; "
              "change that permission where it is set. Nothing was changed.")
    return BadRequest("A permission for this user or group already exists.", "API_DuplicatePermission", detail)


def _refuse_second(kind: str, principal: int, records: Mapping[int, FolderPermission | SecretPermission],
                   ids: Iterable[int]) -> None:
    """400 ``API_DuplicatePermission`` when the principal already holds one of these permissions."""
    for perm_id in ids:
        if records[perm_id].group_id == principal:
            raise _duplicate(kind, perm_id)


class _PermissionResource(Resource):
    """Who a permission body names, shared by folder and secret permissions."""

    def _principal(self, body: dict[str, Any], names_allowed: bool) -> int:
        """The principal's group id (a user's personal group) named by a permission body: exactly
        one of ``userId``, ``groupId`` (and, for secrets, ``userName`` or ``groupName`` with an
        optional ``domainName``). Unknown ones answer ``API_AccessDenied``."""
        given = [name for name in ("userId", "groupId", "userName", "groupName") if body.get(name) is not None]
        if len(given) != 1:
            choices = "userId, groupId, userName or groupName" if names_allowed else "userId or groupId"
            raise invalid(f"Give exactly one of {choices}; got {', '.join(given) or 'none'}.",
                          given[1] if len(given) > 1 else "userId", f"Exactly one of {choices} is required.")
        if body.get("domainName") is not None and given[0] not in ("userName", "groupName"):
            raise invalid("domainName goes with userName or groupName.", "domainName", "Unexpected with an id.")
        org = self.org
        if body.get("userId") is not None:
            return int(self._get_user(body["userId"]).personal_group_id)
        if body.get("groupId") is not None:
            return int(existing(org.group_map.get(body["groupId"])).id)
        domain_id = None
        if body.get("domainName"):
            domain_id = existing(org.domain_id(str(body["domainName"])))
        if body.get("userName") is not None:
            return int(existing(org.find_user(body["userName"], domain_id)).personal_group_id)
        wanted = str(body["groupName"]).lower()
        return int(existing(next((g.id for g in org.group_map.values() if g.personal_user_id is None
                                  and g.name.lower() == wanted and (domain_id is None or g.domain_id == domain_id)),
                                 None)))

    def _holder(self, group_id: int) -> tuple[int | None, int | None]:
        """(user id, group id) for `Organization.grant_*`: a personal group stands for its user."""
        group = self.org.group_map[group_id]
        return (group.personal_user_id, None) if group.personal_user_id is not None else (None, group_id)


class FolderPermissions(_PermissionResource):
    """The /folder-permissions endpoints."""

    def routes(self) -> list[Route]:
        """GET/POST /folder-permissions, GET/PUT/DELETE /folder-permissions/{id}."""
        return [
            ("GET", f"{V1}/folder-permissions", self.search_folder_permissions, "folder_permissions"),
            ("POST", f"{V1}/folder-permissions", self.create_folder_permission, None),
            ("GET", f"{V1}/folder-permissions/{{id}}", self.get_folder_permission, None),
            ("PUT", f"{V1}/folder-permissions/{{id}}", self.update_folder_permission, None),
            ("DELETE", f"{V1}/folder-permissions/{{id}}", self.delete_folder_permission, None),
        ]

    def record(self, p: FolderPermission) -> dict[str, Any]:
        """The GET /folder-permissions record of a permission."""
        return render.folder_permission_record(p, *self.org.permission_holder(p))

    def search_folder_permissions(self, req: Request) -> Result:
        """GET /folder-permissions: by folder, group or user."""
        def candidates(f: Filters) -> list[Any]:
            folder_id, group_id, user_id = f.int("folderId"), f.int("groupId"), f.int("userId")
            org = self.org
            source = org.folder_perms.values() if folder_id is None else \
                [org.folder_perms[p] for p in org.folder_perms_by_folder.get(folder_id, ())]
            return sorted((p for p in source if (group_id is None or p.group_id == group_id)
                           and (user_id is None or p.user_id == user_id)), key=lambda p: p.id)

        return self.pager.page(req, ("folder_permissions",), candidates, self.record)

    def get_folder_permission(self, req: Request) -> Result:
        """GET /folder-permissions/{id}."""
        with self.org.lock:
            return 200, self.record(existing(self.org.folder_perms.get(req.id())))

    def create_folder_permission(self, req: Request) -> Result:
        """POST /folder-permissions: on an inheriting folder only with ``breakInheritance``."""
        body = bind(req.body, CREATE_FOLDER_PERMISSION)
        folder_role = _role(body["folderAccessRoleName"], FOLDER_ROLES)
        secret_role = _role(body["secretAccessRoleName"], FOLDER_SECRET_ROLES)
        org = self.org
        with org.lock:
            folder = self._get_folder(body["folderId"])
            principal = self._principal(body, names_allowed=False)
            if folder.inherit_permissions:
                if not body.get("breakInheritance"):
                    # The PowerShell module (New-TssFolderPermission) compares `message` with this code.
                    raise BadRequest("API_PermissionsAreInherited", "API_PermissionsAreInherited",
                                     f"Folder {folder.id} inherits its permissions; set breakInheritance to "
                                     "true to copy them onto the folder and add this one.")
                if any(p.group_id == principal for p in org.inherited_folder_permissions(folder.id)):
                    raise _duplicate("folder", None)
                org.set_folder_inherit_permissions(folder.id, False)
            else:
                _refuse_second("folder", principal, org.folder_perms, org.folder_perms_by_folder.get(folder.id, ()))
            user_id, group_id = self._holder(principal)
            perm_id = org.grant_folder_permission(folder.id, user_id=user_id, group_id=group_id,
                                                  folder_access_role=folder_role, secret_access_role=secret_role)
            return 200, self.record(org.folder_perms[perm_id])

    def update_folder_permission(self, req: Request) -> Result:
        """PUT /folder-permissions/{id}: a role change (without ``secretAccessRoleName`` the secret role stays)."""
        body = bind(req.body, UPDATE_FOLDER_PERMISSION)
        if body["id"] != req.id():
            raise _mismatch("id", body["id"], req.id())
        folder_role = _role(body["folderAccessRoleName"], FOLDER_ROLES)
        given_secret_role = body.get("secretAccessRoleName")
        org = self.org
        with org.lock:
            perm = existing(org.folder_perms.get(req.id()))
            if body["folderId"] != perm.folder_id:
                raise _mismatch("folderId", body["folderId"], perm.folder_id)
            secret_role = perm.secret_role if given_secret_role is None else _role(given_secret_role,
                                                                                  FOLDER_SECRET_ROLES)
            org.update_folder_permission(perm.id, folder_role, secret_role)
            return 200, self.record(perm)

    def delete_folder_permission(self, req: Request) -> Result:
        """DELETE /folder-permissions/{id}."""
        req.flag("breakInheritance")  # bound (a malformed value answers 400); see simulator/api.py
        with self.org.lock:
            existing(self.org.folder_perms.get(req.id()))
            self.org.revoke_folder_permission(req.id())
        return 200, render.deleted(req.id(), "FolderPermission")


class SecretPermissions(_PermissionResource):
    """The /secret-permissions endpoints."""

    def routes(self) -> list[Route]:
        """GET/POST /secret-permissions, GET/PUT/DELETE /secret-permissions/{id}."""
        return [
            ("GET", f"{V1}/secret-permissions", self.search_secret_permissions, "secret_permissions"),
            ("POST", f"{V1}/secret-permissions", self.create_secret_permission, None),
            ("GET", f"{V1}/secret-permissions/{{id}}", self.get_secret_permission, None),
            ("PUT", f"{V1}/secret-permissions/{{id}}", self.update_secret_permission, None),
            ("DELETE", f"{V1}/secret-permissions/{{id}}", self.delete_secret_permission, None),
        ]

    def record(self, p: SecretPermission) -> dict[str, Any]:
        """The GET /secret-permissions record of a permission."""
        return render.secret_permission_record(p, *self.org.permission_holder(p))

    def search_secret_permissions(self, req: Request) -> Result:
        """GET /secret-permissions: by secret, group or user (id or name)."""
        def candidates(f: Filters) -> list[Any]:
            secret_id, group_id, user_id = f.int("secretId"), f.int("groupId"), f.int("userId")
            user_name, group_name = f.text("userName"), f.text("groupName")
            org = self.org
            source = org.secret_perms.values() if secret_id is None else \
                [org.secret_perms[p] for p in org.secret_perms_by_secret.get(secret_id, ())]
            out = []
            for p in source:
                if (group_id is not None and p.group_id != group_id) or (user_id is not None and p.user_id != user_id):
                    continue
                holder_user = org.user_map[p.user_id].user_name.lower() if p.user_id is not None else None
                holder_group = org.group_map[p.group_id].name.lower() if p.user_id is None else None
                if user_name and holder_user != user_name.lower():
                    continue
                if group_name and holder_group != group_name.lower():
                    continue
                out.append(p)
            return sorted(out, key=lambda p: p.id)

        return self.pager.page(req, ("secret_permissions",), candidates, self.record)

    def get_secret_permission(self, req: Request) -> Result:
        """GET /secret-permissions/{id}."""
        with self.org.lock:
            return 200, self.record(existing(self.org.secret_perms.get(req.id())))

    def create_secret_permission(self, req: Request) -> Result:
        """POST /secret-permissions: on an inheriting secret, inheritance is broken first."""
        body = bind(req.body, CREATE_SECRET_PERMISSION)
        role = _role(body["secretAccessRoleName"], SECRET_ROLES)
        org = self.org
        with org.lock:
            secret = self._get_secret(body["secretId"], include_inactive=True)
            principal = self._principal(body, names_allowed=True)
            if secret.inherits_permissions:
                # Secret Server breaks a secret's inheritance when a permission is added to it, copying the
                # folder's list first (New-TssSecretPermission -Force relies on this).
                if any(group_id == principal for group_id, _, _ in org.inherited_secret_permissions(secret.id)):
                    raise _duplicate("secret", None)
                org.set_secret_inherits_permissions(secret.id, False)
            else:
                _refuse_second("secret", principal, org.secret_perms, org.secret_perms_by_secret.get(secret.id, ()))
            user_id, group_id = self._holder(principal)
            perm_id = org.grant_secret_permission(secret.id, user_id=user_id, group_id=group_id, role=role)
            return 200, self.record(org.secret_perms[perm_id])

    def update_secret_permission(self, req: Request) -> Result:
        """PUT /secret-permissions/{id}: a role change."""
        body = bind(req.body, UPDATE_SECRET_PERMISSION)
        if body["id"] != req.id():
            raise _mismatch("id", body["id"], req.id())
        role = _role(body["secretAccessRoleName"], SECRET_ROLES)
        org = self.org
        with org.lock:
            perm = existing(org.secret_perms.get(req.id()))
            if body["secretId"] != perm.secret_id:
                raise _mismatch("secretId", body["secretId"], perm.secret_id)
            org.update_secret_permission(perm.id, role)
            return 200, self.record(perm)

    def delete_secret_permission(self, req: Request) -> Result:
        """DELETE /secret-permissions/{id}."""
        with self.org.lock:
            existing(self.org.secret_perms.get(req.id()))
            self.org.revoke_secret_permission(req.id())
        return 200, render.deleted(req.id(), "SecretPermission")
