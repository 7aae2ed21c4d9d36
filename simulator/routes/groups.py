"""Groups and their members ("Everyone" and other system groups cannot be changed)."""

from __future__ import annotations

from typing import Any

from simulator import render
from simulator.binding import ADD_GROUP_USER, bind
from simulator.paging import BadRequest, Filters
from simulator.records import LOCAL_DOMAIN_ID, Group
from simulator.routes.base import V1, Request, Resource, Result, Route, contains
from simulator.routes.fields import bool_field, int_field, required, str_field


class Groups(Resource):
    """The /groups endpoints."""

    def routes(self) -> list[Route]:
        """GET/POST /groups, GET/DELETE /groups/{id}, and the members of a group."""
        return [
            ("GET", f"{V1}/groups", self.search_groups, "groups"),
            ("POST", f"{V1}/groups", self.create_group, None),
            ("GET", f"{V1}/groups/{{id}}", self.get_group, None),
            ("DELETE", f"{V1}/groups/{{id}}", self.delete_group, None),
            ("GET", f"{V1}/groups/{{id}}/users", self.group_users, "group_members"),
            ("POST", f"{V1}/groups/{{id}}/users", self.add_group_user, None),
            ("DELETE", f"{V1}/groups/{{id}}/users/{{userId}}", self.remove_group_user, None),
        ]

    def group_record(self, g: Group) -> dict[str, Any]:
        """The GET /groups record of a group."""
        return render.group_record(g, self.org.domain_name(g.domain_id), len(self.org.members.get(g.id, ())))

    def search_groups(self, req: Request) -> Result:
        """GET /groups: listed groups (never personal ones), enabled unless `includeInactive`."""
        def candidates(f: Filters) -> list[Any]:
            include_inactive = f.bool("includeInactive", False)
            domain_id = f.int("domainId")
            text = f.text("searchText")
            return [g for g in self.org.group_map.values()
                    if g.personal_user_id is None and (include_inactive or g.enabled)
                    and (domain_id is None or g.domain_id == domain_id) and contains(text, g.name)]

        return self.pager.page(req, ("groups",), candidates, self.group_record)

    def get_group(self, req: Request) -> Result:
        """GET /groups/{id}: the GroupModel."""
        with self.org.lock:
            group = self._get_group(req.id())
            return 200, render.group_model(group, self.org.domain_name(group.domain_id))

    def create_group(self, req: Request) -> Result:
        """POST /groups: a new group, unique by name within its domain."""
        body = req.json()
        name = required(str_field(body, "name"), "name")
        domain_id = int_field(body, "domainId")
        domain = None if domain_id in (None, 0, LOCAL_DOMAIN_ID) else domain_id
        org = self.org
        with org.lock:
            if domain is not None and domain not in org.domains:
                raise BadRequest("Invalid domain.", "API_InvalidDomain")
            for g in org.group_map.values():
                if g.personal_user_id is None and g.name.lower() == name.lower() and \
                        g.domain_id == (domain or LOCAL_DOMAIN_ID):
                    raise BadRequest("A group with this name already exists.", "API_DuplicateGroupName")
            group_id = org.add_group(name, domain, enabled=bool_field(body, "enabled", True),
                                     ad_guid=str_field(body, "adGuid"))
            group = org.group_map[group_id]
            return 200, render.group_model(group, org.domain_name(group.domain_id))

    def delete_group(self, req: Request) -> Result:
        """DELETE /groups/{id} (not a system group)."""
        with self.org.lock:
            group = self._get_group(req.id())
            if group.system_group:
                raise BadRequest("System groups cannot be deleted.", "API_AccessDenied")
            self.org.remove_group(group.id)
        return 200, render.deleted(req.id(), "Group")

    def group_users(self, req: Request) -> Result:
        """GET /groups/{id}/users: enabled members unless `includeInactiveUsersForGroup`."""
        group_id = req.id()
        org = self.org
        with org.lock:
            group = self._get_group(group_id)

        def candidates(f: Filters) -> list[Any]:
            include_inactive = f.bool("includeInactiveUsersForGroup", False)
            domain_id = f.int("userDomainId")
            users = org.user_map
            out = []
            for user_id in sorted(org.members.get(group_id, ())):
                user = users[user_id]
                if (include_inactive or user.enabled) and (domain_id is None or user.domain_id == domain_id):
                    out.append(user)
            return out

        return self.pager.page(req, ("group_members", group_id), candidates,
                               lambda u: render.membership_record(group, u, org.domain_name(group.domain_id),
                                                                  org.domain_name(u.domain_id)))

    def add_group_user(self, req: Request) -> Result:
        """POST /groups/{id}/users: add a member."""
        user_id = bind(req.body, ADD_GROUP_USER)["userId"]
        with self.org.lock:
            group = self._get_group(req.id())
            user = self._get_user(user_id)
            _refuse_system_group(group)
            if self.org.is_member(group.id, user_id):
                raise BadRequest("The user is already a member of this group.", "API_UserAlreadyInGroup")
            self.org.add_member(group.id, user_id)
            return 200, render.added_member_record(group, user)

    def remove_group_user(self, req: Request) -> Result:
        """DELETE /groups/{id}/users/{userId}: remove a member."""
        user_id = req.id("userId")
        with self.org.lock:
            group = self._get_group(req.id())
            _refuse_system_group(group)
            if not self.org.is_member(group.id, user_id):
                raise BadRequest("The user is not a member of this group.", "API_UserNotInGroup")
            self.org.remove_member(group.id, user_id)
        return 200, render.deleted(user_id, "GroupUser")


def _refuse_system_group(group: Group) -> None:
    if group.system_group:
        raise BadRequest("The membership of a system group cannot be changed.", "API_AccessDenied")
