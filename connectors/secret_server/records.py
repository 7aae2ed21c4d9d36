"""Typed records, exactly as Secret Server's REST API spells them (camelCase).

The connector passes the API's JSON objects through unchanged (no renaming, no type coercion);
these TypedDicts document the fields callers may rely on. The normalizer maps them to snake_case
columns. Only the key of each record is required; every other field may be absent or null on a
given server version. Extra fields the server sends are kept.
"""

from __future__ import annotations

from typing import Any, TypedDict


class _Id(TypedDict):
    id: int


class UserRecord(_Id, total=False):
    """`GET /users` search shape (and the superset returned by GET/POST/PATCH /users/{id})."""

    userName: str
    displayName: str | None
    emailAddress: str | None
    enabled: bool
    isApplicationAccount: bool
    isLockedOut: bool
    lastLogin: str | None
    loginFailures: int
    created: str | None
    domainId: int | None
    domainName: str | None
    # Only in the full user model (GET /users/{id}, create, patch):
    passwordLastChanged: str | None
    twoFactor: bool
    adGuid: str | None


class GroupRecord(_Id, total=False):
    """`GET /groups` search shape."""

    name: str
    enabled: bool
    created: str | None
    domainId: int | None
    domainName: str | None
    domainGuid: str | None
    memberCount: int
    synchronized: bool
    synchronizeNow: bool


class _MemberKey(TypedDict):
    groupId: int
    userId: int


class GroupMemberRecord(_MemberKey, total=False):
    """`GET /groups/{id}/users` and `GET /users/{id}/groups` shape (one user in one group)."""

    groupName: str
    groupDomainId: int | None
    groupDomainName: str | None
    userName: str
    displayName: str | None
    enabled: bool
    userDomainId: int | None
    userDomainName: str | None


class FolderRecord(_Id, total=False):
    """`GET /folders` search shape. Root folders have ``parentFolderId == -1``."""

    folderName: str
    folderPath: str
    parentFolderId: int
    folderTypeId: int
    inheritPermissions: bool
    inheritSecretPolicy: bool
    secretPolicyId: int | None


class FolderPermissionRecord(_Id, total=False):
    """`GET /folder-permissions` shape; exactly one of ``userId``/``groupId`` is set."""

    folderId: int
    groupId: int | None
    groupName: str | None
    userId: int | None
    userName: str | None
    knownAs: str | None
    folderAccessRoleId: int
    folderAccessRoleName: str
    secretAccessRoleId: int
    secretAccessRoleName: str


class ExtendedField(TypedDict, total=False):
    """One of a secret's extended fields in the search shape (name and display value, never a password)."""

    name: str
    value: str


class SecretRecord(_Id, total=False):
    """`GET /secrets` search shape (also `GET /secrets/{id}/summary`). Never the secret's values."""

    name: str
    folderId: int | None
    secretTemplateId: int
    secretTemplateName: str
    active: bool
    inheritsPermissions: bool
    isRestricted: bool
    siteId: int
    createDate: str | None
    lastAccessed: str | None
    checkedOut: bool
    checkOutEnabled: bool
    autoChangeEnabled: bool
    requiresApproval: bool
    requiresComment: bool
    doubleLockEnabled: bool
    isOutOfSync: bool
    outOfSyncReason: str | None
    lastHeartBeatStatus: str | None
    lastPasswordChangeAttempt: str | None
    daysUntilExpiration: int | None
    hidePassword: bool
    extendedFields: list[ExtendedField] | None
    responseCodes: list[str] | None


class SecretPermissionRecord(_Id, total=False):
    """`GET /secret-permissions` shape; exactly one of ``userId``/``groupId`` is set."""

    secretId: int
    groupId: int | None
    groupName: str | None
    userId: int | None
    userName: str | None
    knownAs: str | None
    secretAccessRoleId: int
    secretAccessRoleName: str


class DeletedRecord(TypedDict, total=False):
    """What every DELETE answers."""

    id: int
    objectType: str
    responseCodes: list[str]


class ConnectionReport(TypedDict):
    """`SecretServerClient.test_connection()` result."""

    base_url: str
    version: str | None
    healthy: bool | None
    database_mismatch: bool | None
    read_only_mode: bool | None
    server_time_utc: str | None
    raw_version: Any
    raw_health: Any
