"""Write operations for provisioning.

Creates are not idempotent, yet a transient failure (timeout, dropped connection, 502) may hide a
request the server did carry out; the retry then fails with a 400 ("already exists"). Such an
`ApiError` has ``after_retry`` set, and each create below then looks for the object it meant to
create and returns it when found, so a retried provisioning step neither fails nor duplicates.
Users are never deleted: Secret Server only disables them (`set_user_enabled`).

A principal holds at most one permission per folder or secret: a role change is an update of that
permission (`update_folder_permission`, `update_secret_permission`: PUT on its id, with the
reference's update model, as Thycotic's PowerShell module does), never a second create. Breaking a
folder's inheritance is the caller's decision (`break_inheritance`, off by default); note that
Secret Server breaks a secret's inheritance by itself when a permission is added to it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any, TypeVar, cast

from connectors.secret_server.errors import ApiError
from connectors.secret_server.reads import ReadOperations
from connectors.secret_server.records import (
    DeletedRecord,
    FolderPermissionRecord,
    GroupMemberRecord,
    SecretPermissionRecord,
    UserRecord,
)
from connectors.secret_server.redaction import log, register_secret

P = TypeVar("P", FolderPermissionRecord, SecretPermissionRecord)

# PUT /users/{id}'s model (UserUpdateArgs in the reference), less password and the group-owner fields.
_USER_UPDATE_FIELDS = frozenset({
    "dateOptionId", "displayName", "duoTwoFactor", "emailAddress", "enabled", "fido2TwoFactor", "id",
    "isApplicationAccount", "isLockedOut", "loginFailures", "oathTwoFactor", "radiusTwoFactor", "radiusUserName",
    "timeOptionId", "twoFactor", "unixAuthenticationMethod",
})


def _principal(user_id: int | None, group_id: int | None) -> dict[str, int]:
    if (user_id is None) == (group_id is None):
        raise ValueError("give exactly one of user_id and group_id")
    return {"userId": int(user_id)} if user_id is not None else {"groupId": int(group_id)}  # type: ignore[arg-type]


def _same_principal(record: Any, principal: dict[str, int]) -> bool:
    # A user's permission may also carry the id of the user's personal group; a group's never
    # carries a userId.
    if "userId" in principal:
        return bool(record.get("userId") == principal["userId"])
    return bool(record.get("groupId") == principal["groupId"] and record.get("userId") in (None, 0, -1))


def _find_permission(records: Iterable[P], object_key: str, object_id: int, principal: dict[str, int]) -> P | None:
    """The principal's permission on the object (``object_key`` names the object's id field) among ``records``."""
    for record in records:
        if record.get(object_key, object_id) == object_id and _same_principal(record, principal):
            return record
    return None


class WriteOperations(ReadOperations):
    """The client's writes for provisioning, each safe to retry (see module doc)."""

    # ------------------------------------------------------------------ users
    def create_user(
        self,
        user_name: str,
        password: str,
        *,
        display_name: str | None = None,
        email_address: str | None = None,
        domain_id: int | None = None,
        enabled: bool = True,
        is_application_account: bool = False,
    ) -> UserRecord:
        """Create a user (in AD domain ``domain_id`` if given) and return its model; after a refused retry, the
        user the first attempt created."""
        register_secret(password)
        body: dict[str, Any] = {
            "userName": user_name,
            "password": password,
            "displayName": display_name or user_name,
            "enabled": enabled,
            "isApplicationAccount": is_application_account,
            "twoFactor": False,
        }
        if email_address is not None:
            body["emailAddress"] = email_address
        if domain_id is not None:
            body["domainId"] = int(domain_id)
        try:
            return cast(UserRecord, self._request("POST", "/users", json=body))
        except ApiError as exc:
            if exc.after_retry:
                existing = self.find_user(user_name, domain_id)
                if existing is not None:
                    log.info("create_user %r: an earlier attempt succeeded; using user %s", user_name, existing["id"])
                    return existing
            raise

    def update_user(self, user_id: int, **attributes: Any) -> UserRecord:
        """PATCH only the given attributes (API names, e.g. ``displayName=..., enabled=False``);
        each travels as ``{"dirty": true, "value": ...}``."""
        if not attributes:
            raise ValueError("update_user needs at least one attribute")
        if "password" in attributes:
            register_secret(attributes["password"])
        body: dict[str, Any] = {"id": int(user_id)}
        body.update({name: {"dirty": True, "value": value} for name, value in attributes.items()})
        return cast(UserRecord, self._request("PATCH", f"/users/{int(user_id)}", json=body))

    def set_user_enabled(self, user_id: int, enabled: bool) -> UserRecord:
        """Suspend (False) or restore (True) an account."""
        return self.update_user(user_id, enabled=bool(enabled))

    def reset_password(self, user_id: int, password: str) -> None:
        """Admin password reset: ``POST /users/{id}/password-reset`` (10.9+), else, on servers that
        do not know that route (404/405), ``PUT /users/{id}`` with the user model plus password."""
        register_secret(password)
        uid = int(user_id)
        try:
            result = self._request("POST", f"/users/{uid}/password-reset",
                                   json={"data": {"userId": uid, "password": password}})
        except ApiError as exc:
            if exc.status not in (404, 405):
                raise
            log.info("POST /users/%s/password-reset not supported (HTTP %s); using PUT", uid, exc.status)
            model = self._request("GET", f"/users/{uid}", params={"includeInactive": "true"})
            # The update model's fields only: the user model's others (userName, created...) are not part of it.
            body = {k: v for k, v in model.items() if k in _USER_UPDATE_FIELDS and v is not None}
            self._request("PUT", f"/users/{uid}", json={**body, "id": uid, "password": password})
            return
        if isinstance(result, dict) and result.get("success") is False:
            raise ApiError(status=200, error_code="PasswordResetFailed", message="the server reported success=false",
                           method="POST", path=f"/api/v1/users/{uid}/password-reset")

    # ------------------------------------------------------------------ groups
    def add_group_member(self, group_id: int, user_id: int) -> GroupMemberRecord:
        """Add a user to a group (``POST /groups/{id}/users``)."""
        gid, uid = int(group_id), int(user_id)
        try:
            return cast(GroupMemberRecord, self._request("POST", f"/groups/{gid}/users", json={"userId": uid}))
        except ApiError as exc:
            if exc.after_retry:
                for member in self.iter_group_members(gid):
                    if member.get("userId") == uid:
                        return member
            raise

    def remove_group_member(self, group_id: int, user_id: int) -> DeletedRecord:
        """Remove a user from a group (``DELETE /groups/{id}/users/{userId}``)."""
        return self._delete(f"/groups/{int(group_id)}/users/{int(user_id)}", object_id=int(user_id))

    # ------------------------------------------------------------------ folder permissions
    def grant_folder_permission(
        self,
        folder_id: int,
        *,
        user_id: int | None = None,
        group_id: int | None = None,
        folder_access_role: str,
        secret_access_role: str,
        break_inheritance: bool = False,
    ) -> FolderPermissionRecord:
        """Give a user or group access to a folder. A folder that inherits its parent's permissions
        refuses new ones (``API_PermissionsAreInherited``) unless ``break_inheritance`` is set: then
        the server copies the inherited permissions onto the folder first, and the folder stops
        following its parent. A principal that already holds a permission is refused too (use
        `update_folder_permission`)."""
        principal = _principal(user_id, group_id)
        fid = int(folder_id)
        body = {"folderId": fid, **principal, "folderAccessRoleName": folder_access_role,
                "secretAccessRoleName": secret_access_role, "breakInheritance": bool(break_inheritance)}
        return self._grant("/folder-permissions", body,
                           lambda: _find_permission(self.iter_folder_permissions(fid), "folderId", fid, principal))

    def update_folder_permission(
        self,
        permission_id: int,
        *,
        folder_access_role: str,
        secret_access_role: str | None = None,
        folder_id: int | None = None,
    ) -> FolderPermissionRecord:
        """Change the roles of an existing folder permission (``PUT /folder-permissions/{id}``).

        ``secret_access_role`` None keeps the current secret role. The body names the permission's
        folder; give ``folder_id`` when known, else it is read first (one more call)."""
        pid = int(permission_id)
        if folder_id is None:
            folder_id = int(self._request("GET", f"/folder-permissions/{pid}")["folderId"])
        body: dict[str, Any] = {"id": pid, "folderId": int(folder_id), "folderAccessRoleName": folder_access_role}
        if secret_access_role is not None:
            body["secretAccessRoleName"] = secret_access_role
        return cast(FolderPermissionRecord, self._request("PUT", f"/folder-permissions/{pid}", json=body))

    def revoke_folder_permission(self, permission_id: int, *, break_inheritance: bool = False) -> DeletedRecord:
        """Delete a folder permission; ``break_inheritance`` is sent only when set (the query flag
        that the reference describes as "include to remove permission inheritance")."""
        return self._delete(f"/folder-permissions/{int(permission_id)}", object_id=int(permission_id),
                            params={"breakInheritance": "true"} if break_inheritance else None)

    # ------------------------------------------------------------------ secret permissions
    def grant_secret_permission(
        self,
        secret_id: int,
        *,
        user_id: int | None = None,
        group_id: int | None = None,
        secret_access_role: str,
    ) -> SecretPermissionRecord:
        """Give a user or group access to a secret. On a secret that inherits its folder's
        permissions, Secret Server breaks that inheritance first, copying the folder's list. A
        principal that already holds a permission is refused (use `update_secret_permission`)."""
        principal = _principal(user_id, group_id)
        sid = int(secret_id)
        body = {"secretId": sid, **principal, "secretAccessRoleName": secret_access_role}
        return self._grant("/secret-permissions", body,
                           lambda: _find_permission(self.iter_secret_permissions(sid), "secretId", sid, principal))

    def update_secret_permission(
        self, permission_id: int, *, secret_access_role: str, secret_id: int | None = None
    ) -> SecretPermissionRecord:
        """Change the role of an existing secret permission (``PUT /secret-permissions/{id}``).
        The body names the permission's secret; give ``secret_id`` when known, else it is read first."""
        pid = int(permission_id)
        if secret_id is None:
            secret_id = int(self._request("GET", f"/secret-permissions/{pid}")["secretId"])
        body = {"id": pid, "secretId": int(secret_id), "secretAccessRoleName": secret_access_role}
        return cast(SecretPermissionRecord, self._request("PUT", f"/secret-permissions/{pid}", json=body))

    def revoke_secret_permission(self, permission_id: int) -> DeletedRecord:
        """Delete a secret permission."""
        return self._delete(f"/secret-permissions/{int(permission_id)}", object_id=int(permission_id))

    # ------------------------------------------------------------------ shared
    def _grant(self, path: str, body: dict[str, Any], find: Callable[[], P | None]) -> P:
        """POST a new permission; after a retry that the server refuses, or an answer without an id, the
        permission found by ``find`` (the first attempt may have created it)."""
        try:
            created = self._request("POST", path, json=body)
        except ApiError as exc:
            if exc.after_retry and (found := find()) is not None:
                return found
            raise
        if isinstance(created, dict) and created.get("id") is not None:
            return cast(P, created)
        # Some versions answer with a partial model (no id): read it back.
        found = find()
        return found if found is not None else cast(P, created)

    def _delete(self, path: str, *, object_id: int, params: dict[str, str] | None = None) -> DeletedRecord:
        try:
            return cast(DeletedRecord, self._request("DELETE", path, params=params))
        except ApiError as exc:
            # The first attempt deleted it; the retry found nothing left to delete.
            if exc.after_retry and exc.is_not_found:
                return {"id": object_id, "objectType": "", "responseCodes": []}
            raise
