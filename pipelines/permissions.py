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

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from sqlalchemy.engine import Connection, Engine

from connectors.igi import provisioning_staging as staging
from connectors.igi.request_models import Operation, ProvisioningRequest
from connectors.secret_server import ApiError, SecretServerAccess
from pipelines.outcomes import Outcome, PermanentFailure


def _role_eq(a: Any, b: Any) -> bool:
    return str(a or "").lower() == str(b or "").lower()


def _existing(read: Callable[[], Mapping[str, Any]], erc_status: str,
              absent: Callable[[ApiError], str]) -> dict[str, Any]:
    """What ``read`` returns; a `PermanentFailure` (``erc_status``, ``absent(error)``) when there is no such object."""
    try:
        return dict(read())
    except ApiError as exc:
        # Secret Server answers an id it does not show with 400 API_AccessDenied (or 404).
        if exc.is_not_found or exc.error_code == "API_AccessDenied":
            raise PermanentFailure(erc_status, absent(exc)) from None
        raise


@dataclass(frozen=True)
class _Target:
    """A folder or a secret as a permission request sees it: what differs between the two kinds."""

    kind: str  # "folder" or "secret"
    id: int
    label: str  # how traces name it: "folder <path>" or "secret <name>"
    inherits: bool  # follows its parent folder's list
    role_fields: tuple[str, ...]  # the fields of a permission record that hold its roles
    roles: tuple[str, ...]  # the roles asked for, in that order
    parent: Callable[[], Mapping[str, Any]]  # the folder whose list it inherits (a folder: itself)
    grant: Callable[[int, bool], object]  # (user id, break inheritance)
    update: Callable[[int], object]  # a held permission's id: give it the roles asked for
    revoke: Callable[[int], object]  # a held permission's id: delete it

    def roles_of(self, record: Mapping[str, Any]) -> str:
        """A permission's roles as traces show them (``View/Edit``)."""
        return "/".join(str(record.get(name)) for name in self.role_fields)

    def has_roles(self, record: Mapping[str, Any]) -> bool:
        """True when the permission has the roles asked for (case aside)."""
        return all(_role_eq(record.get(name), role) for name, role in zip(self.role_fields, self.roles, strict=True))


