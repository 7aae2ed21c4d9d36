"""What the pipelines need from Secret Server, as typing protocols: reads for reconciliation and lookups,
writes for provisioning. `SecretServerClient` implements both; mypy checks the flows against these, so a
test double or another client only has to offer what is declared here."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from contextlib import AbstractContextManager
from typing import Any, Protocol, TypeVar

from connectors.secret_server import records
from connectors.secret_server.paging import PageObserver
from connectors.secret_server.stats import ClientStats

T = TypeVar("T")
R = TypeVar("R")


class SecretServerReads(Protocol):
    """Paged reads of the reconciled entities, single-object lookups, and the bounded fan-out pool."""

    def iter_users(self, include_inactive: bool = True) -> Iterator[records.UserRecord]:
        """All users, ascending id."""
        ...

    def iter_groups(self, include_inactive: bool = True) -> Iterator[records.GroupRecord]:
        """All groups, ascending id."""
        ...

    def iter_group_members(self, group_id: int) -> Iterator[records.GroupMemberRecord]:
        """Members of one group."""
        ...

    def iter_user_groups(self, user_id: int) -> Iterator[records.GroupMemberRecord]:
        """Groups of one user."""
        ...

    def iter_folders(self) -> Iterator[records.FolderRecord]:
        """All folders."""
        ...

    def iter_folder_permissions(self, folder_id: int | None = None) -> Iterator[records.FolderPermissionRecord]:
        """Permissions of one folder (with no id, every folder permission the server lists)."""
        ...

    def iter_secrets(self, include_inactive: bool = True) -> Iterator[records.SecretRecord]:
        """Secret metadata (never values), ascending id."""
        ...

    def iter_secret_permissions(self, secret_id: int | None = None) -> Iterator[records.SecretPermissionRecord]:
        """Permissions of one secret (with no id, every secret permission the server lists)."""
        ...

    def iter_domains(self) -> Iterator[dict[str, Any]]:
        """Active Directory domains Secret Server knows."""
        ...

    def get_folder(self, folder_id: int) -> records.FolderRecord:
        """One folder."""
        ...

    def get_secret_summary(self, secret_id: int) -> records.SecretRecord:
        """The search shape of one secret (no field values)."""
        ...

    def get_user(self, user_id: int) -> records.UserRecord | None:
        """The full user model, or None when absent."""
        ...

    def find_user(self, user_name: str, domain: str | int | None = None) -> records.UserRecord | None:
        """The user with exactly this name in ``domain``."""
        ...

    def find_group(self, name: str, domain: str | int | None = None) -> records.GroupRecord | None:
        """The group with exactly this name in ``domain``."""
        ...

    def fan_out(self, func: Callable[[T], R], items: Iterable[T]) -> Iterator[tuple[T, R]]:
        """``func(item)`` for every item on the client's bounded pool, in input order."""
        ...

    def login(self) -> None:
        """Log in now, if no valid token is held."""
        ...

    def test_connection(self) -> records.ConnectionReport:
        """Log in and ask for the server's version and health."""
        ...

    def within(self, seconds_left: Callable[[], float]) -> AbstractContextManager[None]:
        """Bound this thread's calls by the caller's time budget."""
        ...

    def close(self) -> None:
        """Release the client's pools."""
        ...

    # Told of every search page read (a progress display); set by whoever watches, None by default.
    page_observer: PageObserver | None

    @property
    def stats(self) -> ClientStats:
        """The client's counters: requests, retries, logins, pages, ..."""
        ...


class SecretServerWrites(Protocol):
    """The writes provisioning makes."""

    def create_user(self, user_name: str, password: str, *, display_name: str | None = None,
                    email_address: str | None = None, domain_id: int | None = None,
                    enabled: bool = True, is_application_account: bool = False) -> records.UserRecord:
        """Create a user."""
        ...

    def update_user(self, user_id: int, **attributes: Any) -> records.UserRecord:
        """Change a user's attributes."""
        ...

    def set_user_enabled(self, user_id: int, enabled: bool) -> records.UserRecord:
        """Enable or disable a user."""
        ...

    def reset_password(self, user_id: int, password: str) -> None:
        """Set a user's password."""
        ...

    def add_group_member(self, group_id: int, user_id: int) -> records.GroupMemberRecord:
        """Add a user to a group."""
        ...

    def remove_group_member(self, group_id: int, user_id: int) -> records.DeletedRecord:
        """Remove a user from a group."""
        ...

    def grant_folder_permission(self, folder_id: int, *, user_id: int | None = None, group_id: int | None = None,
                                folder_access_role: str, secret_access_role: str,
                                break_inheritance: bool = False) -> records.FolderPermissionRecord:
        """Give a user or group a role on a folder."""
        ...

    def update_folder_permission(self, permission_id: int, *, folder_access_role: str,
                                 secret_access_role: str | None = None,
                                 folder_id: int | None = None) -> records.FolderPermissionRecord:
        """Change the roles of a folder permission."""
        ...

    def revoke_folder_permission(self, permission_id: int, *, break_inheritance: bool = False) -> records.DeletedRecord:
        """Delete a folder permission."""
        ...

    def grant_secret_permission(self, secret_id: int, *, user_id: int | None = None, group_id: int | None = None,
                                secret_access_role: str) -> records.SecretPermissionRecord:
        """Give a user or group a role on a secret."""
        ...

    def update_secret_permission(self, permission_id: int, *, secret_access_role: str,
                                 secret_id: int | None = None) -> records.SecretPermissionRecord:
        """Change the role of a secret permission."""
        ...

    def revoke_secret_permission(self, permission_id: int) -> records.DeletedRecord:
        """Delete a secret permission."""
        ...


class SecretServerAccess(SecretServerReads, SecretServerWrites, Protocol):
    """Reads and writes: what provisioning holds."""
