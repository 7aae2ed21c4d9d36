"""Group memberships, folder and secret permissions: grant, change the role, revoke; inheritance decided.

The calls, as Delinea's own clients make them (python-tss-sdk, Thycotic's PowerShell module):
- a grant is one POST of a new permission (``/groups/{id}/users``, ``/folder-permissions``,
  ``/secret-permissions``); a role change is a PUT on the existing permission's id, never a second POST;
  a revoke is a DELETE of the permission (or of the membership);
- a folder that inherits its parent's permissions refuses a new one unless the POST asks to break inheritance;
  a secret that inherits its folder's breaks inheritance by itself on a POST, copying the folder's list first.
  Either way the object stops following its parent, which changes who controls it, so ss-igi does it only when
  the request asks (``attributes.breakInheritance``) or the setting allows it for every request
  (SS_IGI_PROVISION_BREAK_INHERITANCE); otherwise the request fails and nothing is changed;
- access that comes from a parent folder or a group is not the account's own permission: revoking it fails
  with a trace that names where it comes from.
Each operation reads Secret Server's state first, so a retry never acts twice. Staging follows in the
write-back transaction, with the PERMISSION_ADD / PERMISSION_REMOVE target events a reconcile would have emitted
for every side effect (permissions copied when inheritance breaks); IGI's own request raises none.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sqlalchemy.engine import Connection, Engine

from connectors.igi import provisioning_staging as staging
from connectors.igi.request_models import Operation, ProvisioningRequest
from connectors.secret_server import ApiError, SecretServerClient
from pipelines.outcomes import Outcome, PermanentFailure


def _role_eq(a: Any, b: Any) -> bool:
    return str(a or "").lower() == str(b or "").lower()


def _not_found(exc: ApiError) -> bool:
    # Secret Server answers an id it does not show with 400 API_AccessDenied (or 404).
    return exc.is_not_found or exc.error_code == "API_AccessDenied"


class PermissionOperations:
    """Mixed into the `Executor`, which provides the client, the engine, the account lookups and the caches."""

    client: SecretServerClient
    engine: Engine
    allow_break_inheritance: bool
    _folders: dict[int, str] | None
    _groups: dict[int, dict[str, Any]] | None

    def split(self, code: str) -> tuple[str, str | None]:  # provided by the Executor
        raise NotImplementedError

    def _account(self, request: ProvisioningRequest) -> dict[str, Any]:  # provided by the Executor
        raise NotImplementedError

    def permission(self, request: ProvisioningRequest) -> Outcome:
        """PERMISSION_ADD / PERMISSION_REMOVE for a group, a folder or a secret."""
        add = request.operation == Operation.PERMISSION_ADD
        user = self._account(request)
        if request.permission_type == "group":
            return self._group(request, user, add)
        if request.permission_type == "folder":
            return self._folder(request, user, add)
        return self._secret(request, user, add)

    # ------------------------------------------------------------------ groups
    def _group_id(self, request: ProvisioningRequest) -> tuple[int, str]:
        if self._groups is None and request.permission_id is not None:
            with self.engine.connect() as conn:
                name = staging.staged_group_name(conn, request.permission_id)
            if name is not None:
                return request.permission_id, name
        if self._groups is None:
            self._groups = {int(g["id"]): dict(g) for g in self.client.iter_groups()}
        if request.permission_id is not None:
            group = self._groups.get(request.permission_id)
            if group is None:
                raise PermanentFailure("UnknownGroup", f"no Secret Server group {request.permission_id}")
            return request.permission_id, str(group.get("name"))
        name, domain = self.split(request.permission_name or "")
        found = self.client.find_group(name, domain)
        if found is not None:
            return int(found["id"]), str(found.get("name"))
        namesakes = sorted(f"{g.get('domainName')}\\{g.get('name')}" for g in self._groups.values()
                           if str(g.get("name") or "").lower() == name.lower() and g.get("domainName"))
        hint = f"; domain groups of that name: {', '.join(namesakes)} (name one as DOMAIN\\name)" if namesakes else ""
        where = f"in domain {domain}" if domain else "local"
        raise PermanentFailure("UnknownGroup", f"no {where} Secret Server group {name!r}{hint}")

    def _group(self, request: ProvisioningRequest, user: Mapping[str, Any], add: bool) -> Outcome:
        group_id, group_name = self._group_id(request)
        user_id = int(user["id"])
        member = any(g.get("groupId") == group_id for g in self.client.iter_user_groups(user_id))

        def write(conn: Connection) -> None:
            staging.record_membership(conn, group_id, user_id, present=add, event_id=request.event_id)

        if add and member:
            return Outcome(f"already a member of group {group_name}", write)
        if not add and not member:
            return Outcome(f"already not a member of group {group_name}", write)
        if add:
            self.client.add_group_member(group_id, user_id)
            return Outcome(f"added to group {group_name}", write)
        self.client.remove_group_member(group_id, user_id)
        return Outcome(f"removed from group {group_name}", write)

    # ------------------------------------------------------------------ where access comes from
    def _get_folder(self, folder_id: int) -> dict[str, Any]:
        try:
            return dict(self.client.get_folder(folder_id))
        except ApiError as exc:
            if _not_found(exc):
                raise PermanentFailure("UnknownFolder", f"no Secret Server folder {folder_id}") from None
            raise

    def _governing_folder(self, folder: Mapping[str, Any]) -> dict[str, Any]:
        """The folder whose own list applies to ``folder``: itself, or the nearest ancestor that breaks."""
        current = dict(folder)
        while current.get("inheritPermissions") and int(current.get("parentFolderId") or -1) > 0:
            current = self._get_folder(int(current["parentFolderId"]))
        return current

    def _governing_list(self, folder: Mapping[str, Any]) -> tuple[dict[str, Any], list[Any]]:
        """The folder whose list applies to ``folder`` (see `_governing_folder`), and that list."""
        governing = self._governing_folder(folder)
        records = [r for r in self.client.iter_folder_permissions(int(governing["id"]))
                   if r.get("folderId", governing["id"]) == governing["id"]]
        return governing, records

    def _holders(self, records: list[Any], user_id: int) -> tuple[list[Any], list[Any]]:
        """(the account's own records, records of groups it belongs to) in one permission list."""
        own = [r for r in records if r.get("userId") == user_id]
        groups = {g.get("groupId") for g in self.client.iter_user_groups(user_id)}
        via = [r for r in records if r.get("userId") in (None, 0, -1) and r.get("groupId") in groups]
        return own, via

    def _folder_sources(self, folder: Mapping[str, Any], user_id: int, *, target_is_folder: bool) -> list[str]:
        """Where the account's access through ``folder`` comes from, other than a permission of its own on the
        target (the folder itself, or a secret in it that inherits)."""
        governing, records = self._governing_list(folder)
        own, via = self._holders(records, user_id)
        inherited = int(governing["id"]) != int(folder["id"])
        where = f"folder {governing.get('folderPath')}" if inherited else "this folder"
        sources = [f"group {r.get('groupName')}'s permission on {where}" for r in via]
        if inherited or not target_is_folder:
            sources = [f"its own permission on {where} ({r.get('folderAccessRoleName')}/"
                       f"{r.get('secretAccessRoleName')})" for r in own] + sources
        return sources

    # ------------------------------------------------------------------ inheritance
    def _may_break(self, request: ProvisioningRequest, what: str, parent: str) -> None:
        asked = request.attributes.break_inheritance
        if asked if asked is not None else self.allow_break_inheritance:
            return
        raise PermanentFailure(
            "InheritanceNotBroken",
            f"{what} inherits its permissions from {parent}: granting here would break inheritance, so it would stop "
            f"following {parent} and get a copy of its permissions. Nothing was changed. Ask for it with "
            "attributes.breakInheritance=true (ss-igi request grant ... --break-inheritance), or allow it for every "
            "request with SS_IGI_PROVISION_BREAK_INHERITANCE=true")

    def _mirrored(self, request: ProvisioningRequest, kind: str, object_id: int, user_id: int,
                  trace: str) -> Outcome:
        """The outcome of a folder or secret request, with the staging step that mirrors the object's list."""
        read = self.client.iter_folder_permissions if kind == "folder" else self.client.iter_secret_permissions
        sync = staging.sync_folder_permissions if kind == "folder" else staging.sync_secret_permissions

        def write(conn: Connection) -> None:
            # Read the list while holding the object's lock: of two concurrent requests on one object, the one
            # that writes staging last has also read Secret Server last, so staging ends up true.
            staging.lock_permission_list(conn, kind, object_id)
            after = list(read(object_id))
            with staging.permission_events(conn, request.event_id, requested_for=user_id,
                                           folder_id=object_id if kind == "folder" else None,
                                           secret_id=object_id if kind == "secret" else None):
                sync(conn, object_id, after, event_id=request.event_id)

        return Outcome(trace, write)

    # ------------------------------------------------------------------ folders
    def _folder_id(self, request: ProvisioningRequest) -> int:
        if request.permission_id is not None:
            return request.permission_id
        with self.engine.connect() as conn:
            found = staging.staged_folder_id(conn, request.permission_name or "")
        if found is not None:
            return found
        if self._folders is None:
            self._folders = {int(f["id"]): str(f.get("folderPath") or "") for f in self.client.iter_folders()}
        wanted = (request.permission_name or "").strip()
        wanted = (wanted if wanted.startswith("\\") else "\\" + wanted).lower()
        matches = [fid for fid, path in self._folders.items() if path.lower() == wanted]
        if len(matches) != 1:
            raise PermanentFailure("UnknownFolder", f"no single Secret Server folder {request.permission_name!r}")
        return matches[0]

    def _folder(self, request: ProvisioningRequest, user: Mapping[str, Any], add: bool) -> Outcome:
        folder = self._get_folder(self._folder_id(request))
        folder_id, path = int(folder["id"]), str(folder.get("folderPath") or folder.get("folderName"))
        inherits = bool(folder.get("inheritPermissions"))
        user_id = int(user["id"])
        folder_role = request.folder_access_role or "View"
        secret_role = request.secret_access_role or "None"
        roles = f"{folder_role}/{secret_role}"
        before = [r for r in self.client.iter_folder_permissions(folder_id)
                  if r.get("folderId", folder_id) == folder_id]
        held = [] if inherits else [r for r in before if r.get("userId") == user_id]
        broke = False
        if add and held and _role_eq(held[0].get("folderAccessRoleName"), folder_role) \
                and _role_eq(held[0].get("secretAccessRoleName"), secret_role):
            trace = f"already granted {roles} on folder {path}"
        elif add and held:
            was = f"{held[0].get('folderAccessRoleName')}/{held[0].get('secretAccessRoleName')}"
            self.client.update_folder_permission(int(held[0]["id"]), folder_access_role=folder_role,
                                                 secret_access_role=secret_role, folder_id=folder_id)
            trace = f"changed the role on folder {path} to {roles} (was {was})"
        elif add and inherits:
            governing, inherited = self._governing_list(folder)
            parent = f"folder {governing.get('folderPath')}"
            own, _ = self._holders(inherited, user_id)
            if own and _role_eq(own[0].get("folderAccessRoleName"), folder_role) \
                    and _role_eq(own[0].get("secretAccessRoleName"), secret_role):
                return Outcome(f"already granted {roles} on folder {path}, inherited from {parent}")
            if own:
                raise PermanentFailure("InheritedAccess", f"{request.code} has {own[0].get('folderAccessRoleName')}/"
                                       f"{own[0].get('secretAccessRoleName')} on folder {path} through {parent}, "
                                       "which it inherits; change it there")
            self._may_break(request, f"folder {path}", parent)
            self.client.grant_folder_permission(folder_id, user_id=user_id, folder_access_role=folder_role,
                                                secret_access_role=secret_role, break_inheritance=True)
            broke = True
            trace = (f"granted {roles} on folder {path}; inheritance broken: it no longer follows {parent} "
                     f"({len(inherited)} of its permissions copied onto it)")
        elif add:
            self.client.grant_folder_permission(folder_id, user_id=user_id, folder_access_role=folder_role,
                                                secret_access_role=secret_role)
            trace = f"granted {roles} on folder {path}"
        elif held:
            for record in held:
                self.client.revoke_folder_permission(int(record["id"]))
            trace = f"revoked permission on folder {path}"
        else:
            sources = self._folder_sources(folder, user_id, target_is_folder=True)
            if sources:
                raise PermanentFailure("InheritedAccess", f"{request.code} has no permission of its own on folder "
                                       f"{path} to revoke; its access comes from {'; '.join(sources)}. Revoke it there")
            trace = f"already no permission on folder {path}"
        if inherits and not broke:
            return Outcome(trace)  # no list of its own to mirror
        return self._mirrored(request, "folder", folder_id, user_id, trace)

    # ------------------------------------------------------------------ secrets
    def _secret_summary(self, request: ProvisioningRequest) -> dict[str, Any]:
        if request.permission_id is not None:
            secret_id = request.permission_id
        else:
            with self.engine.connect() as conn:
                ids = staging.staged_secret_ids(conn, request.permission_name or "")
            if len(ids) != 1:
                raise PermanentFailure("UnknownSecret", f"no single secret named {request.permission_name!r} in "
                                       "staging; give its id (permission_id) or run reconcile")
            secret_id = ids[0]
        try:
            return dict(self.client.get_secret_summary(secret_id))
        except ApiError as exc:
            if _not_found(exc):
                raise PermanentFailure("UnknownSecret", f"no Secret Server secret {secret_id}: {exc}") from None
            raise

    def _secret(self, request: ProvisioningRequest, user: Mapping[str, Any], add: bool) -> Outcome:
        summary = self._secret_summary(request)
        secret_id, name = int(summary["id"]), str(summary.get("name"))
        inherits = bool(summary.get("inheritsPermissions"))
        user_id = int(user["id"])
        role = request.secret_access_role or "View"
        before = [r for r in self.client.iter_secret_permissions(secret_id)
                  if r.get("secretId", secret_id) == secret_id]
        held = [] if inherits else [r for r in before if r.get("userId") == user_id]
        broke = False
        if add and held and _role_eq(held[0].get("secretAccessRoleName"), role):
            trace = f"already granted {role} on secret {name}"
        elif add and held:
            was = held[0].get("secretAccessRoleName")
            self.client.update_secret_permission(int(held[0]["id"]), secret_access_role=role, secret_id=secret_id)
            trace = f"changed the role on secret {name} to {role} (was {was})"
        elif add and inherits:
            governing, inherited = self._governing_list(self._get_folder(int(summary["folderId"])))
            parent = f"folder {governing.get('folderPath')}"
            own, _ = self._holders(inherited, user_id)
            if own and _role_eq(own[0].get("secretAccessRoleName"), role):
                return Outcome(f"already granted {role} on secret {name}, inherited from {parent}")
            if own:
                raise PermanentFailure("InheritedAccess", f"{request.code} has {own[0].get('secretAccessRoleName')} "
                                       f"on secret {name} through {parent}, which it inherits; change it there")
            self._may_break(request, f"secret {name}", parent)
            # Secret Server breaks the secret's inheritance itself, copying the folder's list first.
            self.client.grant_secret_permission(secret_id, user_id=user_id, secret_access_role=role)
            broke = True
            trace = (f"granted {role} on secret {name}; inheritance broken: it no longer follows {parent} "
                     f"({len(inherited)} of its permissions copied onto it)")
        elif add:
            self.client.grant_secret_permission(secret_id, user_id=user_id, secret_access_role=role)
            trace = f"granted {role} on secret {name}"
        elif held:
            for record in held:
                self.client.revoke_secret_permission(int(record["id"]))
            trace = f"revoked permission on secret {name}"
        else:
            if inherits:
                sources = self._folder_sources(self._get_folder(int(summary["folderId"])), user_id,
                                               target_is_folder=False)
            else:
                _, via = self._holders(before, user_id)
                sources = [f"group {r.get('groupName')}'s permission on the secret" for r in via]
            if sources:
                raise PermanentFailure("InheritedAccess", f"{request.code} has no permission of its own on secret "
                                       f"{name} to revoke; its access comes from {'; '.join(sources)}. Revoke it there")
            trace = f"already no permission on secret {name}"
        if inherits and not broke:
            return Outcome(trace)
        return self._mirrored(request, "secret", secret_id, user_id, trace)