class PermissionOperations:
    """Mixed into the `Executor`, which provides the client, the engine, the account lookups and the caches."""

    client: SecretServerAccess
    engine: Engine
    instance: str
    target: str
    allow_break_inheritance: bool
    _folders: dict[int, str] | None
    _groups: dict[int, dict[str, Any]] | None

    def split(self, code: str) -> tuple[str, str | None]:
        """An account or group code as (name, domain); provided by the Executor."""
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
                name = staging.staged_group_name(conn, self.instance, request.permission_id)
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
            staging.record_membership(conn, group_id, user_id, present=add, instance=self.instance,
                                      event_id=request.event_id)

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
        return _existing(lambda: self.client.get_folder(folder_id), "UnknownFolder",
                         lambda _: f"no Secret Server folder {folder_id}")

    def _governing_folder(self, folder: Mapping[str, Any]) -> dict[str, Any]:
        """The folder whose own list applies to ``folder``: itself, or the nearest ancestor that breaks."""
        current = dict(folder)
        while current.get("inheritPermissions") and int(current.get("parentFolderId") or -1) > 0:
            current = self._get_folder(int(current["parentFolderId"]))
        return current

    def _governing_list(self, folder: Mapping[str, Any]) -> tuple[dict[str, Any], list[Any]]:
        """The folder whose list applies to ``folder`` (see `_governing_folder`), and that list."""
        governing = self._governing_folder(folder)
        return governing, self._permissions("folder", int(governing["id"]))

    def _permissions(self, kind: str, object_id: int) -> list[Any]:
        """A folder's or a secret's own permission list."""
        read = self.client.iter_folder_permissions if kind == "folder" else self.client.iter_secret_permissions
        return [r for r in read(object_id) if r.get(f"{kind}Id", object_id) == object_id]

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
            staging.lock_permission_list(conn, self.instance, kind, object_id)
            after = list(read(object_id))
            with staging.permission_events(conn, request.event_id, instance=self.instance, target=self.target,
                                           requested_for=user_id, folder_id=object_id if kind == "folder" else None,
                                           secret_id=object_id if kind == "secret" else None):
                sync(conn, object_id, after, instance=self.instance, event_id=request.event_id)

        return Outcome(trace, write)

    # ------------------------------------------------------------------ folders and secrets
    def _change(self, request: ProvisioningRequest, target: _Target, user_id: int, add: bool) -> Outcome:
        """Grant, change or revoke the account's own permission on a folder or a secret, deciding inheritance."""
        roles, label = "/".join(target.roles), target.label
        before = self._permissions(target.kind, target.id)
        held = [] if target.inherits else [r for r in before if r.get("userId") == user_id]
        broke = False
        if add and held and target.has_roles(held[0]):
            trace = f"already granted {roles} on {label}"
        elif add and held:
            was = target.roles_of(held[0])
            target.update(int(held[0]["id"]))
            trace = f"changed the role on {label} to {roles} (was {was})"
        elif add and target.inherits:
            governing, inherited = self._governing_list(target.parent())
            parent = f"folder {governing.get('folderPath')}"
            own, _ = self._holders(inherited, user_id)
            if own and target.has_roles(own[0]):
                return Outcome(f"already granted {roles} on {label}, inherited from {parent}")
            if own:
                raise PermanentFailure("InheritedAccess", f"{request.code} has {target.roles_of(own[0])} on {label} "
                                       f"through {parent}, which it inherits; change it there")
            self._may_break(request, label, parent)
            target.grant(user_id, True)
            broke = True
            trace = (f"granted {roles} on {label}; inheritance broken: it no longer follows {parent} "
                     f"({len(inherited)} of its permissions copied onto it)")
        elif add:
            target.grant(user_id, False)
            trace = f"granted {roles} on {label}"
        elif held:
            for record in held:
                target.revoke(int(record["id"]))
            trace = f"revoked permission on {label}"
        else:
            if target.kind == "secret" and not target.inherits:
                _, via = self._holders(before, user_id)
                sources = [f"group {r.get('groupName')}'s permission on the secret" for r in via]
            else:
                sources = self._folder_sources(target.parent(), user_id, target_is_folder=target.kind == "folder")
            if sources:
                raise PermanentFailure("InheritedAccess", f"{request.code} has no permission of its own on {label} "
                                       f"to revoke; its access comes from {'; '.join(sources)}. Revoke it there")
            trace = f"already no permission on {label}"
        if target.inherits and not broke:
            return Outcome(trace)  # no list of its own to mirror
        return self._mirrored(request, target.kind, target.id, user_id, trace)

    # ------------------------------------------------------------------ folders
    def _folder_id(self, request: ProvisioningRequest) -> int:
        if request.permission_id is not None:
            return request.permission_id
        with self.engine.connect() as conn:
            found = staging.staged_folder_id(conn, self.instance, request.permission_name or "")
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
        folder_id = int(folder["id"])
        folder_role, secret_role = request.folder_access_role or "View", request.secret_access_role or "None"
        target = _Target(
            "folder", folder_id, f"folder {folder.get('folderPath') or folder.get('folderName')}",
            bool(folder.get("inheritPermissions")), ("folderAccessRoleName", "secretAccessRoleName"),
            (folder_role, secret_role), parent=lambda: folder,
            grant=lambda user_id, breaking: self.client.grant_folder_permission(
                folder_id, user_id=user_id, folder_access_role=folder_role, secret_access_role=secret_role,
                break_inheritance=breaking),
            update=lambda permission_id: self.client.update_folder_permission(
                permission_id, folder_access_role=folder_role, secret_access_role=secret_role, folder_id=folder_id),
            revoke=self.client.revoke_folder_permission)
        return self._change(request, target, int(user["id"]), add)

    # ------------------------------------------------------------------ secrets
    def _secret_summary(self, request: ProvisioningRequest) -> dict[str, Any]:
        if request.permission_id is not None:
            secret_id = request.permission_id
        else:
            with self.engine.connect() as conn:
                ids = staging.staged_secret_ids(conn, self.instance, request.permission_name or "")
            if len(ids) != 1:
                raise PermanentFailure("UnknownSecret", f"no single secret named {request.permission_name!r} in "
                                       "staging; give its id (permission_id) or run reconcile")
            secret_id = ids[0]
        return _existing(lambda: self.client.get_secret_summary(secret_id), "UnknownSecret",
                         lambda error: f"no Secret Server secret {secret_id}: {error}")

    def _secret(self, request: ProvisioningRequest, user: Mapping[str, Any], add: bool) -> Outcome:
        summary = self._secret_summary(request)
        secret_id = int(summary["id"])
        role = request.secret_access_role or "View"
        target = _Target(
            "secret", secret_id, f"secret {summary.get('name')}", bool(summary.get("inheritsPermissions")),
            ("secretAccessRoleName",), (role,), parent=lambda: self._get_folder(int(summary["folderId"])),
            # Secret Server breaks a secret's inheritance by itself when a permission is added: no flag to send.
            grant=lambda user_id, _: self.client.grant_secret_permission(
                secret_id, user_id=user_id, secret_access_role=role),
            update=lambda permission_id: self.client.update_secret_permission(
                permission_id, secret_access_role=role, secret_id=secret_id),
            revoke=self.client.revoke_secret_permission)
        return self._change(request, target, int(user["id"]), add)
