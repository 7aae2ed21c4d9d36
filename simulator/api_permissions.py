"""Folder and secret permissions: search, create, update (role change), delete.

The rules (see simulator/api.py for the reasons): one permission per principal on a folder or
secret, so a second POST for the same principal answers 400 ``API_DuplicatePermission`` and a role
change is a PUT on the permission's id; a POST on an inheriting folder answers 400
``API_PermissionsAreInherited`` unless ``breakInheritance`` is true; a POST on an inheriting secret
breaks the secret's inheritance, copying its folder's permissions first.
"""

from __future__ import annotations

from typing import Any

from simulator import render
from simulator.api_base import ApiBase, Request, Result, access_denied
from simulator.binding import (
    CREATE_FOLDER_PERMISSION,
    CREATE_SECRET_PERMISSION,
    UPDATE_FOLDER_PERMISSION,
    UPDATE_SECRET_PERMISSION,
    bind,
    invalid,
)
from simulator.paging import BadRequest, Filters
from simulator.records import FOLDER_ROLES, FOLDER_SECRET_ROLES, SECRET_ROLES, canonical_role


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


class PermissionsApi(ApiBase):
    """Folder and secret permissions."""

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
        if "userId" in body and body["userId"] is not None:
            return int(self._get_user(body["userId"]).personal_group_id)
        if "groupId" in body and body["groupId"] is not None:
            group = org.group_map.get(body["groupId"])
            if group is None:
                raise access_denied()
            return int(group.id)
        domain_id = None
        if body.get("domainName"):
            wanted = str(body["domainName"]).lower()
            domain_id = next((d.id for d in org.domains.values()
                              if wanted in (d.name.lower(), d.friendly_name.lower())), None)
            if domain_id is None:
                raise access_denied()
        if body.get("userName") is not None:
            user = org.find_user(body["userName"], domain_id)
            if user is None:
                raise access_denied()
            return int(user.personal_group_id)
        wanted = str(body["groupName"]).lower()
        found = next((g.id for g in org.group_map.values() if g.personal_user_id is None
                      and g.name.lower() == wanted and (domain_id is None or g.domain_id == domain_id)), None)
        if found is None:
            raise access_denied()
        return int(found)

    def _holder(self, group_id: int) -> tuple[int | None, int | None]:
        """(user id, group id) for `Organization.grant_*`: a personal group stands for its user."""
        group = self.org.group_map[group_id]
        return (group.personal_user_id, None) if group.personal_user_id is not None else (None, group_id)

    # ------------------------------------------------------------------ folder permissions
    def search_folder_permissions(self, req: Request) -> Result:
        def candidates(f: Filters) -> list[Any]:
            folder_id, group_id, user_id = f.int("folderId"), f.int("groupId"), f.int("userId")
            org = self.org
            source = org.folder_perms.values() if folder_id is None else \
                [org.folder_perms[p] for p in org.folder_perms_by_folder.get(folder_id, ())]
            return sorted((p for p in source if (group_id is None or p.group_id == group_id)
                           and (user_id is None or p.user_id == user_id)), key=lambda p: p.id)

        return self._page(req, ("folder_permissions",), candidates, self._r(render.folder_permission_record))

    def _get_folder_permission(self, permission_id: int) -> Any:
        perm = self.org.folder_perms.get(permission_id)
        if perm is None:
            raise access_denied()
        return perm

    def get_folder_permission(self, req: Request) -> Result:
        with self.org.lock:
            return 200, render.folder_permission_record(self.org, self._get_folder_permission(req.id()))

    def create_folder_permission(self, req: Request) -> Result:
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
                for perm_id in org.folder_perms_by_folder.get(folder.id, ()):
                    if org.folder_perms[perm_id].group_id == principal:
                        raise _duplicate("folder", perm_id)
            user_id, group_id = self._holder(principal)
            perm_id = org.grant_folder_permission(folder.id, user_id=user_id, group_id=group_id,
                                                  folder_access_role=folder_role, secret_access_role=secret_role)
            return 200, render.folder_permission_record(org, org.folder_perms[perm_id])

    def update_folder_permission(self, req: Request) -> Result:
        body = bind(req.body, UPDATE_FOLDER_PERMISSION)
        if body["id"] != req.id():
            raise _mismatch("id", body["id"], req.id())
        folder_role = _role(body["folderAccessRoleName"], FOLDER_ROLES)
        given_secret_role = body.get("secretAccessRoleName")
        org = self.org
        with org.lock:
            perm = self._get_folder_permission(req.id())
            if body["folderId"] != perm.folder_id:
                raise _mismatch("folderId", body["folderId"], perm.folder_id)
            secret_role = perm.secret_role if given_secret_role is None else _role(given_secret_role,
                                                                                  FOLDER_SECRET_ROLES)
            org.update_folder_permission(perm.id, folder_role, secret_role)
            return 200, render.folder_permission_record(org, perm)

    def delete_folder_permission(self, req: Request) -> Result:
        req.flag("breakInheritance")  # bound (a malformed value answers 400); see simulator/api.py
        with self.org.lock:
            self._get_folder_permission(req.id())
            self.org.revoke_folder_permission(req.id())
        return 200, render.deleted(req.id(), "FolderPermission")

    # ------------------------------------------------------------------ secret permissions
    def search_secret_permissions(self, req: Request) -> Result:
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

        return self._page(req, ("secret_permissions",), candidates, self._r(render.secret_permission_record))

    def _get_secret_permission(self, permission_id: int) -> Any:
        perm = self.org.secret_perms.get(permission_id)
        if perm is None:
            raise access_denied()
        return perm

    def get_secret_permission(self, req: Request) -> Result:
        with self.org.lock:
            return 200, render.secret_permission_record(self.org, self._get_secret_permission(req.id()))

    def create_secret_permission(self, req: Request) -> Result:
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
                for perm_id in org.secret_perms_by_secret.get(secret.id, ()):
                    if org.secret_perms[perm_id].group_id == principal:
                        raise _duplicate("secret", perm_id)
            user_id, group_id = self._holder(principal)
            perm_id = org.grant_secret_permission(secret.id, user_id=user_id, group_id=group_id, role=role)
            return 200, render.secret_permission_record(org, org.secret_perms[perm_id])

    def update_secret_permission(self, req: Request) -> Result:
        body = bind(req.body, UPDATE_SECRET_PERMISSION)
        if body["id"] != req.id():
            raise _mismatch("id", body["id"], req.id())
        role = _role(body["secretAccessRoleName"], SECRET_ROLES)
        org = self.org
        with org.lock:
            perm = self._get_secret_permission(req.id())
            if body["secretId"] != perm.secret_id:
                raise _mismatch("secretId", body["secretId"], perm.secret_id)
            org.update_secret_permission(perm.id, role)
            return 200, render.secret_permission_record(org, perm)

    def delete_secret_permission(self, req: Request) -> Result:
        with self.org.lock:
            self._get_secret_permission(req.id())
            self.org.revoke_secret_permission(req.id())
        return 200, render.deleted(req.id(), "SecretPermission")
