"""Users and groups."""

from __future__ import annotations

from typing import Any, ClassVar

from simulator import render
from simulator.api_base import ApiBase, Request, Result, bool_field, contains, int_field, str_field
from simulator.binding import ADD_GROUP_USER, CREATE_USER, PASSWORD_RESET, PATCH_USER, UPDATE_USER, bind, invalid
from simulator.paging import BadRequest, Filters
from simulator.records import LOCAL_DOMAIN_ID


class UsersApi(ApiBase):
    """Users, their groups, and group membership."""

    # ------------------------------------------------------------------ users
    def search_domains(self, req: Request) -> Result:
        return self._page(req, ("domains",), lambda f: list(self.org.domains.values()),
                          self._r(render.domain_record))

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
                if text and not contains(text, u.user_name if "username" in fields else None,
                                          u.display_name if "displayname" in fields else None,
                                          u.email_address if "emailaddress" in fields else None):
                    continue
                out.append(u)
            return out

        return self._page(req, ("users",), candidates, self._r(render.user_record))

    def get_user(self, req: Request) -> Result:
        with self.org.lock:
            return 200, render.user_model(self.org, self._get_user(req.id()))

    def create_user(self, req: Request) -> Result:
        body = bind(req.body, CREATE_USER)
        domain_id = body.get("domainId")
        domain = LOCAL_DOMAIN_ID if domain_id is None else domain_id
        org = self.org
        with org.lock:
            if domain != LOCAL_DOMAIN_ID and domain not in org.domains:
                raise BadRequest("Invalid domain.", "API_InvalidDomain", f"There is no domain {domain}.")
            if org.find_user(body["userName"], domain) is not None:
                raise BadRequest("A user with this name already exists.", "API_DuplicateUserName",
                                 f"User name {body['userName']!r} is taken in this domain.")
            user_id = org.add_user(
                body["userName"], display_name=body["displayName"],
                domain_id=None if domain == LOCAL_DOMAIN_ID else domain,
                enabled=bool(body.get("enabled")),  # absent is false, as C#'s bool (New-TssUser -Active)
                is_application_account=bool(body.get("isApplicationAccount")),
                email_address=body.get("emailAddress") or "", password=body["password"],
                ad_guid=body.get("adGuid"),
            )
            user = org.user_map[user_id]
            user.two_factor = bool(body.get("twoFactor"))
            return 200, render.user_model(org, user)

    # API name -> User attribute; the model's other settings (2FA kinds, date formats) are accepted
    # and not modelled.
    _USER_FIELDS: ClassVar[dict[str, str]] = {
        "displayName": "display_name", "emailAddress": "email_address", "enabled": "enabled",
        "isApplicationAccount": "is_application_account", "isLockedOut": "is_locked_out",
        "loginFailures": "login_failures", "twoFactor": "two_factor",
    }

    def _apply_user_changes(self, user_id: int, changes: dict[str, Any]) -> dict[str, Any]:
        """Apply bound, typed changes (API names); a null is refused rather than stored."""
        for name, value in changes.items():
            if value is None and name in (*self._USER_FIELDS, "password"):
                raise invalid(f"{name} cannot be null.", name, f"A value is required for {name}.")
        updates = {attr: changes[name] for name, attr in self._USER_FIELDS.items() if name in changes}
        password = changes.get("password")
        if password is not None and not password:
            raise invalid("password cannot be empty.", "password", "A password is required.")
        org = self.org
        with org.lock:
            self._get_user(user_id)
            if updates.get("is_locked_out") is False:
                updates.setdefault("login_failures", 0)
            if updates:
                org.update_user(user_id, **updates)
            if password is not None:
                org.set_user_password(user_id, password)
            return render.user_model(org, org.user_map[user_id])

    def put_user(self, req: Request) -> Result:
        body = bind(req.body, UPDATE_USER)
        if body.get("id") is not None and body["id"] != req.id():
            raise invalid(f"id {body['id']} does not match the URL's {req.id()}.", "id", f"Expected {req.id()}.")
        return 200, self._apply_user_changes(req.id(), {k: v for k, v in body.items() if k != "id"})

    def patch_user(self, req: Request) -> Result:
        body = bind(req.body, PATCH_USER)
        if body.get("id") is not None and body["id"] != req.id():
            raise invalid(f"id {body['id']} does not match the URL's {req.id()}.", "id", f"Expected {req.id()}.")
        changes = {name: wrapped.get("value") for name, wrapped in body.items()
                   if isinstance(wrapped, dict) and wrapped.get("dirty")}
        return 200, self._apply_user_changes(req.id(), changes)

    def delete_user(self, req: Request) -> Result:
        with self.org.lock:
            self._get_user(req.id())
        raise BadRequest("Users cannot be deleted; disable them instead.", "API_UserCannotBeDeleted")

    def reset_password(self, req: Request) -> Result:
        data = bind(req.body, PASSWORD_RESET)["data"]
        if data["userId"] != req.id():
            raise invalid(f"data.userId {data['userId']} does not match the URL's {req.id()}.", "data.userId",
                          f"Expected {req.id()}.")
        with self.org.lock:
            self._get_user(req.id())
            self.org.set_user_password(req.id(), data["password"])
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
                    and (domain_id is None or g.domain_id == domain_id) and contains(text, g.name)]

        return self._page(req, ("groups",), candidates, self._r(render.group_record))

    def get_group(self, req: Request) -> Result:
        with self.org.lock:
            return 200, render.group_model(self.org, self._get_group(req.id()))

    def create_group(self, req: Request) -> Result:
        body = req.json()
        name = str_field(body, "name", required=True)
        assert name is not None
        domain_id = int_field(body, "domainId")
        domain = None if domain_id in (None, 0, LOCAL_DOMAIN_ID) else domain_id
        with self.org.lock:
            if domain is not None and domain not in self.org.domains:
                raise BadRequest("Invalid domain.", "API_InvalidDomain")
            for g in self.org.group_map.values():
                if g.personal_user_id is None and g.name.lower() == name.lower() and \
                        g.domain_id == (domain or LOCAL_DOMAIN_ID):
                    raise BadRequest("A group with this name already exists.", "API_DuplicateGroupName")
            group_id = self.org.add_group(name, domain, enabled=bool_field(body, "enabled", True),
                                          ad_guid=str_field(body, "adGuid"))
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
        user_id = bind(req.body, ADD_GROUP_USER)["userId"]
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

