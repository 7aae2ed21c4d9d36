"""Read operations: one `Search` declaration per entity of the reconciliation, plus lookups."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any, cast

from connectors.secret_server import records
from connectors.secret_server.core import ClientCore, Search
from connectors.secret_server.errors import ApiError

USERS = Search("/users")
GROUPS = Search("/groups")
GROUP_MEMBERS = Search("/groups/{group_id}/users", key="userId",
                       filters=(("filter.includeInactiveUsersForGroup", True),))
USER_GROUPS = Search("/users/{user_id}/groups", key="groupId")
FOLDERS = Search("/folders")
FOLDER_PERMISSIONS = Search("/folder-permissions")
# includeRestricted: restricted secrets (approval, checkout, ...) are still secrets to reconcile.
SECRETS = Search("/secrets", filters=(("filter.includeRestricted", True),))
SECRET_PERMISSIONS = Search("/secret-permissions")
DOMAINS = Search("/domains", key="domainId")


def _is_local(record: Any, domain_key: str = "domainId", name_key: str = "domainName") -> bool:
    return not record.get(name_key) and record.get(domain_key) in (None, -1, 0)


def _in_domain(record: Any, domain: str | int | None) -> bool:
    """``domain=None`` means a local (non-AD) account; a str matches the domain name, an int its id."""
    if domain is None:
        return _is_local(record)
    if isinstance(domain, int):
        return bool(record.get("domainId") == domain)
    return str(record.get("domainName") or "").lower() == domain.lower()


class ReadOperations(ClientCore):
    """The client's reads: paged extracts of every reconciled entity, and single-object lookups."""

    # ------------------------------------------------------------------ reconciliation extracts
    def iter_users(self, include_inactive: bool = True) -> Iterator[records.UserRecord]:
        """All users (disabled ones too unless ``include_inactive=False``), ascending id."""
        return cast(Iterator[records.UserRecord], self._search(USERS, {"filter.includeInactive": include_inactive}))

    def iter_groups(self, include_inactive: bool = True) -> Iterator[records.GroupRecord]:
        """All groups (disabled ones too unless ``include_inactive=False``), ascending id."""
        return cast(Iterator[records.GroupRecord], self._search(GROUPS, {"filter.includeInactive": include_inactive}))

    def iter_group_members(self, group_id: int) -> Iterator[records.GroupMemberRecord]:
        """Members of one group (``GET /groups/{id}/users``), disabled users included, by userId."""
        return cast(Iterator[records.GroupMemberRecord], self._search(GROUP_MEMBERS, group_id=int(group_id)))

    def iter_user_groups(self, user_id: int) -> Iterator[records.GroupMemberRecord]:
        """Groups of one user (``GET /users/{id}/groups``), by groupId."""
        return cast(Iterator[records.GroupMemberRecord], self._search(USER_GROUPS, user_id=int(user_id)))

    def iter_folders(self) -> Iterator[records.FolderRecord]:
        """All folders, ascending id."""
        return cast(Iterator[records.FolderRecord], self._search(FOLDERS))

    def iter_folder_permissions(self, folder_id: int | None = None) -> Iterator[records.FolderPermissionRecord]:
        """Permissions of one folder (or, with no id, every folder permission the server lists)."""
        filters = {"filter.folderId": int(folder_id)} if folder_id is not None else {}
        return cast(Iterator[records.FolderPermissionRecord], self._search(FOLDER_PERMISSIONS, filters))

    def iter_secrets(self, include_inactive: bool = True) -> Iterator[records.SecretRecord]:
        """Secret metadata from the search endpoint (never values), ascending id."""
        return cast(Iterator[records.SecretRecord], self._search(SECRETS, {"filter.includeInactive": include_inactive}))

    def iter_secret_permissions(self, secret_id: int | None = None) -> Iterator[records.SecretPermissionRecord]:
        """Permissions of one secret (or, with no id, every secret permission the server lists)."""
        filters = {"filter.secretId": int(secret_id)} if secret_id is not None else {}
        return cast(Iterator[records.SecretPermissionRecord], self._search(SECRET_PERMISSIONS, filters))

    def iter_domains(self) -> Iterator[dict[str, Any]]:
        """Active Directory domains Secret Server knows (``domainId``, ``domainName``, ``friendlyName``)."""
        return cast(Iterator[dict[str, Any]], self._search(DOMAINS))

    # ------------------------------------------------------------------ single objects
    def get_folder(self, folder_id: int) -> records.FolderRecord:
        """``GET /folders/{id}``: one folder, with its path and whether it inherits its parent's permissions."""
        return cast(records.FolderRecord, self._request("GET", f"/folders/{int(folder_id)}"))

    def get_secret_summary(self, secret_id: int) -> records.SecretRecord:
        """``GET /secrets/{id}/summary``: the search shape of one secret (no field values)."""
        return cast(records.SecretRecord, self._request("GET", f"/secrets/{int(secret_id)}/summary"))

    def get_user(self, user_id: int) -> records.UserRecord | None:
        """The full user model, or None when no such user exists. Secret Server answers a missing
        id with 400 ``API_AccessDenied`` (it does not tell "absent" from "not yours"); the
        connector's account administers users, so that answer means absent here."""
        try:
            return cast(records.UserRecord, self._request("GET", f"/users/{int(user_id)}",
                                                  params={"includeInactive": "true"}))
        except ApiError as exc:
            if exc.is_not_found or exc.error_code == "API_AccessDenied":
                return None
            raise

    def find_user(self, user_name: str, domain: str | int | None = None) -> records.UserRecord | None:
        """The user with exactly this name (case-insensitive) in ``domain`` (None: local users only,
        since user names are unique only within a domain), disabled users included."""
        wanted = user_name.lower()
        for record in self._search(USERS, {"filter.searchText": user_name, "filter.includeInactive": True}):
            if str(record.get("userName") or "").lower() == wanted and _in_domain(record, domain):
                return cast(records.UserRecord, record)
        return None

    def find_group(self, name: str, domain: str | int | None = None) -> records.GroupRecord | None:
        """The group with exactly this name (case-insensitive) in ``domain`` (None: local groups)."""
        wanted = name.lower()
        for record in self._search(GROUPS, {"filter.searchText": name, "filter.includeInactive": True}):
            if str(record.get("name") or "").lower() == wanted and _in_domain(record, domain):
                return cast(records.GroupRecord, record)
        return None
