"""Users: search, read, create, update (PUT and PATCH), password reset, and a user's groups."""

from __future__ import annotations

from typing import Any, ClassVar

from simulator import render
from simulator.binding import CREATE_USER, PASSWORD_RESET, PATCH_USER, UPDATE_USER, bind, invalid
from simulator.paging import BadRequest, Filters
from simulator.records import LOCAL_DOMAIN_ID, User
from simulator.routes.base import V1, Request, Resource, Result, Route, contains


class Users(Resource):
    """The /users endpoints."""

    def routes(self) -> list[Route]:
        """GET/POST /users, GET/PUT/PATCH/DELETE /users/{id}, password reset, a user's groups."""
        return [
            ("GET", f"{V1}/users", self.search_users, "users"),
            ("POST", f"{V1}/users", self.create_user, None),
            ("GET", f"{V1}/users/{{id}}", self.get_user, None),
            ("PUT", f"{V1}/users/{{id}}", self.put_user, None),
            ("PATCH", f"{V1}/users/{{id}}", self.patch_user, None),
            ("DELETE", f"{V1}/users/{{id}}", self.delete_user, None),
            ("POST", f"{V1}/users/{{id}}/password-reset", self.reset_password, None),
            ("GET", f"{V1}/users/{{id}}/groups", self.user_groups, "user_groups"),
        ]

    def user_record(self, u: User) -> dict[str, Any]:
        """The GET /users record of a user."""
        return render.user_record(u, self.org.domain_name(u.domain_id))

    def search_users(self, req: Request) -> Result:
        """GET /users: enabled users unless `includeInactive`; domain and text filters."""
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

        return self.pager.page(req, ("users",), candidates, self.user_record)

    def get_user(self, req: Request) -> Result:
        """GET /users/{id}: the UserModel."""
        with self.org.lock:
            return 200, render.user_model(self._get_user(req.id()))

    def create_user(self, req: Request) -> Result:
        """POST /users: a new user, unique by name within its domain."""
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
            return 200, render.user_model(user)

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
            return render.user_model(org.user_map[user_id])

    @staticmethod
    def _same_id(given: int | None, expected: int, name: str = "id") -> None:
        """400 when an id in the body differs from the URL's."""
        if given is not None and given != expected:
            raise invalid(f"{name} {given} does not match the URL's {expected}.", name, f"Expected {expected}.")

    def put_user(self, req: Request) -> Result:
        """PUT /users/{id}: the update model, fields as plain values."""
        body = bind(req.body, UPDATE_USER)
        self._same_id(body.get("id"), req.id())
        return 200, self._apply_user_changes(req.id(), {k: v for k, v in body.items() if k != "id"})

    def patch_user(self, req: Request) -> Result:
        """PATCH /users/{id}: each field wrapped as ``{"dirty": true, "value": ...}``."""
        body = bind(req.body, PATCH_USER)
        self._same_id(body.get("id"), req.id())
        changes = {name: wrapped.get("value") for name, wrapped in body.items()
                   if isinstance(wrapped, dict) and wrapped.get("dirty")}
        return 200, self._apply_user_changes(req.id(), changes)

    def delete_user(self, req: Request) -> Result:
        """DELETE /users/{id}: refused; Secret Server disables users rather than deleting them."""
        with self.org.lock:
            self._get_user(req.id())
        raise BadRequest("Users cannot be deleted; disable them instead.", "API_UserCannotBeDeleted")

    def reset_password(self, req: Request) -> Result:
        """POST /users/{id}/password-reset."""
        data = bind(req.body, PASSWORD_RESET)["data"]
        self._same_id(data["userId"], req.id(), "data.userId")
        with self.org.lock:
            self._get_user(req.id())
            self.org.set_user_password(req.id(), data["password"])
        return 200, {"success": True}

    def user_groups(self, req: Request) -> Result:
        """GET /users/{id}/groups: the groups the user is a member of."""
        user_id = req.id()
        with self.org.lock:
            user = self._get_user(user_id)

        def candidates(f: Filters) -> list[Any]:
            groups = self.org.group_map
            return [groups[g] for g in sorted(self.org.user_groups.get(user_id, ()))]

        org = self.org
        return self.pager.page(req, ("user_groups", user_id), candidates,
                               lambda g: render.membership_record(g, user, org.domain_name(g.domain_id),
                                                                  org.domain_name(user.domain_id)))
