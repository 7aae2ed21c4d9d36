"""One declaration per reconciled entity: where it comes from, its key, its columns and their types, and what
it refers to. Extraction, normalization, validation, the COPY load and the set-based diff are written once and
driven by these declarations (as a Singer stream class drives its tap); the seven entities differ only in data.

Column kinds map to PostgreSQL types: ``int`` -> integer, ``text`` -> text, ``bool`` -> boolean, ``timestamp``
-> timestamptz (the API's zone-less times are UTC). ``minus_one_null`` turns the API's ``-1`` ("none": root
folder, local domain, no policy) into NULL. ``required`` columns reject a record that lacks them; ``default``
fills an absent or null value instead. ``operational`` columns move in daily use (last login, lockout, last
access): tracked like the others, but a change in them alone does not count toward the change limit.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

Kind = Literal["int", "text", "bool", "timestamp"]

PG_TYPES: dict[str, str] = {"int": "int4", "text": "text", "bool": "bool", "timestamp": "timestamptz"}
SQL_TYPES: dict[str, str] = {"int": "integer", "text": "text", "bool": "boolean", "timestamp": "timestamptz"}


@dataclass(frozen=True)
class Column:
    name: str  # staging column (snake_case, carries its entity: user_id, group_name, ...)
    source: str  # API field (camelCase, exactly as Secret Server spells it)
    kind: Kind
    required: bool = False
    minus_one_null: bool = False
    default: Any = None
    operational: bool = False


@dataclass(frozen=True)
class Reference:
    """``column`` must name a current object of ``entity`` (its single-column key), unless NULL, or unless
    ``unless_set`` is non-NULL: a user-level permission carries the user's personal group id, which the group
    list does not hold, so its group_id is not checked."""

    column: str
    entity: str
    unless_set: str | None = None


@dataclass(frozen=True)
class Source:
    """How the connector yields the entity. ``method`` is a ``SecretServerClient`` iterator. With ``per`` set,
    it is called once per object of that entity (fanned out on the client's bounded pool), optionally only for
    parents whose ``per_when`` column has the given value (permissions only where inheritance is broken)."""

    method: str
    per: str | None = None
    per_when: tuple[str, Any] | None = None


@dataclass(frozen=True)
class Entity:
    name: str  # the staging table in ss_staging, and the entity name in runs, rejects and change_log
    source: Source
    key: tuple[str, ...]
    columns: tuple[Column, ...]
    references: tuple[Reference, ...] = ()
    one_of: tuple[str, ...] = ()  # at least one of these columns must be set (a permission's user or group)

    @property
    def column_names(self) -> list[str]:
        return [c.name for c in self.columns]

    @property
    def value_columns(self) -> list[Column]:
        return [c for c in self.columns if c.name not in self.key]

    def column(self, name: str) -> Column:
        for c in self.columns:
            if c.name == name:
                return c
        raise KeyError(name)

    @property
    def key_sources(self) -> list[str]:
        return [self.column(k).source for k in self.key]


def _col(name: str, source: str, kind: Kind, **options: Any) -> Column:
    return Column(name, source, kind, **options)


USERS = Entity(
    "users",
    Source("iter_users"),
    key=("user_id",),
    columns=(
        _col("user_id", "id", "int", required=True),
        _col("user_name", "userName", "text", required=True),
        _col("display_name", "displayName", "text"),
        _col("email_address", "emailAddress", "text"),
        _col("domain_id", "domainId", "int", minus_one_null=True),
        _col("domain_name", "domainName", "text"),
        _col("enabled", "enabled", "bool", required=True),
        _col("is_application_account", "isApplicationAccount", "bool", default=False),
        _col("is_locked_out", "isLockedOut", "bool", default=False, operational=True),
        _col("login_failures", "loginFailures", "int", operational=True),
        _col("last_login", "lastLogin", "timestamp", operational=True),
        _col("created", "created", "timestamp"),
    ),
)

GROUPS = Entity(
    "groups",
    Source("iter_groups"),
    key=("group_id",),
    columns=(
        _col("group_id", "id", "int", required=True),
        _col("group_name", "name", "text", required=True),
        _col("domain_id", "domainId", "int", minus_one_null=True),
        _col("domain_name", "domainName", "text"),
        _col("enabled", "enabled", "bool", required=True),
        _col("synchronized", "synchronized", "bool", default=False),
        _col("created", "created", "timestamp"),
    ),
)

GROUP_MEMBERS = Entity(
    "group_members",
    Source("iter_group_members", per="groups"),
    key=("group_id", "user_id"),
    columns=(
        _col("group_id", "groupId", "int", required=True),
        _col("user_id", "userId", "int", required=True),
    ),
    references=(Reference("group_id", "groups"), Reference("user_id", "users")),
)

FOLDERS = Entity(
    "folders",
    Source("iter_folders"),
    key=("folder_id",),
    columns=(
        _col("folder_id", "id", "int", required=True),
        _col("folder_name", "folderName", "text", required=True),
        _col("folder_path", "folderPath", "text"),
        _col("parent_folder_id", "parentFolderId", "int", minus_one_null=True),
        _col("folder_type_id", "folderTypeId", "int"),
        _col("inherit_permissions", "inheritPermissions", "bool", required=True),
        _col("inherit_secret_policy", "inheritSecretPolicy", "bool"),
        _col("secret_policy_id", "secretPolicyId", "int", minus_one_null=True),
    ),
    references=(Reference("parent_folder_id", "folders"),),
)

# Only folders that break inheritance carry their own permission records; an inheriting folder takes its
# nearest non-inheriting ancestor's, which are loaded with that ancestor.
FOLDER_PERMISSIONS = Entity(
    "folder_permissions",
    Source("iter_folder_permissions", per="folders", per_when=("inherit_permissions", False)),
    key=("folder_permission_id",),
    columns=(
        _col("folder_permission_id", "id", "int", required=True),
        _col("folder_id", "folderId", "int", required=True),
        _col("user_id", "userId", "int", minus_one_null=True),
        _col("group_id", "groupId", "int", minus_one_null=True),
        _col("folder_access_role", "folderAccessRoleName", "text", required=True),
        _col("secret_access_role", "secretAccessRoleName", "text", required=True),
    ),
    references=(
        Reference("folder_id", "folders"),
        Reference("user_id", "users"),
        Reference("group_id", "groups", unless_set="user_id"),
    ),
    one_of=("user_id", "group_id"),
)

SECRETS = Entity(
    "secrets",
    Source("iter_secrets"),
    key=("secret_id",),
    columns=(
        _col("secret_id", "id", "int", required=True),
        _col("secret_name", "name", "text", required=True),
        _col("folder_id", "folderId", "int", minus_one_null=True),
        _col("secret_template_id", "secretTemplateId", "int"),
        _col("secret_template_name", "secretTemplateName", "text"),
        _col("active", "active", "bool", required=True),
        _col("inherits_permissions", "inheritsPermissions", "bool", required=True),
        _col("is_restricted", "isRestricted", "bool"),
        _col("site_id", "siteId", "int"),
        _col("create_date", "createDate", "timestamp"),
        _col("last_accessed", "lastAccessed", "timestamp", operational=True),
    ),
    references=(Reference("folder_id", "folders"),),
)

# Only secrets that break inheritance have their own permissions: one call per such secret, not per secret.
SECRET_PERMISSIONS = Entity(
    "secret_permissions",
    Source("iter_secret_permissions", per="secrets", per_when=("inherits_permissions", False)),
    key=("secret_permission_id",),
    columns=(
        _col("secret_permission_id", "id", "int", required=True),
        _col("secret_id", "secretId", "int", required=True),
        _col("user_id", "userId", "int", minus_one_null=True),
        _col("group_id", "groupId", "int", minus_one_null=True),
        _col("secret_access_role", "secretAccessRoleName", "text", required=True),
    ),
    references=(
        Reference("secret_id", "secrets"),
        Reference("user_id", "users"),
        Reference("group_id", "groups", unless_set="user_id"),
    ),
    one_of=("user_id", "group_id"),
)

# Dependency order: an entity comes after the ones it is fanned out over or refers to.
ENTITIES: dict[str, Entity] = {
    e.name: e
    for e in (USERS, GROUPS, GROUP_MEMBERS, FOLDERS, FOLDER_PERMISSIONS, SECRETS, SECRET_PERMISSIONS)
}
ENTITY_NAMES: tuple[str, ...] = tuple(ENTITIES)


def select_entities(names: list[str] | tuple[str, ...] | None) -> list[Entity]:
    """The declared entities named (all when None or empty), in dependency order; unknown names raise."""
    if not names:
        return list(ENTITIES.values())
    unknown = sorted(set(names) - set(ENTITIES))
    if unknown:
        raise ValueError(f"unknown entit{'y' if len(unknown) == 1 else 'ies'} {', '.join(unknown)}; "
                         f"choose from {', '.join(ENTITIES)}")
    wanted = set(names)
    return [e for e in ENTITIES.values() if e.name in wanted]


@dataclass
class EntityStats:
    """Per entity and run: records received, and what the diff found."""

    scanned: int = 0
    added: int = 0
    changed: int = 0
    removed: int = 0
    unchanged: int = 0
    rejected: int = 0
    complete: bool = True
    extras: dict[str, Any] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return {
            "scanned": self.scanned, "added": self.added, "changed": self.changed, "removed": self.removed,
            "unchanged": self.unchanged, "rejected": self.rejected, "complete": self.complete, **self.extras,
        }
