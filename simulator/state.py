"""The simulated organization: an in-memory, thread-safe store with an in-process mutation API.

Everything the HTTP server answers comes from an `Organization`; tests change it directly
(`add_user`, `set_user_enabled`, `grant_folder_permission`, ...) or through the write endpoints.
One re-entrant lock guards it all; every change bumps `version`, which invalidates the server's
cached search results.

Permissions follow Secret Server's inheritance model: a folder with `inheritPermissions` takes the
permissions of its nearest ancestor that does not inherit, and a secret with `inheritsPermissions`
takes its folder's. Only non-inheriting folders and secrets carry their own permission records.
Granting on an inheriting folder or secret through this API breaks inheritance first, copying the
inherited permissions onto it, as Secret Server does when inheritance is turned off.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable
from datetime import datetime, timedelta
from typing import Any

from simulator import render
from simulator.records import (
    DEFAULT_TEMPLATE_ID,
    FOLDER_ROLES,
    FOLDER_SECRET_ROLES,
    LOCAL_DOMAIN_ID,
    ROOT_FOLDER_ID,
    SECRET_ROLES,
    TEMPLATES,
    Domain,
    Folder,
    FolderPermission,
    Group,
    Secret,
    SecretPermission,
    User,
    canonical_role,
)

SIM_NOW = "2024-06-01T09:00:00"  # the simulator's "now" for records created at run time


class NotFound(KeyError):
    """An id that the organization does not hold."""


class Organization:
    """Users, groups, memberships, folders, secrets and their permissions, in API terms."""

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

    # ------------------------------------------------------------------ internals
    def _new_id(self, kind: str) -> int:
        value = self._next[kind]
        self._next[kind] = value + 1
        return value

    def _touch(self) -> None:
        self.version += 1

    def _user(self, user_id: int) -> User:
        try:
            return self.user_map[user_id]
        except KeyError:
            raise NotFound(f"user {user_id}") from None

    def _group(self, group_id: int) -> Group:
        try:
            return self.group_map[group_id]
        except KeyError:
            raise NotFound(f"group {group_id}") from None

    def _folder(self, folder_id: int) -> Folder:
        try:
            return self.folder_map[folder_id]
        except KeyError:
            raise NotFound(f"folder {folder_id}") from None

    def _secret(self, secret_id: int) -> Secret:
        try:
            return self.secret_map[secret_id]
        except KeyError:
            raise NotFound(f"secret {secret_id}") from None

    def _principal(self, user_id: int | None, group_id: int | None) -> tuple[int, int | None]:
        """(group id, user id) of a permission holder: a user acts through its personal group."""
        if user_id is not None:
            return self._user(user_id).personal_group_id, user_id
        if group_id is None:
            raise ValueError("a permission needs user_id or group_id")
        group = self._group(group_id)
        return group.id, group.personal_user_id

    # ------------------------------------------------------------------ domains
    def add_domain(self, name: str, friendly_name: str, domain_id: int | None = None) -> int:
        with self.lock:
            new_id = domain_id if domain_id is not None else max(self.domains, default=0) + 1
            dn = ",".join(f"DC={part}" for part in name.split("."))
            self.domains[new_id] = Domain(new_id, name, friendly_name, dn)
            self._touch()
            return new_id

    def domain_name(self, domain_id: int) -> str | None:
        domain = self.domains.get(domain_id)
        return domain.name if domain else None

    # ------------------------------------------------------------------ users
    def add_user(
        self,
        user_name: str,
        display_name: str | None = None,
        domain_id: int | None = None,
        enabled: bool = True,
        is_application_account: bool = False,
        email_address: str | None = None,
        *,
        password: str | None = None,
        is_locked_out: bool = False,
        login_failures: int = 0,
        last_login: str | None = None,
        created: str = SIM_NOW,
        ad_guid: str | None = None,
    ) -> int:
        """Create a user (with its personal group, and as a member of "Everyone"); return its id."""
        with self.lock:
            dom = LOCAL_DOMAIN_ID if domain_id is None else domain_id
            if dom != LOCAL_DOMAIN_ID and dom not in self.domains:
                raise NotFound(f"domain {dom}")
            user_id = self._new_id("user")
            personal_id = self._new_id("group")
            if email_address is None and not is_application_account:
                email_address = f"{user_name}@example.com"
            self.user_map[user_id] = User(
                id=user_id, user_name=user_name, display_name=display_name or user_name,
                email_address=email_address, enabled=enabled,
                is_application_account=is_application_account, is_locked_out=is_locked_out,
                last_login=last_login, login_failures=login_failures, created=created,
                domain_id=dom, personal_group_id=personal_id, ad_guid=ad_guid, password=password,
            )
            self.group_map[personal_id] = Group(personal_id, user_name, True, created, dom,
                                             personal_user_id=user_id)
            self.members[personal_id] = {user_id: None}
            self.user_groups[user_id] = set()
            if self.everyone_group_id is not None:
                self.add_member(self.everyone_group_id, user_id)
            self._touch()
            return user_id

    def rename_user(self, user_id: int, new_user_name: str) -> None:
        with self.lock:
            user = self._user(user_id)
            user.user_name = new_user_name
            self.group_map[user.personal_group_id].name = new_user_name
            self._touch()

    def set_user_enabled(self, user_id: int, enabled: bool) -> None:
        with self.lock:
            self._user(user_id).enabled = enabled
            self._touch()

    def set_user_locked_out(self, user_id: int, locked: bool) -> None:
        with self.lock:
            user = self._user(user_id)
            user.is_locked_out = locked
            user.login_failures = 5 if locked else 0
            self._touch()

    def update_user(self, user_id: int, **fields: Any) -> None:
        """Set User attributes by their Python names (display_name=..., email_address=...)."""
        with self.lock:
            user = self._user(user_id)
            for name, value in fields.items():
                if not hasattr(user, name) or name in ("id", "personal_group_id"):
                    raise AttributeError(name)
                setattr(user, name, value)
            if "user_name" in fields:
                self.group_map[user.personal_group_id].name = user.user_name
            self._touch()

    def set_user_password(self, user_id: int, password: str) -> None:
        with self.lock:
            user = self._user(user_id)
            user.password = password
            # Each change gets a later stamp, as on a real server (clients compare it to tell whether a reset
            # happened); derived from the change counter, so the data stays deterministic.
            self._touch()
            stamp = datetime.fromisoformat(SIM_NOW) + timedelta(seconds=self.version)
            user.password_last_changed = stamp.isoformat()

    def check_password(self, user_id: int, password: str) -> bool:
        with self.lock:
            return self._user(user_id).password == password

    def remove_user(self, user_id: int) -> None:
        """Hard removal, to simulate a user disappearing: memberships and permissions go too."""
        with self.lock:
            user = self._user(user_id)
            for group_id in list(self.user_groups.get(user_id, ())):
                self.members[group_id].pop(user_id, None)
            self.user_groups.pop(user_id, None)
            self._drop_principal(user.personal_group_id)
            del self.user_map[user_id]
            self._touch()

    def find_user(self, user_name: str, domain_id: int | None = None) -> User | None:
        with self.lock:
            lowered = user_name.lower()
            for user in self.user_map.values():
                if user.user_name.lower() == lowered and (domain_id is None or user.domain_id == domain_id):
                    return user
            return None

    # ------------------------------------------------------------------ groups
    def add_group(self, name: str, domain_id: int | None = None, enabled: bool = True, *,
                  created: str = SIM_NOW, ad_guid: str | None = None,
                  system_group: bool = False) -> int:
        with self.lock:
            dom = LOCAL_DOMAIN_ID if domain_id is None else domain_id
            group_id = self._new_id("group")
            self.group_map[group_id] = Group(group_id, name, enabled, created, dom, ad_guid=ad_guid,
                                          synchronized=dom != LOCAL_DOMAIN_ID,
                                          system_group=system_group)
            self.members[group_id] = {}
            self._touch()
            return group_id

    def add_everyone_group(self, created: str = SIM_NOW) -> int:
        """Create the built-in "Everyone" group; every user (existing and future) is a member."""
        with self.lock:
            group_id = self.add_group("Everyone", system_group=True, created=created)
            self.everyone_group_id = group_id
            for user_id in self.user_map:
                self.add_member(group_id, user_id)
            return group_id

    def rename_group(self, group_id: int, new_name: str) -> None:
        with self.lock:
            self._group(group_id).name = new_name
            self._touch()

    def set_group_enabled(self, group_id: int, enabled: bool) -> None:
        with self.lock:
            self._group(group_id).enabled = enabled
            self._touch()

    def remove_group(self, group_id: int) -> None:
        with self.lock:
            group = self._group(group_id)
            if group.personal_user_id is not None:
                raise ValueError("a personal group goes with its user (remove_user)")
            for user_id in self.members.pop(group_id, {}):
                self.user_groups[user_id].discard(group_id)
            self._drop_principal(group_id)
            del self.group_map[group_id]
            if self.everyone_group_id == group_id:
                self.everyone_group_id = None
            self._touch()

    def add_member(self, group_id: int, user_id: int) -> None:
        with self.lock:
            group = self._group(group_id)
            self._user(user_id)
            if group.personal_user_id is not None:
                raise ValueError("personal groups have exactly one member")
            self.members[group_id][user_id] = None
            self.user_groups[user_id].add(group_id)
            self._touch()

    def remove_member(self, group_id: int, user_id: int) -> None:
        with self.lock:
            self._group(group_id)
            if user_id not in self.members[group_id]:
                raise NotFound(f"user {user_id} in group {group_id}")
            del self.members[group_id][user_id]
            self.user_groups[user_id].discard(group_id)
            self._touch()

    def is_member(self, group_id: int, user_id: int) -> bool:
        with self.lock:
            return user_id in self.members.get(group_id, {})

    def _drop_principal(self, group_id: int) -> None:
        for perm_id in [p.id for p in self.folder_perms.values() if p.group_id == group_id]:
            self._delete_folder_perm(perm_id)
        for perm_id in [p.id for p in self.secret_perms.values() if p.group_id == group_id]:
            self._delete_secret_perm(perm_id)

    # ------------------------------------------------------------------ folders
    def add_folder(self, name: str, parent_folder_id: int | None = None,
                   inherit_permissions: bool = True, *, personal_user_id: int | None = None,
                   folder_type_id: int = 1) -> int:
        with self.lock:
            parent = ROOT_FOLDER_ID if parent_folder_id in (None, ROOT_FOLDER_ID) else parent_folder_id
            assert parent is not None
            parent_path = "" if parent == ROOT_FOLDER_ID else self._folder(parent).path
            folder_id = self._new_id("folder")
            self.folder_map[folder_id] = Folder(folder_id, name, parent, inherit_permissions,
                                             f"{parent_path}\\{name}", folder_type_id=folder_type_id,
                                             personal_user_id=personal_user_id)
            self.folder_children.setdefault(parent, []).append(folder_id)
            self.folder_children[folder_id] = []
            self.folder_perms_by_folder[folder_id] = {}
            self.secrets_by_folder[folder_id] = {}
            self._touch()
            return folder_id

    def rename_folder(self, folder_id: int, new_name: str) -> None:
        with self.lock:
            folder = self._folder(folder_id)
            folder.name = new_name
            self._repath(folder)
            self._touch()

    def _repath(self, folder: Folder) -> None:
        parent_path = "" if folder.parent_id == ROOT_FOLDER_ID else self.folder_map[folder.parent_id].path
        folder.path = f"{parent_path}\\{folder.name}"
        for child in self.folder_children.get(folder.id, ()):
            self._repath(self.folder_map[child])

    def remove_folder(self, folder_id: int) -> None:
        """Remove an empty folder (no subfolders, no secrets) and its permissions."""
        with self.lock:
            folder = self._folder(folder_id)
            if self.folder_children[folder_id] or self.secrets_by_folder[folder_id]:
                raise ValueError(f"folder {folder_id} is not empty")
            for perm_id in list(self.folder_perms_by_folder[folder_id]):
                self._delete_folder_perm(perm_id)
            self.folder_children[folder.parent_id].remove(folder_id)
            for index in (self.folder_children, self.folder_perms_by_folder, self.secrets_by_folder):
                del index[folder_id]
            del self.folder_map[folder_id]
            self._touch()

    def descendant_folder_ids(self, folder_id: int) -> list[int]:
        """The folder and every folder below it, depth first."""
        with self.lock:
            out, stack = [], [folder_id]
            while stack:
                current = stack.pop()
                out.append(current)
                stack.extend(reversed(self.folder_children.get(current, ())))
            return out

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

    def inherited_folder_permissions(self, folder_id: int) -> list[FolderPermission]:
        """The parent's effective permissions: what breaking this folder's inheritance copies."""
        with self.lock:
            folder = self._folder(folder_id)
            source = (self.permission_source_folder(folder.parent_id)
                      if folder.parent_id != ROOT_FOLDER_ID else None)
            if source is None:
                return []
            return [self.folder_perms[p] for p in self.folder_perms_by_folder.get(source, {})]

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

    def grant_folder_permission(self, folder_id: int, user_id: int | None = None,
                                group_id: int | None = None, folder_access_role: str = "View",
                                secret_access_role: str = "View") -> int:
        """Give a user or group access to a folder; breaks inheritance first if needed."""
        with self.lock:
            folder = self._folder(folder_id)
            folder_role = canonical_role(folder_access_role, FOLDER_ROLES)
            secret_role = canonical_role(secret_access_role, FOLDER_SECRET_ROLES)
            if folder_role is None or secret_role is None:
                raise ValueError(f"unknown role {folder_access_role!r}/{secret_access_role!r}")
            group, user = self._principal(user_id, group_id)
            if folder.inherit_permissions:
                self.set_folder_inherit_permissions(folder_id, False)
            for perm_id in self.folder_perms_by_folder[folder_id]:
                existing = self.folder_perms[perm_id]
                if existing.group_id == group:  # one record per principal: update it
                    existing.folder_role, existing.secret_role = folder_role, secret_role
                    self._touch()
                    return perm_id
            perm_id = self._insert_folder_perm(folder_id, group, user, folder_role, secret_role)
            self._touch()
            return perm_id

    def update_folder_permission(self, permission_id: int, folder_access_role: str,
                                 secret_access_role: str) -> None:
        """Change the roles of an existing folder permission (PUT /folder-permissions/{id})."""
        with self.lock:
            perm = self.folder_perms.get(permission_id)
            folder_role = canonical_role(folder_access_role, FOLDER_ROLES)
            secret_role = canonical_role(secret_access_role, FOLDER_SECRET_ROLES)
            if perm is None:
                raise NotFound(f"folder permission {permission_id}")
            if folder_role is None or secret_role is None:
                raise ValueError(f"unknown role {folder_access_role!r}/{secret_access_role!r}")
            perm.folder_role, perm.secret_role = folder_role, secret_role
            self._touch()

    def _insert_folder_perm(self, folder_id: int, group_id: int, user_id: int | None,
                            folder_role: str, secret_role: str) -> int:
        perm_id = self._new_id("folder_perm")
        self.folder_perms[perm_id] = FolderPermission(perm_id, folder_id, group_id, user_id,
                                                      folder_role, secret_role)
        self.folder_perms_by_folder[folder_id][perm_id] = None
        return perm_id

    def revoke_folder_permission(self, permission_id: int) -> None:
        with self.lock:
            if permission_id not in self.folder_perms:
                raise NotFound(f"folder permission {permission_id}")
            self._delete_folder_perm(permission_id)
            self._touch()

    def _delete_folder_perm(self, permission_id: int) -> None:
        perm = self.folder_perms.pop(permission_id)
        self.folder_perms_by_folder[perm.folder_id].pop(permission_id, None)

    # ------------------------------------------------------------------ secrets
    def add_secret(self, name: str, folder_id: int | None, inherits_permissions: bool = True,
                   active: bool = True, template_id: int = DEFAULT_TEMPLATE_ID, *,
                   create_date: str = SIM_NOW, last_accessed: str | None = None,
                   items: dict[str, str] | None = None, **extra: Any) -> int:
        with self.lock:
            folder = ROOT_FOLDER_ID if folder_id in (None, ROOT_FOLDER_ID) else folder_id
            assert folder is not None
            if folder != ROOT_FOLDER_ID:
                self._folder(folder)
            if template_id not in TEMPLATES:
                raise NotFound(f"secret template {template_id}")
            secret_id = self._new_id("secret")
            self.secret_map[secret_id] = Secret(secret_id, name, folder, template_id, active,
                                             inherits_permissions, create_date, last_accessed,
                                             items=items, **extra)
            self.secrets_by_folder.setdefault(folder, {})[secret_id] = None
            self.secret_perms_by_secret[secret_id] = {}
            self._touch()
            return secret_id

    def set_secret_active(self, secret_id: int, active: bool) -> None:
        with self.lock:
            self._secret(secret_id).active = active
            self._touch()

    def rename_secret(self, secret_id: int, new_name: str) -> None:
        with self.lock:
            self._secret(secret_id).name = new_name
            self._touch()

    def move_secret(self, secret_id: int, folder_id: int | None) -> None:
        with self.lock:
            secret = self._secret(secret_id)
            target = ROOT_FOLDER_ID if folder_id in (None, ROOT_FOLDER_ID) else folder_id
            assert target is not None
            if target != ROOT_FOLDER_ID:
                self._folder(target)
            self.secrets_by_folder[secret.folder_id].pop(secret_id, None)
            self.secrets_by_folder.setdefault(target, {})[secret_id] = None
            secret.folder_id = target
            self._touch()

    def remove_secret(self, secret_id: int) -> None:
        with self.lock:
            secret = self._secret(secret_id)
            for perm_id in list(self.secret_perms_by_secret[secret_id]):
                self._delete_secret_perm(perm_id)
            del self.secret_perms_by_secret[secret_id]
            self.secrets_by_folder[secret.folder_id].pop(secret_id, None)
            del self.secret_map[secret_id]
            self._touch()

    def inherited_secret_permissions(self, secret_id: int) -> list[tuple[int, int | None, str]]:
        """(group id, user id, secret role) from the folder's effective permissions: what breaking
        this secret's inheritance copies (a folder permission whose secret role is None gives none)."""
        with self.lock:
            secret = self._secret(secret_id)
            source = (self.permission_source_folder(secret.folder_id)
                      if secret.folder_id != ROOT_FOLDER_ID else None)
            if source is None:
                return []
            perms = [self.folder_perms[p] for p in self.folder_perms_by_folder.get(source, {})]
            return [(p.group_id, p.user_id, p.secret_role) for p in perms if p.secret_role != "None"]

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

    def grant_secret_permission(self, secret_id: int, user_id: int | None = None,
                                group_id: int | None = None, role: str = "View") -> int:
        """Give a user or group access to a secret; breaks inheritance first if needed."""
        with self.lock:
            secret = self._secret(secret_id)
            canonical = canonical_role(role, SECRET_ROLES)
            if canonical is None:
                raise ValueError(f"unknown secret access role {role!r}")
            group, user = self._principal(user_id, group_id)
            if secret.inherits_permissions:
                self.set_secret_inherits_permissions(secret_id, False)
            for perm_id in self.secret_perms_by_secret[secret_id]:
                existing = self.secret_perms[perm_id]
                if existing.group_id == group:
                    existing.role = canonical
                    self._touch()
                    return perm_id
            perm_id = self._insert_secret_perm(secret_id, group, user, canonical)
            self._touch()
            return perm_id

    def update_secret_permission(self, permission_id: int, role: str) -> None:
        """Change the role of an existing secret permission (PUT /secret-permissions/{id})."""
        with self.lock:
            perm = self.secret_perms.get(permission_id)
            canonical = canonical_role(role, SECRET_ROLES)
            if perm is None:
                raise NotFound(f"secret permission {permission_id}")
            if canonical is None:
                raise ValueError(f"unknown secret access role {role!r}")
            perm.role = canonical
            self._touch()

    def _insert_secret_perm(self, secret_id: int, group_id: int, user_id: int | None, role: str) -> int:
        perm_id = self._new_id("secret_perm")
        self.secret_perms[perm_id] = SecretPermission(perm_id, secret_id, group_id, user_id, role)
        self.secret_perms_by_secret[secret_id][perm_id] = None
        return perm_id

    def revoke_secret_permission(self, permission_id: int) -> None:
        with self.lock:
            if permission_id not in self.secret_perms:
                raise NotFound(f"secret permission {permission_id}")
            self._delete_secret_perm(permission_id)
            self._touch()

    def _delete_secret_perm(self, permission_id: int) -> None:
        perm = self.secret_perms.pop(permission_id)
        self.secret_perms_by_secret[perm.secret_id].pop(permission_id, None)

    # ------------------------------------------------------------------ read accessors (API shapes)
    def _render_all(self, items: Iterable[Any], fn: Any) -> list[dict[str, Any]]:
        with self.lock:
            return [fn(self, item) for item in items]

    def users(self) -> list[dict[str, Any]]:
        """Every user (enabled or not) in the GET /users record shape, by id."""
        return self._render_all(list(self.user_map.values()), render.user_record)

    def groups(self) -> list[dict[str, Any]]:
        """Every group listed by GET /groups (personal groups excluded), by id."""
        with self.lock:
            return [render.group_record(self, g) for g in self.group_map.values() if g.personal_user_id is None]

    def personal_groups(self) -> dict[int, int]:
        """user id -> id of that user's personal group."""
        with self.lock:
            return {u.id: u.personal_group_id for u in self.user_map.values()}

    def group_members(self) -> list[tuple[int, int]]:
        """(group id, user id) pairs, "Everyone" included, personal groups excluded."""
        with self.lock:
            return [(gid, uid) for gid, users in self.members.items()
                    if self.group_map[gid].personal_user_id is None for uid in users]

    def folders(self) -> list[dict[str, Any]]:
        return self._render_all(list(self.folder_map.values()), render.folder_record)

    def folder_permissions(self) -> list[dict[str, Any]]:
        return self._render_all(list(self.folder_perms.values()), render.folder_permission_record)

    def secrets(self) -> list[dict[str, Any]]:
        """Every secret (active or not) in the GET /secrets record shape, by id."""
        return self._render_all(list(self.secret_map.values()), render.secret_record)

    def secret_permissions(self) -> list[dict[str, Any]]:
        return self._render_all(list(self.secret_perms.values()), render.secret_permission_record)

    def domain_records(self) -> list[dict[str, Any]]:
        return self._render_all(list(self.domains.values()), render.domain_record)

    def counts(self) -> dict[str, int]:
        with self.lock:
            users = self.user_map.values()
            listed_groups = [g for g in self.group_map.values() if g.personal_user_id is None]
            return {
                "domains": len(self.domains),
                "users": len(self.user_map),
                "users_enabled": sum(1 for u in users if u.enabled),
                "groups": len(listed_groups),
                "personal_groups": len(self.group_map) - len(listed_groups),
                "group_members": sum(len(self.members[g.id]) for g in listed_groups),
                "folders": len(self.folder_map),
                "folder_permissions": len(self.folder_perms),
                "secrets": len(self.secret_map),
                "secrets_active": sum(1 for s in self.secret_map.values() if s.active),
                "secrets_breaking_inheritance": sum(1 for s in self.secret_map.values()
                                                    if not s.inherits_permissions),
                "secret_permissions": len(self.secret_perms),
            }
