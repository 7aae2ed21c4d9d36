"""Changes to domains, users, groups and group membership."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from simulator.records import LOCAL_DOMAIN_ID, Domain, Group, User
from simulator.state.store import SIM_NOW, NotFound, Store


class People(Store):
    """Adds, changes and removes domains, users, groups and memberships."""

    # ------------------------------------------------------------------ domains
    def add_domain(self, name: str, friendly_name: str, domain_id: int | None = None) -> int:
        """Register an Active Directory domain (DNS name, NetBIOS-style name); return its id."""
        with self.lock:
            new_id = domain_id if domain_id is not None else max(self.domains, default=0) + 1
            dn = ",".join(f"DC={part}" for part in name.split("."))
            self.domains[new_id] = Domain(new_id, name, friendly_name, dn)
            self._touch()
            return new_id

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
        """Change a user's name (its personal group's name follows)."""
        self.update_user(user_id, user_name=new_user_name)

    def set_user_enabled(self, user_id: int, enabled: bool) -> None:
        """Enable or disable a user."""
        self.update_user(user_id, enabled=enabled)

    def set_user_locked_out(self, user_id: int, locked: bool) -> None:
        """Lock a user out (as five failed logins do) or unlock it."""
        self.update_user(user_id, is_locked_out=locked, login_failures=5 if locked else 0)

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
        """Set a user's password, stamping `password_last_changed`."""
        with self.lock:
            user = self._user(user_id)
            user.password = password
            # Each change gets a later stamp, as on a real server (clients compare it to tell whether a reset
            # happened); derived from the change counter, so the data stays deterministic.
            self._touch()
            stamp = datetime.fromisoformat(SIM_NOW) + timedelta(seconds=self.version)
            user.password_last_changed = stamp.isoformat()

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

    # ------------------------------------------------------------------ groups
    def add_group(self, name: str, domain_id: int | None = None, enabled: bool = True, *,
                  created: str = SIM_NOW, ad_guid: str | None = None,
                  system_group: bool = False) -> int:
        """Create a group (synchronized when it belongs to a domain); return its id."""
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
        """Change a group's name."""
        with self.lock:
            self._group(group_id).name = new_name
            self._touch()

    def set_group_enabled(self, group_id: int, enabled: bool) -> None:
        """Enable or disable a group."""
        with self.lock:
            self._group(group_id).enabled = enabled
            self._touch()

    def remove_group(self, group_id: int) -> None:
        """Remove a group with its memberships and permissions (not a personal group)."""
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

    def _drop_principal(self, group_id: int) -> None:
        for perm_id in [p.id for p in self.folder_perms.values() if p.group_id == group_id]:
            self._delete_folder_perm(perm_id)
        for perm_id in [p.id for p in self.secret_perms.values() if p.group_id == group_id]:
            self._delete_secret_perm(perm_id)

    # ------------------------------------------------------------------ membership
    def add_member(self, group_id: int, user_id: int) -> None:
        """Make a user a member of a group (not of a personal group)."""
        with self.lock:
            group = self._group(group_id)
            self._user(user_id)
            if group.personal_user_id is not None:
                raise ValueError("personal groups have exactly one member")
            self.members[group_id][user_id] = None
            self.user_groups[user_id].add(group_id)
            self._touch()

    def remove_member(self, group_id: int, user_id: int) -> None:
        """Take a user out of a group; NotFound if it is not a member."""
        with self.lock:
            self._group(group_id)
            if user_id not in self.members[group_id]:
                raise NotFound(f"user {user_id} in group {group_id}")
            del self.members[group_id][user_id]
            self.user_groups[user_id].discard(group_id)
            self._touch()
