"""The REST endpoints: routing table and handlers, free of HTTP plumbing (see server.py).

Each handler takes a `Request` and returns `(status, payload)`; a `BadRequest` becomes the
documented 400 body. Searches are cached per organization version, so paging through a large,
unchanging organization costs one filter pass plus one slice per page.
"""

from __future__ import annotations

import re
import threading
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any, ClassVar

from simulator import render
from simulator.paging import BadRequest, Filters, Paging, envelope, parse_bool, parse_paging
from simulator.records import (
    FOLDER_ROLES,
    FOLDER_SECRET_ROLES,
    LOCAL_DOMAIN_ID,
    ROOT_FOLDER_ID,
    SECRET_ROLES,
    TEMPLATES,
    VERSION,
    canonical_role,
)
from simulator.state import NotFound, Organization

Payload = Any
Result = tuple[int, Payload]


@dataclass
class Request:
    method: str
    path: str  # below the prefix, e.g. /api/v1/users/3
    query: dict[str, list[str]]  # normalized (lower-case names, no paging. prefix)
    body: bytes
    params: dict[str, str]  # from the route pattern

    def json(self) -> dict[str, Any]:
        import json

        if not self.body.strip():
            raise BadRequest("The request is invalid.", "API_InvalidRequest", "A request body is required.")
        try:
            value = json.loads(self.body)
        except ValueError:
            raise BadRequest("The request is invalid.", "API_InvalidRequest", "The body is not valid JSON.") from None
        if not isinstance(value, dict):
            raise BadRequest("The request is invalid.", "API_InvalidRequest", "The body must be a JSON object.")
        return value

    def flag(self, name: str, default: bool = False) -> bool:
        values = self.query.get(name.lower())
        return parse_bool(name, values[-1]) if values else default

    def id(self, name: str = "id") -> int:
        return int(self.params[name])


def access_denied() -> BadRequest:
    return BadRequest("Access Denied", "API_AccessDenied")


def _int_field(body: dict[str, Any], name: str, required: bool = False) -> int | None:
    value = body.get(name)
    if value is None or value == "":
        if required:
            raise BadRequest("The request is invalid.", "API_InvalidRequest", f"{name} is required.",
                             {name: [f"The {name} field is required."]})
        return None
    if isinstance(value, bool) or not isinstance(value, int | str):
        raise BadRequest("The request is invalid.", "API_InvalidRequest", f"{name} must be an integer.")
    try:
        return int(value)
    except ValueError:
        raise BadRequest("The request is invalid.", "API_InvalidRequest", f"{name} must be an integer.") from None


def _str_field(body: dict[str, Any], name: str, required: bool = False) -> str | None:
    value = body.get(name)
    if value is None or (isinstance(value, str) and not value.strip()):
        if required:
            raise BadRequest("The request is invalid.", "API_InvalidRequest", f"{name} is required.",
                             {name: [f"The {name} field is required."]})
        return None
    if not isinstance(value, str):
        raise BadRequest("The request is invalid.", "API_InvalidRequest", f"{name} must be a string.")
    return value


def _bool_field(body: dict[str, Any], name: str, default: bool) -> bool:
    value = body.get(name, default)
    if value is None:
        return default
    if not isinstance(value, bool):
        raise BadRequest("The request is invalid.", "API_InvalidRequest", f"{name} must be true or false.")
    return value


def _contains(needle: str | None, *haystacks: str | None) -> bool:
    if not needle:
        return True
    lowered = needle.lower()
    return any(h is not None and lowered in h.lower() for h in haystacks)


