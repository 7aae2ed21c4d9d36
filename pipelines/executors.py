"""What each provisioning operation does on Secret Server, looking first so that it never acts twice.

Every executor reads Secret Server's current state before it writes: an account that already exists with the
requested attributes, a membership already there, a permission already granted, an account already disabled
is a success whose trace says so. That is what makes a retry after a crash between the call and the queue
write-back harmless. An executor returns an `Outcome` whose ``staging`` step the worker runs in the
transaction that makes the request final; refusals and permanent failures raise `PermanentFailure`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from sqlalchemy.engine import Connection, Engine

from connectors.igi import provisioning_staging as staging
from connectors.igi.queue import save_checkpoint
from connectors.igi.request_models import Operation, ProvisioningRequest, api_attributes
from connectors.secret_server import SecretServerClient
from pipelines.passwords import PasswordBox

REMOVE_REFUSED = "Secret Server does not support deleting users"


class PermanentFailure(Exception):
    """The request cannot succeed as given: state 3 with ``erc_status`` and ``trace``. Never holds a password."""

    def __init__(self, erc_status: str, trace: str) -> None:
        super().__init__(trace)
        self.erc_status = erc_status
        self.trace = trace


class LostClaim(Exception):
    """Another worker took the request over (this worker's lease ran out): stop touching it."""


@dataclass
class Outcome:
    trace: str
    staging: Callable[[Connection], None] | None = None


def split_code(code: str) -> tuple[str, str | None]:
    """``DOMAIN\\user`` -> ("user", "DOMAIN"); ``user`` -> ("user", None)."""
    domain, sep, name = code.strip().rpartition("\\")
    return (name, domain or None) if sep else (code.strip(), None)


def _same(a: Any, b: Any) -> bool:
    if isinstance(a, str) and isinstance(b, str):
        return a.strip().lower() == b.strip().lower() if "@" in a else a == b
    return bool(a == b) or (a in (None, "") and b in (None, ""))


def _role_eq(a: Any, b: Any) -> bool:
    return str(a or "").lower() == str(b or "").lower()


class Executor:
    """Executes claimed requests for one worker. Keeps small per-run caches of folders and groups."""

    def __init__(self, client: SecretServerClient, engine: Engine, passwords: PasswordBox, worker_id: str) -> None:
        self.client = client
        self.engine = engine
        self.passwords = passwords
        self.worker_id = worker_id
        self._folders: dict[int, str] | None = None  # folder id -> path, from the API, loaded once
        self._groups: dict[int, dict[str, Any]] | None = None

    def execute(self, request: ProvisioningRequest) -> Outcome:
        handler = _HANDLERS[request.operation]
        return handler(self, request)

    # ------------------------------------------------------------------ accounts
    def _refuse_application_account(self, request: ProvisioningRequest, what: str,
                                    user: Mapping[str, Any] | None = None) -> None:
        name, domain = split_code(request.code)
        if user is None:
            with self.engine.connect() as conn:
                known = staging.staged_application_account(conn, name, domain)
        else:
            known = bool(user.get("isApplicationAccount"))
        if known:
            raise PermanentFailure("NotSupported", f"Secret Server application accounts cannot be {what}")

    def _account(self, request: ProvisioningRequest) -> dict[str, Any]:
        name, domain = split_code(request.code)
        user = self.client.find_user(name, domain)
        if user is None:
            raise PermanentFailure("UnknownAccount", f"no Secret Server account {request.code!r}")
        return dict(user)

    def _record_user(self, request: ProvisioningRequest, user: Mapping[str, Any]) -> Callable[[Connection], None]:
        record = dict(user)
        _, domain = split_code(request.code)
        if domain and not record.get("domainName"):
            record["domainName"] = domain

        def write(conn: Connection) -> None:
            staging.record_user(conn, record, event_id=request.event_id)

        return write

    def create(self, request: ProvisioningRequest) -> Outcome:
        name, domain = split_code(request.code)
        given = request.attributes
        attrs = api_attributes(given)
        existing = self.client.find_user(name, domain)
        if existing is not None:
            if (request.checkpoint or {}).get("creating") == request.code.lower():
                # An earlier attempt of this request sent the create and did not live to write back.
                return Outcome("account created by an earlier attempt", self._record_user(request, existing))
            differing = sorted(k for k, v in attrs.items() if not _same(existing.get(k), v))
            if differing:
                raise PermanentFailure("AccountExists",
                                       f"account {request.code!r} already exists with other {', '.join(differing)}")
            return Outcome("account already exists with these attributes", self._record_user(request, existing))
        if domain and given.domain_id is None:
            raise PermanentFailure("MissingAttribute", "creating a domain account needs attributes.domainId")
        password = self.passwords.open(request.password, request.password_encrypted)
        # Committed before the call: a later attempt that finds the account knows this request created it.
        if not save_checkpoint(self.engine, request.event_id, self.worker_id, {"creating": request.code.lower()}):
            raise LostClaim()
        user = self.client.create_user(
            name, password.get_secret_value(), display_name=attrs.get("displayName"),
            email_address=attrs.get("emailAddress"), domain_id=given.domain_id,
            enabled=True if given.enabled is None else given.enabled,
            is_application_account=bool(given.is_application_account),
        )
        groups = [g["groupId"] for g in self.client.iter_user_groups(user["id"])]  # e.g. Everyone

        def write(conn: Connection) -> None:
            self._record_user(request, user)(conn)
            for group_id in groups:
                if staging.staged_group_exists(conn, group_id):
                    staging.record_membership(conn, group_id, user["id"], present=True, event_id=request.event_id)

        return Outcome("account created", write)

    def change_password(self, request: ProvisioningRequest) -> Outcome:
        what = "given a new password through ss-igi"
        self._refuse_application_account(request, what)
        user = self._account(request)
        self._refuse_application_account(request, what, user)
        password = self.passwords.open(request.password, request.password_encrypted)
        model: Mapping[str, Any] = self.client.get_user(user["id"]) or {}
        changed = model.get("passwordLastChanged")
        checkpoint = request.checkpoint or {}
        if checkpoint.get("userId") == user["id"] and "passwordLastChanged" in checkpoint \
                and checkpoint["passwordLastChanged"] != changed:
            # An earlier attempt reset it and died before writing back: don't reset twice.
            return Outcome("password already changed by an earlier attempt", self._record_user(request, user))
        if not save_checkpoint(self.engine, request.event_id, self.worker_id,
                               {"userId": user["id"], "passwordLastChanged": changed}):
            raise LostClaim()
        self.client.reset_password(user["id"], password.get_secret_value())
        return Outcome("password changed", self._record_user(request, user))

    def modify(self, request: ProvisioningRequest) -> Outcome:
        self._refuse_application_account(request, "modified")
        attrs = api_attributes(request.attributes)
        if request.attributes.enabled is not None:
            attrs["enabled"] = request.attributes.enabled
        user = self._account(request)
        self._refuse_application_account(request, "modified", user)
        differing = {k: v for k, v in attrs.items() if not _same(user.get(k), v)}
        if not differing:
            return Outcome("account already has these attributes", self._record_user(request, user))
        updated = self.client.update_user(user["id"], **differing)
        return Outcome(f"modified {', '.join(sorted(differing))}", self._record_user(request, {**user, **updated}))

    def _set_enabled(self, request: ProvisioningRequest, enabled: bool) -> Outcome:
        what = "restored" if enabled else "suspended"
        self._refuse_application_account(request, what)
        user = self._account(request)
        self._refuse_application_account(request, what, user)
        if bool(user.get("enabled")) == enabled:
            return Outcome(f"account already {'enabled' if enabled else 'disabled'}",
                           self._record_user(request, user))
        updated = self.client.set_user_enabled(user["id"], enabled)
        return Outcome(f"account {'enabled' if enabled else 'disabled'}",
                       self._record_user(request, {**user, **updated, "enabled": enabled}))

    def disable(self, request: ProvisioningRequest) -> Outcome:
        return self._set_enabled(request, False)

    def enable(self, request: ProvisioningRequest) -> Outcome:
        return self._set_enabled(request, True)

    def remove(self, request: ProvisioningRequest) -> Outcome:
        raise PermanentFailure("NotSupported", REMOVE_REFUSED)

    # ------------------------------------------------------------------ permissions
    def permission(self, request: ProvisioningRequest) -> Outcome:
        add = request.operation == Operation.PERMISSION_ADD
        user = self._account(request)
        if request.permission_type == "group":
            return self._group(request, user, add)
        if request.permission_type == "folder":
            return self._folder(request, user, add)
        if request.permission_type == "secret":
            return self._secret(request, user, add)
        raise PermanentFailure("InvalidRequest", f"unknown permission type {request.permission_type!r}")

    def _group_id(self, request: ProvisioningRequest) -> tuple[int, str]:
        if request.permission_id is not None:
            with self.engine.connect() as conn:
                name = staging.staged_group_name(conn, request.permission_id)
            if name is None:
                if self._groups is None:
                    self._groups = {g["id"]: dict(g) for g in self.client.iter_groups()}
                group = self._groups.get(request.permission_id)
                if group is None:
                    raise PermanentFailure("UnknownGroup", f"no Secret Server group {request.permission_id}")
                name = str(group.get("name"))
            return request.permission_id, name
        group_name, domain = split_code(request.permission_name or "")
        found = self.client.find_group(group_name, domain)
        if found is None:
            raise PermanentFailure("UnknownGroup", f"no Secret Server group {request.permission_name!r}")
        return int(found["id"]), str(found.get("name"))

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

    def _folder_id(self, request: ProvisioningRequest) -> tuple[int, str]:
        with self.engine.connect() as conn:
            if request.permission_id is not None:
                path = staging.staged_folder_path(conn, request.permission_id)
                if path is not None:
                    return request.permission_id, path
            elif request.permission_name:
                found = staging.staged_folder_id(conn, request.permission_name)
                if found is not None:
                    return found, request.permission_name
        if self._folders is None:
            self._folders = {int(f["id"]): str(f.get("folderPath") or "") for f in self.client.iter_folders()}
        if request.permission_id is not None:
            if request.permission_id in self._folders:
                return request.permission_id, self._folders[request.permission_id]
            raise PermanentFailure("UnknownFolder", f"no Secret Server folder {request.permission_id}")
        wanted = (request.permission_name or "").strip()
        wanted = (wanted if wanted.startswith("\\") else "\\" + wanted).lower()
        matches = [fid for fid, path in self._folders.items() if path.lower() == wanted]
        if len(matches) != 1:
            raise PermanentFailure("UnknownFolder", f"no single Secret Server folder {request.permission_name!r}")
        return matches[0], self._folders[matches[0]]

    def _folder(self, request: ProvisioningRequest, user: Mapping[str, Any], add: bool) -> Outcome:
        folder_id, path = self._folder_id(request)
        user_id = int(user["id"])
        folder_role = request.folder_access_role or "View"
        secret_role = request.secret_access_role or "None"

        def mine(records: list[Any]) -> list[Any]:
            return [r for r in records if r.get("folderId", folder_id) == folder_id and r.get("userId") == user_id]

        before = list(self.client.iter_folder_permissions(folder_id))
        held = mine(before)
        if add and held and _role_eq(held[0].get("folderAccessRoleName"), folder_role) \
                and _role_eq(held[0].get("secretAccessRoleName"), secret_role):
            trace = f"already granted {folder_role}/{secret_role} on folder {path}"
        elif not add and not held:
            trace = f"already no permission on folder {path}"
        else:
            if add:
                self.client.grant_folder_permission(folder_id, user_id=user_id, folder_access_role=folder_role,
                                                    secret_access_role=secret_role, break_inheritance=True)
                trace = f"granted {folder_role}/{secret_role} on folder {path}"
            else:
                for record in held:
                    self.client.revoke_folder_permission(record["id"])
                trace = f"revoked permission on folder {path}"

        def write(conn: Connection) -> None:
            # Read the list while holding the folder's lock: of two concurrent requests on one folder, the one
            # that writes staging last has also read Secret Server last, so staging ends up true.
            staging.lock_permission_list(conn, "folder", folder_id)
            after = list(self.client.iter_folder_permissions(folder_id))
            if after or before:
                staging.sync_folder_permissions(conn, folder_id, after, event_id=request.event_id)

        return Outcome(trace, write)

    def _secret_id(self, request: ProvisioningRequest) -> tuple[int, str]:
        if request.permission_id is not None:
            try:
                summary = self.client.get_secret_summary(request.permission_id)
            except Exception as exc:
                if getattr(exc, "status", None) in (400, 404):
                    raise PermanentFailure("UnknownSecret",
                                           f"no Secret Server secret {request.permission_id}: {exc}") from None
                raise
            return request.permission_id, str(summary.get("name"))
        with self.engine.connect() as conn:
            ids = staging.staged_secret_ids(conn, request.permission_name or "")
        if len(ids) != 1:
            raise PermanentFailure("UnknownSecret", f"no single secret named {request.permission_name!r} in "
                                   "staging; give its id (permission_id) or run reconcile")
        return ids[0], str(request.permission_name)

    def _secret(self, request: ProvisioningRequest, user: Mapping[str, Any], add: bool) -> Outcome:
        secret_id, name = self._secret_id(request)
        user_id = int(user["id"])
        role = request.secret_access_role or "View"

        def mine(records: list[Any]) -> list[Any]:
            return [r for r in records if r.get("secretId", secret_id) == secret_id and r.get("userId") == user_id]

        before = list(self.client.iter_secret_permissions(secret_id))
        held = mine(before)
        if add and held and _role_eq(held[0].get("secretAccessRoleName"), role):
            trace = f"already granted {role} on secret {name}"
        elif not add and not held:
            trace = f"already no permission on secret {name}"
        else:
            if add:
                self.client.grant_secret_permission(secret_id, user_id=user_id, secret_access_role=role)
                trace = f"granted {role} on secret {name}"
            else:
                for record in held:
                    self.client.revoke_secret_permission(record["id"])
                trace = f"revoked permission on secret {name}"

        def write(conn: Connection) -> None:
            staging.lock_permission_list(conn, "secret", secret_id)  # see _folder
            after = list(self.client.iter_secret_permissions(secret_id))
            if after or before:
                staging.sync_secret_permissions(conn, secret_id, after, event_id=request.event_id)

        return Outcome(trace, write)


_HANDLERS: dict[Operation, Callable[[Executor, ProvisioningRequest], Outcome]] = {
    Operation.ACCOUNT_CREATE: Executor.create,
    Operation.ACCOUNT_PWDCHANGE: Executor.change_password,
    Operation.ACCOUNT_MODIFY: Executor.modify,
    Operation.ACCOUNT_DISABLE: Executor.disable,
    Operation.ACCOUNT_ENABLE: Executor.enable,
    Operation.ACCOUNT_REMOVE: Executor.remove,
    Operation.PERMISSION_ADD: Executor.permission,
    Operation.PERMISSION_REMOVE: Executor.permission,
}
