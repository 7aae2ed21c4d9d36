"""The truth tests compare against: what a real Secret Server would hold, read in API shapes.

Tests (and the benchmark) assert on these instead of on HTTP answers: every list is complete
(disabled users, inactive secrets and "Everyone" included, personal groups left out), in id order,
each record in the shape GET answers for it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any, TypeVar

from simulator import render
from simulator.state.store import Store

T = TypeVar("T")


class Truth(Store):
    """Read accessors for tests: the organization's content in API terms."""

    def _render_all(self, items: Iterable[T], shape: Callable[[T], dict[str, Any]]) -> list[dict[str, Any]]:
        with self.lock:  # `items` is a view of the store, read under the lock
            return [shape(item) for item in items]

    def users(self) -> list[dict[str, Any]]:
        """Every user (enabled or not) in the GET /users record shape, by id."""
        return self._render_all(self.user_map.values(),
                                lambda u: render.user_record(u, self.domain_name(u.domain_id)))

    def groups(self) -> list[dict[str, Any]]:
        """Every group listed by GET /groups (personal groups excluded), by id."""
        return self._render_all(
            (g for g in self.group_map.values() if g.personal_user_id is None),
            lambda g: render.group_record(g, self.domain_name(g.domain_id), len(self.members.get(g.id, ()))))

    def personal_groups(self) -> dict[int, int]:
        """user id -> id of that user's personal group."""
        with self.lock:
            return {u.id: u.personal_group_id for u in self.user_map.values()}

    def group_members(self) -> list[tuple[int, int]]:
        """(group id, user id) pairs, "Everyone" included, personal groups excluded."""
        with self.lock:
            return [(gid, uid) for gid, users in self.members.items()
                    if self.group_map[gid].personal_user_id is None for uid in users]

    def is_member(self, group_id: int, user_id: int) -> bool:
        """Whether a user is a member of a group."""
        with self.lock:
            return user_id in self.members.get(group_id, {})

    def check_password(self, user_id: int, password: str) -> bool:
        """Whether a user's password is this one (the password itself is never read out)."""
        with self.lock:
            return self._user(user_id).password == password

    def folders(self) -> list[dict[str, Any]]:
        """Every folder in the GET /folders record shape, by id."""
        return self._render_all(self.folder_map.values(), render.folder_record)

    def folder_permissions(self) -> list[dict[str, Any]]:
        """Every folder permission record (own lists only, not inherited ones), by id."""
        return self._render_all(self.folder_perms.values(),
                                lambda p: render.folder_permission_record(p, *self.permission_holder(p)))

    def secrets(self) -> list[dict[str, Any]]:
        """Every secret (active or not) in the GET /secrets record shape, by id."""
        return self._render_all(self.secret_map.values(), render.secret_record)

    def secret_permissions(self) -> list[dict[str, Any]]:
        """Every secret permission record (own lists only, not inherited ones), by id."""
        return self._render_all(self.secret_perms.values(),
                                lambda p: render.secret_permission_record(p, *self.permission_holder(p)))

    def domain_records(self) -> list[dict[str, Any]]:
        """Every domain in the GET /domains record shape."""
        return self._render_all(self.domains.values(), render.domain_record)

    def counts(self) -> dict[str, int]:
        """How many of each kind of record the organization holds (the generator's figures)."""
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