class Api:
    """Endpoint handlers over one Organization."""

    def __init__(self, org: Organization, page_cap: int = 1000) -> None:
        self.org = org
        self.page_cap = page_cap
        self._cache: OrderedDict[tuple[Any, ...], tuple[int, list[Any]]] = OrderedDict()
        self._cache_lock = threading.Lock()
        self.routes: list[tuple[str, re.Pattern[str], Callable[[Request], Result], str | None]] = []
        for method, pattern, handler, entity in self._route_table():
            regex = re.compile("^" + re.sub(r"\{(\w+)\}", r"(?P<\1>\\d+)", pattern) + "/?$", re.IGNORECASE)
            self.routes.append((method, regex, handler, entity))

    def _route_table(self) -> list[tuple[str, str, Callable[[Request], Result], str | None]]:
        v1 = "/api/v1"
        return [
            ("GET", f"{v1}/version", self.version, None),
            ("GET", f"{v1}/healthcheck", self.healthcheck, None),
            ("GET", f"{v1}/domains", self.search_domains, "domains"),
            ("GET", f"{v1}/users", self.search_users, "users"),
            ("POST", f"{v1}/users", self.create_user, None),
            ("GET", f"{v1}/users/{{id}}", self.get_user, None),
            ("PUT", f"{v1}/users/{{id}}", self.put_user, None),
            ("PATCH", f"{v1}/users/{{id}}", self.patch_user, None),
            ("DELETE", f"{v1}/users/{{id}}", self.delete_user, None),
            ("POST", f"{v1}/users/{{id}}/password-reset", self.reset_password, None),
            ("GET", f"{v1}/users/{{id}}/groups", self.user_groups, "user_groups"),
            ("GET", f"{v1}/groups", self.search_groups, "groups"),
            ("POST", f"{v1}/groups", self.create_group, None),
            ("GET", f"{v1}/groups/{{id}}", self.get_group, None),
            ("DELETE", f"{v1}/groups/{{id}}", self.delete_group, None),
            ("GET", f"{v1}/groups/{{id}}/users", self.group_users, "group_members"),
            ("POST", f"{v1}/groups/{{id}}/users", self.add_group_user, None),
            ("DELETE", f"{v1}/groups/{{id}}/users/{{userId}}", self.remove_group_user, None),
            ("GET", f"{v1}/folders", self.search_folders, "folders"),
            ("POST", f"{v1}/folders", self.create_folder, None),
            ("GET", f"{v1}/folders/lookup", self.lookup_folders, "folders"),
            ("GET", f"{v1}/folders/{{id}}", self.get_folder, None),
            ("GET", f"{v1}/folder-permissions", self.search_folder_permissions, "folder_permissions"),
            ("POST", f"{v1}/folder-permissions", self.create_folder_permission, None),
            ("GET", f"{v1}/folder-permissions/{{id}}", self.get_folder_permission, None),
            ("DELETE", f"{v1}/folder-permissions/{{id}}", self.delete_folder_permission, None),
            ("GET", f"{v1}/secrets", self.search_secrets, "secrets"),
            ("POST", f"{v1}/secrets", self.create_secret, None),
            ("GET", f"{v1}/secrets/{{id}}", self.get_secret, None),
            ("GET", f"{v1}/secrets/{{id}}/summary", self.get_secret_summary, None),
            ("GET", f"{v1}/secret-permissions", self.search_secret_permissions, "secret_permissions"),
            ("POST", f"{v1}/secret-permissions", self.create_secret_permission, None),
            ("GET", f"{v1}/secret-permissions/{{id}}", self.get_secret_permission, None),
            ("DELETE", f"{v1}/secret-permissions/{{id}}", self.delete_secret_permission, None),
        ]

    def match(self, method: str, path: str) -> tuple[Callable[[Request], Result] | None, dict[str, str],
                                                       str | None, bool]:
        """(handler, params, search entity, path known) for a method and a path below the prefix."""
        path_known = False
        for route_method, regex, handler, entity in self.routes:
            found = regex.match(path)
            if found:
                path_known = True
                if route_method == method:
                    return handler, found.groupdict(), entity, True
        return None, {}, None, path_known

    # ------------------------------------------------------------------ search machinery
    def _page(self, req: Request, cache_key: tuple[Any, ...],
              candidates: Callable[[Filters], list[Any]], fn: Callable[[Any], dict[str, Any]]) -> Result:
        paging = parse_paging(req.query, self.page_cap)
        key = (*cache_key, paging.filters.key(), paging.sort_key())
        org = self.org
        with org.lock:
            version = org.version
            with self._cache_lock:
                cached = self._cache.get(key)
            if cached is not None and cached[0] == version:
                items = cached[1]
            else:
                items = self._sorted(candidates(paging.filters), paging, fn)
                with self._cache_lock:
                    self._cache[key] = (version, items)
                    self._cache.move_to_end(key)
                    while len(self._cache) > 64:
                        self._cache.popitem(last=False)
            page = [fn(item) for item in items[paging.skip: paging.skip + paging.take]]
        return 200, envelope(page, len(items), paging)

    @staticmethod
    def _sorted(items: list[Any], paging: Paging, fn: Callable[[Any], dict[str, Any]]) -> list[Any]:
        if not paging.sort:
            return items
        rendered = [(fn(item), item) for item in items]
        for spec in reversed(paging.sort):  # stable sorts, lowest priority applied last... first
            if spec["direction"] == "None":
                continue
            wanted = str(spec["name"]).lower()
            field = next((k for k in rendered[0][0] if k.lower() == wanted), None) if rendered else None
            if field is None:
                continue

            def sort_value(pair: tuple[dict[str, Any], Any], field: str = field) -> tuple[int, Any]:
                value = pair[0][field]
                if value is None:
                    return (0, "")
                return (1, value.lower() if isinstance(value, str) else value)

            rendered.sort(key=sort_value, reverse=spec["direction"] == "Desc")
        return [item for _, item in rendered]

    def _r(self, fn: Callable[..., dict[str, Any]]) -> Callable[[Any], dict[str, Any]]:
        org = self.org
        return lambda item: fn(org, item)

    # ------------------------------------------------------------------ misc
    def version(self, req: Request) -> Result:
        return 200, {"model": {"version": VERSION}, "success": True, "severity": "None"}

    def healthcheck(self, req: Request) -> Result:
        now = datetime.now()
        utc = datetime.utcnow()
        return 200, {"databaseMismatch": False, "healthy": True, "now": now.isoformat(timespec="milliseconds"),
                     "readOnlyMode": False, "utcNow": utc.isoformat(timespec="milliseconds") + "Z"}

    def search_domains(self, req: Request) -> Result:
        return self._page(req, ("domains",), lambda f: list(self.org.domains.values()),
                          self._r(render.domain_record))

    # ------------------------------------------------------------------ users
    def search_users(self, req: Request) -> Result:
        def candidates(f: Filters) -> list[Any]:
            include_inactive = f.bool("includeInactive", False)
            domain_id = f.int("domainId")
            text = f.text("searchText")
            fields = {x.lower() for x in f.texts("searchFields")} or {"username", "displayname", "emailaddress"}
            out = []
            for u in self.org.user_map.values():
                if not include_inactive and not u.enabled:
                    continue
                if domain_id is not None and u.domain_id != domain_id:
                    continue
                if text and not _contains(text, u.user_name if "username" in fields else None,
                                          u.display_name if "displayname" in fields else None,
                                          u.email_address if "emailaddress" in fields else None):
                    continue
                out.append(u)
            return out

        return self._page(req, ("users",), candidates, self._r(render.user_record))

    def _get_user(self, user_id: int) -> Any:
        user = self.org.user_map.get(user_id)
        if user is None:
            raise access_denied()
        return user

    def get_user(self, req: Request) -> Result:
        with self.org.lock:
            return 200, render.user_model(self.org, self._get_user(req.id()))

    def create_user(self, req: Request) -> Result:
        body = req.json()
        user_name = _str_field(body, "userName", required=True)
        assert user_name is not None
        domain_id = _int_field(body, "domainId")
        domain = LOCAL_DOMAIN_ID if domain_id in (None, 0, LOCAL_DOMAIN_ID) else domain_id
        password = _str_field(body, "password")
        with self.org.lock:
            if domain != LOCAL_DOMAIN_ID and domain not in self.org.domains:
                raise BadRequest("Invalid domain.", "API_InvalidDomain")
            if self.org.find_user(user_name, domain) is not None:
                raise BadRequest("A user with this name already exists.", "API_DuplicateUserName")
            if domain == LOCAL_DOMAIN_ID and not password:
                raise BadRequest("The request is invalid.", "API_InvalidRequest", "password is required.",
                                 {"password": ["A password is required for a local user."]})
            user_id = self.org.add_user(
                user_name, display_name=_str_field(body, "displayName") or user_name,
                domain_id=None if domain == LOCAL_DOMAIN_ID else domain,
                enabled=_bool_field(body, "enabled", True),
                is_application_account=_bool_field(body, "isApplicationAccount", False),
                email_address=_str_field(body, "emailAddress") or "", password=password,
                ad_guid=_str_field(body, "adGuid"),
            )
            user = self.org.user_map[user_id]
            user.two_factor = _bool_field(body, "twoFactor", False)
            return 200, render.user_model(self.org, user)

    _USER_FIELDS: ClassVar[dict[str, tuple[str, type]]] = {
        "displayName": ("display_name", str), "emailAddress": ("email_address", str),
        "enabled": ("enabled", bool), "isApplicationAccount": ("is_application_account", bool),
        "isLockedOut": ("is_locked_out", bool), "loginFailures": ("login_failures", int),
        "twoFactor": ("two_factor", bool),
    }

    def _apply_user_changes(self, user_id: int, changes: dict[str, Any]) -> dict[str, Any]:
        updates: dict[str, Any] = {}
        password = None
        for name, value in changes.items():
            if name == "password":
                if not isinstance(value, str) or not value:
                    raise BadRequest("The request is invalid.", "API_InvalidRequest", "password must be a string.")
                password = value
                continue
            spec = self._USER_FIELDS.get(name)
            if spec is None:
                continue  # fields the simulator does not model are accepted and ignored
            attr, kind = spec
            if value is not None and (not isinstance(value, kind) or (kind is int and isinstance(value, bool))):
                raise BadRequest("The request is invalid.", "API_InvalidRequest", f"{name} has the wrong type.",
                                 {name: [f"The value is not a valid {kind.__name__}."]})
            updates[attr] = value
        with self.org.lock:
            self._get_user(user_id)
            if updates.get("is_locked_out") is False:
                updates.setdefault("login_failures", 0)
            if updates:
                self.org.update_user(user_id, **updates)
            if password is not None:
                self.org.set_user_password(user_id, password)
            return render.user_model(self.org, self.org.user_map[user_id])

    def put_user(self, req: Request) -> Result:
        body = req.json()
        body_id = _int_field(body, "id")
        if body_id is not None and body_id != req.id():
            raise BadRequest("The id in the body does not match the URL.", "API_InvalidRequest")
        return 200, self._apply_user_changes(req.id(), {k: v for k, v in body.items() if k != "id"})

    def patch_user(self, req: Request) -> Result:
        body = req.json()
        body = body.get("data", body) if isinstance(body.get("data"), dict) else body
        changes: dict[str, Any] = {}
        for name, wrapped in body.items():
            if name in ("id", "groupOwners", "isGroupOwnerUpdate"):
                continue
            if not isinstance(wrapped, dict) or "dirty" not in wrapped:
                raise BadRequest("The request is invalid.", "API_InvalidRequest",
                                 f'{name} must be wrapped as {{"dirty": true, "value": ...}}.',
                                 {name: ["Expected an object with dirty and value."]})
            if wrapped.get("dirty"):
                changes[name] = wrapped.get("value")
        return 200, self._apply_user_changes(req.id(), changes)

    def delete_user(self, req: Request) -> Result:
        with self.org.lock:
            self._get_user(req.id())
        raise BadRequest("Users cannot be deleted; disable them instead.", "API_UserCannotBeDeleted")

    def reset_password(self, req: Request) -> Result:
        body = req.json()
        data: dict[str, Any] = body["data"] if isinstance(body.get("data"), dict) else body
        password = _str_field(data, "password", required=True)
        body_user = _int_field(data, "userId")
        if body_user is not None and body_user != req.id():
            raise BadRequest("The userId in the body does not match the URL.", "API_InvalidRequest")
        with self.org.lock:
            self._get_user(req.id())
            assert password is not None
            self.org.set_user_password(req.id(), password)
        return 200, {"success": True}

    def user_groups(self, req: Request) -> Result:
        user_id = req.id()
        with self.org.lock:
            user = self._get_user(user_id)

        def candidates(f: Filters) -> list[Any]:
            groups = self.org.group_map
            return [groups[g] for g in sorted(self.org.user_groups.get(user_id, ()))]

        return self._page(req, ("user_groups", user_id), candidates,
                          lambda g: render.membership_record(self.org, g, user))

    # ------------------------------------------------------------------ groups
    def search_groups(self, req: Request) -> Result:
        def candidates(f: Filters) -> list[Any]:
            include_inactive = f.bool("includeInactive", False)
            domain_id = f.int("domainId")
            text = f.text("searchText")
            return [g for g in self.org.group_map.values()
                    if g.personal_user_id is None and (include_inactive or g.enabled)
                    and (domain_id is None or g.domain_id == domain_id) and _contains(text, g.name)]

        return self._page(req, ("groups",), candidates, self._r(render.group_record))

    def _get_group(self, group_id: int) -> Any:
        group = self.org.group_map.get(group_id)
        if group is None or group.personal_user_id is not None:
            raise access_denied()
        return group

    def get_group(self, req: Request) -> Result:
        with self.org.lock:
            return 200, render.group_model(self.org, self._get_group(req.id()))

    def create_group(self, req: Request) -> Result:
        body = req.json()
        name = _str_field(body, "name", required=True)
        assert name is not None
        domain_id = _int_field(body, "domainId")
        domain = None if domain_id in (None, 0, LOCAL_DOMAIN_ID) else domain_id
        with self.org.lock:
            if domain is not None and domain not in self.org.domains:
                raise BadRequest("Invalid domain.", "API_InvalidDomain")
            for g in self.org.group_map.values():
                if g.personal_user_id is None and g.name.lower() == name.lower() and \
                        g.domain_id == (domain or LOCAL_DOMAIN_ID):
                    raise BadRequest("A group with this name already exists.", "API_DuplicateGroupName")
            group_id = self.org.add_group(name, domain, enabled=_bool_field(body, "enabled", True),
                                          ad_guid=_str_field(body, "adGuid"))
            return 200, render.group_model(self.org, self.org.group_map[group_id])

    def delete_group(self, req: Request) -> Result:
        with self.org.lock:
            group = self._get_group(req.id())
            if group.system_group:
                raise BadRequest("System groups cannot be deleted.", "API_AccessDenied")
            self.org.remove_group(group.id)
        return 200, render.deleted(req.id(), "Group")

    def group_users(self, req: Request) -> Result:
        group_id = req.id()
        with self.org.lock:
            group = self._get_group(group_id)

        def candidates(f: Filters) -> list[Any]:
            include_inactive = f.bool("includeInactiveUsersForGroup", False)
            domain_id = f.int("userDomainId")
            users = self.org.user_map
            out = []
            for user_id in sorted(self.org.members.get(group_id, ())):
                user = users[user_id]
                if (include_inactive or user.enabled) and (domain_id is None or user.domain_id == domain_id):
                    out.append(user)
            return out

        return self._page(req, ("group_members", group_id), candidates,
                          lambda u: render.membership_record(self.org, group, u))

    def add_group_user(self, req: Request) -> Result:
        body = req.json()
        user_id = _int_field(body, "userId", required=True)
        assert user_id is not None
        with self.org.lock:
            group = self._get_group(req.id())
            user = self._get_user(user_id)
            if group.system_group:
                raise BadRequest("The membership of a system group cannot be changed.", "API_AccessDenied")
            if self.org.is_member(group.id, user_id):
                raise BadRequest("The user is already a member of this group.", "API_UserAlreadyInGroup")
            self.org.add_member(group.id, user_id)
            return 200, render.added_member_record(self.org, group, user)

    def remove_group_user(self, req: Request) -> Result:
        user_id = req.id("userId")
        with self.org.lock:
            group = self._get_group(req.id())
            if group.system_group:
                raise BadRequest("The membership of a system group cannot be changed.", "API_AccessDenied")
            if not self.org.is_member(group.id, user_id):
                raise BadRequest("The user is not a member of this group.", "API_UserNotInGroup")
            self.org.remove_member(group.id, user_id)
        return 200, render.deleted(user_id, "GroupUser")

    # ------------------------------------------------------------------ folders
    def _folder_candidates(self, f: Filters) -> list[Any]:
        parent = f.int("parentFolderId")
        folder_type = f.int("folderTypeId")
        text = f.text("searchText")
        return [x for x in self.org.folder_map.values()
                if (parent is None or x.parent_id == parent)
                and (folder_type is None or x.folder_type_id == folder_type) and _contains(text, x.name)]

    def search_folders(self, req: Request) -> Result:
        return self._page(req, ("folders",), self._folder_candidates, self._r(render.folder_record))

    def lookup_folders(self, req: Request) -> Result:
        return self._page(req, ("folders_lookup",), self._folder_candidates,
                          lambda x: {"id": x.id, "value": x.name})

    def _get_folder(self, folder_id: int) -> Any:
        folder = self.org.folder_map.get(folder_id)
        if folder is None:
            raise access_denied()
        return folder

    def get_folder(self, req: Request) -> Result:
        with self.org.lock:
            folder_id = req.id()
            path = (req.query.get("folderpath") or [""])[-1]
            if folder_id == 0 and path:  # GET /folders/0?folderPath=\\A\\B, as the SDKs do
                folder_id = self._folder_by_path(path)
            folder = self._get_folder(folder_id)
            return 200, render.folder_model(self.org, folder, all_children=req.flag("getAllChildren"),
                                            with_templates=req.flag("includeAssociatedTemplates"))

    def create_folder(self, req: Request) -> Result:
        body = req.json()
        name = _str_field(body, "folderName", required=True)
        assert name is not None
        parent = _int_field(body, "parentFolderId")
        parent = ROOT_FOLDER_ID if parent in (None, 0, ROOT_FOLDER_ID) else parent
        with self.org.lock:
            if parent != ROOT_FOLDER_ID:
                self._get_folder(parent)
            for sibling in self.org.folder_children.get(parent, ()):
                if self.org.folder_map[sibling].name.lower() == name.lower():
                    raise BadRequest("A folder with this name already exists here.", "API_DuplicateFolderName")
            folder_id = self.org.add_folder(name, parent, True, folder_type_id=_int_field(body, "folderTypeId") or 1)
            if not _bool_field(body, "inheritPermissions", True):  # starts from a copy of the parent's
                self.org.set_folder_inherit_permissions(folder_id, False)
            return 200, render.folder_model(self.org, self.org.folder_map[folder_id])

    # ------------------------------------------------------------------ permissions
    def _principal(self, body: dict[str, Any]) -> tuple[int | None, int | None]:
        """(user id, group id) named by a permission body (ids, or names with domainName)."""
        user_id = _int_field(body, "userId")
        group_id = _int_field(body, "groupId")
        org = self.org
        if user_id is None and group_id is None:
            user_name, group_name = _str_field(body, "userName"), _str_field(body, "groupName")
            domain_name = _str_field(body, "domainName")
            domain_id = None
            if domain_name:
                domain_id = next((d.id for d in org.domains.values()
                                  if domain_name.lower() in (d.name.lower(), d.friendly_name.lower())), -99)
            if user_name:
                user = org.find_user(user_name, domain_id)
                user_id = user.id if user else -1
            elif group_name:
                group_id = next((g.id for g in org.group_map.values() if g.personal_user_id is None
                                 and g.name.lower() == group_name.lower()
                                 and (domain_id is None or g.domain_id == domain_id)), -1)
        if user_id is None and group_id is None:
            raise BadRequest("A userId or a groupId is required.", "API_InvalidRequest")
        if user_id is not None:
            self._get_user(user_id)
            return user_id, None
        assert group_id is not None
        group = org.group_map.get(group_id)
        if group is None:
            raise access_denied()
        if group.personal_user_id is not None:
            return group.personal_user_id, None
        return None, group_id

    def search_folder_permissions(self, req: Request) -> Result:
        def candidates(f: Filters) -> list[Any]:
            folder_id, group_id, user_id = f.int("folderId"), f.int("groupId"), f.int("userId")
            org = self.org
            source = org.folder_perms.values() if folder_id is None else \
                [org.folder_perms[p] for p in org.folder_perms_by_folder.get(folder_id, ())]
            return sorted((p for p in source if (group_id is None or p.group_id == group_id)
                           and (user_id is None or p.user_id == user_id)), key=lambda p: p.id)

        return self._page(req, ("folder_permissions",), candidates, self._r(render.folder_permission_record))

    def get_folder_permission(self, req: Request) -> Result:
        with self.org.lock:
            perm = self.org.folder_perms.get(req.id())
            if perm is None:
                raise access_denied()
            return 200, render.folder_permission_record(self.org, perm)

    def create_folder_permission(self, req: Request) -> Result:
        body = req.json()
        folder_id = _int_field(body, "folderId", required=True)
        folder_role = canonical_role(str(body.get("folderAccessRoleName") or ""), FOLDER_ROLES)
        secret_role = canonical_role(str(body.get("secretAccessRoleName") or ""), FOLDER_SECRET_ROLES)
        if folder_role is None or secret_role is None:
            bad = body.get("folderAccessRoleName") if folder_role is None else body.get("secretAccessRoleName")
            raise BadRequest(f"Invalid role name '{bad}'.", "API_GenericException")
        break_inheritance = _bool_field(body, "breakInheritance", False)
        with self.org.lock:
            assert folder_id is not None
            folder = self._get_folder(folder_id)
            user_id, group_id = self._principal(body)
            if folder.inherit_permissions and not break_inheritance:
                raise BadRequest("The folder inherits its permissions; set breakInheritance to change them.",
                                 "API_PermissionsAreInherited")
            perm_id = self.org.grant_folder_permission(folder_id, user_id=user_id, group_id=group_id,
                                                       folder_access_role=folder_role,
                                                       secret_access_role=secret_role)
            return 200, render.folder_permission_record(self.org, self.org.folder_perms[perm_id])

    def delete_folder_permission(self, req: Request) -> Result:
        with self.org.lock:
            if req.id() not in self.org.folder_perms:
                raise access_denied()
            self.org.revoke_folder_permission(req.id())
        return 200, render.deleted(req.id(), "FolderPermission")

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

    def get_secret_permission(self, req: Request) -> Result:
        with self.org.lock:
            perm = self.org.secret_perms.get(req.id())
            if perm is None:
                raise access_denied()
            return 200, render.secret_permission_record(self.org, perm)

    def create_secret_permission(self, req: Request) -> Result:
        body = req.json()
        secret_id = _int_field(body, "secretId", required=True)
        role = canonical_role(str(body.get("secretAccessRoleName") or ""), SECRET_ROLES)
        if role is None:
            raise BadRequest(f"Invalid role name '{body.get('secretAccessRoleName')}'.", "API_GenericException")
        with self.org.lock:
            assert secret_id is not None
            self._get_secret(secret_id, include_inactive=True)
            user_id, group_id = self._principal(body)
            perm_id = self.org.grant_secret_permission(secret_id, user_id=user_id, group_id=group_id, role=role)
            return 200, render.secret_permission_record(self.org, self.org.secret_perms[perm_id])

    def delete_secret_permission(self, req: Request) -> Result:
        with self.org.lock:
            if req.id() not in self.org.secret_perms:
                raise access_denied()
            self.org.revoke_secret_permission(req.id())
        return 200, render.deleted(req.id(), "SecretPermission")

    # ------------------------------------------------------------------ secrets
    def search_secrets(self, req: Request) -> Result:
        paging = parse_paging(req.query, self.page_cap)
        extended = paging.filters.texts("extendedFields")

        def candidates(f: Filters) -> list[Any]:
            org = self.org
            folder_id = f.int("folderId")
            include_inactive = f.bool("includeInactive", False)
            include_active = f.bool("includeActive", True)
            text = f.text("searchText")
            exact = f.bool("isExactMatch", False)
            template_id = f.int("secretTemplateId")
            site_id = f.int("siteId")
            heartbeat = f.text("heartbeatStatus")
            if folder_id is None:
                source: list[Any] = list(org.secret_map.values())
            else:
                folders = (org.descendant_folder_ids(folder_id) if f.bool("includeSubFolders", False)
                           else [folder_id])
                ids = sorted(s for fid in folders for s in org.secrets_by_folder.get(fid, ()))
                source = [org.secret_map[s] for s in ids]
            lowered = text.lower() if text else None
            out = []
            for s in source:
                if not ((s.active and include_active) or (not s.active and include_inactive)):
                    continue
                if lowered and ((s.name.lower() != lowered) if exact else (lowered not in s.name.lower())):
                    continue
                if template_id is not None and s.template_id != template_id:
                    continue
                if site_id is not None and s.site_id != site_id:
                    continue
                if heartbeat and s.last_heartbeat_status.lower() != heartbeat.lower():
                    continue
                out.append(s)
            return out

        org = self.org
        return self._page(req, ("secrets",), candidates,
                          lambda s: render.secret_record(org, s, extended))

    def _get_secret(self, secret_id: int, include_inactive: bool) -> Any:
        secret = self.org.secret_map.get(secret_id)
        if secret is None or (not secret.active and not include_inactive):
            raise access_denied()
        return secret

    def get_secret(self, req: Request) -> Result:
        with self.org.lock:
            secret_id = req.id()
            path = (req.query.get("secretpath") or [""])[-1]
            if secret_id == 0 and path:  # GET /secrets/0?secretPath=\\Folder\\Name, as the SDKs do
                secret_id = self._secret_by_path(path)
            secret = self._get_secret(secret_id, req.flag("includeInactive"))
            return 200, render.secret_model(self.org, secret)

    def _secret_by_path(self, path: str) -> int:
        folder_path, _, name = path.rstrip("\\").rpartition("\\")
        folder_id = self._folder_by_path(folder_path) if folder_path else ROOT_FOLDER_ID
        for secret_id in self.org.secrets_by_folder.get(folder_id, ()):
            if self.org.secret_map[secret_id].name.lower() == name.lower():
                return secret_id
        raise access_denied()

    def _folder_by_path(self, path: str) -> int:
        wanted = "\\" + path.strip("\\").lower()
        for folder in self.org.folder_map.values():
            if folder.path.lower() == wanted:
                return folder.id
        raise access_denied()

    def get_secret_summary(self, req: Request) -> Result:
        with self.org.lock:
            secret = self._get_secret(req.id(), True)
            return 200, render.secret_record(self.org, secret)

    def create_secret(self, req: Request) -> Result:
        body = req.json()
        name = _str_field(body, "name", required=True)
        template_id = _int_field(body, "secretTemplateId", required=True)
        folder_id = _int_field(body, "folderId")
        assert name is not None and template_id is not None
        template = TEMPLATES.get(template_id)
        if template is None:
            raise BadRequest("Invalid secret template.", "API_InvalidSecretTemplate")
        items = body.get("items") or []
        if not isinstance(items, list):
            raise BadRequest("The request is invalid.", "API_InvalidRequest", "items must be a list.")
        values: dict[str, str] = {}
        for item in items:
            if not isinstance(item, dict):
                raise BadRequest("The request is invalid.", "API_InvalidRequest", "items must be objects.")
            slug = str(item.get("slug") or "").lower()
            field = next((f for f in template.fields if f.slug == slug or f.field_id == item.get("fieldId")
                          or f.name.lower() == str(item.get("fieldName") or "").lower()), None)
            if field is None:
                raise BadRequest(f"Unknown field for template {template.name}.", "API_InvalidSecretField")
            values[field.slug] = "" if item.get("itemValue") is None else str(item.get("itemValue"))
        with self.org.lock:
            if folder_id not in (None, ROOT_FOLDER_ID):
                assert folder_id is not None
                self._get_folder(folder_id)
            secret_id = self.org.add_secret(
                name, folder_id, inherits_permissions=True, template_id=template_id, items=values,
                auto_change_enabled=_bool_field(body, "autoChangeEnabled", False),
                check_out_enabled=_bool_field(body, "checkOutEnabled", False),
                requires_comment=_bool_field(body, "requiresComment", False),
                site_id=_int_field(body, "siteId") or 1,
            )
            if not _bool_field(body, "enableInheritPermissions", True):  # starts from the folder's
                self.org.set_secret_inherits_permissions(secret_id, False)
            return 200, render.secret_model(self.org, self.org.secret_map[secret_id])


__all__ = ["Api", "NotFound", "Request"]
