"""One declaration per reconciled entity: how it is read, its key, its columns and their types, what it refers
to, and which of its columns matter to IGI. Extraction, normalization, validation, the COPY load, the set-based
diff, the change log and the IGI events are written once and driven by these declarations (as a Singer stream
class drives its tap); the seven entities differ only in data. Adding an attribute to an entity means a column
here plus a migration (sql/); tests/db/test_migrations.py checks every declaration against the migrated schema.
Staging holds every Secret Server instance side by side: each table also has ``instance``, first in its primary key
(`Entity.staging_key`); a run reconciles one instance and works only on its rows.

``source`` says how the records are read: a function of the client typed against `SecretServerReads`
(``lambda ss: ss.iter_users()``), so mypy checks the operation and its arguments. (A function rather than
``SecretServerReads.iter_users`` itself: the client implements the protocol structurally, not by inheriting
it, so the protocol's own method would be its empty body.) The operation's API path and filters are declared
once, in the connector's `Search` for the entity (connectors/secret_server/reads.py). A `ReadPer` source is
called once per object of its parent entity (fanned out on the client's bounded pool), optionally only for
parents whose ``per_when`` column has the given value (permissions only where inheritance is broken).

Column kinds map to PostgreSQL types: ``int`` -> integer, ``text`` -> text, ``bool`` -> boolean, ``timestamp``
-> timestamptz; how an API value becomes one is connectors/igi/convert.py. ``minus_one_null`` turns the API's
``-1`` ("none": root folder, local domain, no policy) into NULL. ``required`` columns reject a record that
lacks them; ``default`` fills an absent or null value instead. ``operational`` columns move in daily use (last
login, lockout, last access): tracked like the others, but a change in them alone does not count toward the
change limit. ``account_attribute`` (users): a change raises an IGI ACCOUNT_MODIFY event
(connectors/igi/events.py).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field, fields
from typing import TYPE_CHECKING, Any, Literal

if TYPE_CHECKING:
    from connectors.secret_server.protocols import SecretServerReads

Kind = Literal["int", "text", "bool", "timestamp"]
Records = Iterable[Mapping[str, Any]]

PG_TYPES: dict[str, str] = {"int": "int4", "text": "text", "bool": "bool", "timestamp": "timestamptz"}
SQL_TYPES: dict[str, str] = {"int": "integer", "text": "text", "bool": "boolean", "timestamp": "timestamptz"}
# Every staging row carries the Secret Server instance it came from (sql/014_instances.sql); a single unnamed
# instance is "default", and its events go to IGI's target "SecretServer".
INSTANCE_COLUMN = "instance"
DEFAULT_INSTANCE = "default"
DEFAULT_TARGET = "SecretServer"


@dataclass(frozen=True)
class Column:
    """One staging column: its name, the API field it comes from, its kind and how it is checked and used."""

    name: str  # staging column (snake_case, carries its entity: user_id, group_name, ...)
    source: str  # API field (camelCase, exactly as Secret Server spells it)
    kind: Kind
    required: bool = False
    minus_one_null: bool = False
    default: Any = None
    operational: bool = False
    account_attribute: bool = False

    def __post_init__(self) -> None:
        if self.required and self.default is not None:  # one meaning for a missing value, not two
            raise ValueError(f"column {self.name}: required or default, not both")


@dataclass(frozen=True)
class Reference:
    """``column`` must name a current object of ``entity`` (its single-column key), unless NULL, or unless
    ``unless_set`` is non-NULL: a user-level permission carries the user's personal group id, which the group
    list does not hold, so its group_id is not checked."""

    column: str
    entity: str
    unless_set: str | None = None


@dataclass(frozen=True)
class ReadAll:
    """The entity is one paged search: ``read(client)`` yields all its records."""

    read: Callable[[SecretServerReads], Records]


@dataclass(frozen=True)
class ReadPer:
    """The entity is read per object of entity ``per``: ``read(client, parent_id)`` yields that object's records
    (only for parents whose column ``per_when[0]`` holds ``per_when[1]``, when set)."""

    read: Callable[[SecretServerReads, int], Records]
    per: str
    per_when: tuple[str, Any] | None = None


@dataclass(frozen=True)
class Entity:
    """One reconciled entity (see the module doc)."""

    name: str  # the staging table in ss_staging, and the entity name in runs, rejects and change_log
    source: ReadAll | ReadPer
    key: tuple[str, ...]
    columns: tuple[Column, ...]
    references: tuple[Reference, ...] = ()
    one_of: tuple[str, ...] = ()  # at least one of these columns must be set (a permission's user or group)

    def __post_init__(self) -> None:
        for name in self.key:
            if self.column(name).default is not None:
                raise ValueError(f"{self.name}: key column {name} cannot have a default")

    def __reduce__(self) -> tuple[Any, ...]:
        # Pickled by name (a Dask worker returns snapshots that carry their entity): the read callables are
        # lambdas, and the declaration a process holds is the one to use.
        return (_declared, (self.name,))

    @property
    def column_names(self) -> list[str]:
        """The staging columns, in declaration order."""
        return [c.name for c in self.columns]

    @property
    def staging_key(self) -> tuple[str, ...]:
        """The staging table's primary key: the instance, then the Secret Server key (ids are unique only
        within one instance). The instance is a constant of a run, never a column of the normalized frames."""
        return (INSTANCE_COLUMN, *self.key)

    @property
    def value_columns(self) -> list[Column]:
        """The columns that are not part of the key."""
        return [c for c in self.columns if c.name not in self.key]

    def column(self, name: str) -> Column:
        """The column called ``name``."""
        for c in self.columns:
            if c.name == name:
                return c
        raise KeyError(name)

    @property
    def parent_column(self) -> str:
        """The column naming the parent of an entity read per parent (group_id, folder_id, secret_id)."""
        if not isinstance(self.source, ReadPer):
            raise ValueError(f"{self.name} is not read per parent")
        per = self.source.per
        return next(r.column for r in self.references if r.entity == per)

    @property
    def key_sources(self) -> list[str]:
        """The API fields of the key columns."""
        return [self.column(k).source for k in self.key]


# The holder of a folder or secret permission: a user, or a group. A user-level permission also carries the
# user's personal group, which the group list does not hold (see `Reference`).
_HOLDER = (Column("user_id", "userId", "int", minus_one_null=True),
           Column("group_id", "groupId", "int", minus_one_null=True))
_HOLDER_REFERENCES = (Reference("user_id", "users"), Reference("group_id", "groups", unless_set="user_id"))


USERS = Entity(
    "users",
    ReadAll(lambda ss: ss.iter_users()),
    key=("user_id",),
    columns=(
        Column("user_id", "id", "int", required=True),
        Column("user_name", "userName", "text", required=True, account_attribute=True),
        Column("display_name", "displayName", "text", account_attribute=True),
        Column("email_address", "emailAddress", "text", account_attribute=True),
        Column("domain_id", "domainId", "int", minus_one_null=True, account_attribute=True),
        Column("domain_name", "domainName", "text", account_attribute=True),
        Column("enabled", "enabled", "bool", required=True),
        Column("is_application_account", "isApplicationAccount", "bool", default=False, account_attribute=True),
        Column("is_locked_out", "isLockedOut", "bool", default=False, operational=True),
        Column("login_failures", "loginFailures", "int", operational=True),
        Column("last_login", "lastLogin", "timestamp", operational=True),
        Column("created", "created", "timestamp"),
    ),
)

GROUPS = Entity(
    "groups",
    ReadAll(lambda ss: ss.iter_groups()),
    key=("group_id",),
    columns=(
        Column("group_id", "id", "int", required=True),
        Column("group_name", "name", "text", required=True),
        Column("domain_id", "domainId", "int", minus_one_null=True),
        Column("domain_name", "domainName", "text"),
        Column("enabled", "enabled", "bool", required=True),
        Column("synchronized", "synchronized", "bool", default=False),
        Column("created", "created", "timestamp"),
    ),
)

GROUP_MEMBERS = Entity(
    "group_members",
    ReadPer(lambda ss, group_id: ss.iter_group_members(group_id), per="groups"),
    key=("group_id", "user_id"),
    columns=(
        Column("group_id", "groupId", "int", required=True),
        Column("user_id", "userId", "int", required=True),
    ),
    references=(Reference("group_id", "groups"), Reference("user_id", "users")),
)

FOLDERS = Entity(
    "folders",
    ReadAll(lambda ss: ss.iter_folders()),
    key=("folder_id",),
    columns=(
        Column("folder_id", "id", "int", required=True),
        Column("folder_name", "folderName", "text", required=True),
        Column("folder_path", "folderPath", "text"),
        Column("parent_folder_id", "parentFolderId", "int", minus_one_null=True),
        Column("folder_type_id", "folderTypeId", "int"),
        Column("inherit_permissions", "inheritPermissions", "bool", required=True),
        Column("inherit_secret_policy", "inheritSecretPolicy", "bool"),
        Column("secret_policy_id", "secretPolicyId", "int", minus_one_null=True),
    ),
    references=(Reference("parent_folder_id", "folders"),),
)

# Only folders that break inheritance carry their own permission records; an inheriting folder takes its
# nearest non-inheriting ancestor's, which are loaded with that ancestor.
FOLDER_PERMISSIONS = Entity(
    "folder_permissions",
    ReadPer(lambda ss, folder_id: ss.iter_folder_permissions(folder_id), per="folders",
            per_when=("inherit_permissions", False)),
    key=("folder_permission_id",),
    columns=(
        Column("folder_permission_id", "id", "int", required=True),
        Column("folder_id", "folderId", "int", required=True),
        *_HOLDER,
        Column("folder_access_role", "folderAccessRoleName", "text", required=True),
        Column("secret_access_role", "secretAccessRoleName", "text", required=True),
    ),
    references=(Reference("folder_id", "folders"), *_HOLDER_REFERENCES),
    one_of=("user_id", "group_id"),
)

SECRETS = Entity(
    "secrets",
    ReadAll(lambda ss: ss.iter_secrets()),
    key=("secret_id",),
    columns=(
        Column("secret_id", "id", "int", required=True),
        Column("secret_name", "name", "text", required=True),
        Column("folder_id", "folderId", "int", minus_one_null=True),
        Column("secret_template_id", "secretTemplateId", "int"),
        Column("secret_template_name", "secretTemplateName", "text"),
        Column("active", "active", "bool", required=True),
        Column("inherits_permissions", "inheritsPermissions", "bool", required=True),
        Column("is_restricted", "isRestricted", "bool"),
        Column("site_id", "siteId", "int"),
        Column("create_date", "createDate", "timestamp"),
        Column("last_accessed", "lastAccessed", "timestamp", operational=True),
    ),
    references=(Reference("folder_id", "folders"),),
)

# Only secrets that break inheritance have their own permissions: one call per such secret, not per secret.
SECRET_PERMISSIONS = Entity(
    "secret_permissions",
    ReadPer(lambda ss, secret_id: ss.iter_secret_permissions(secret_id), per="secrets",
            per_when=("inherits_permissions", False)),
    key=("secret_permission_id",),
    columns=(
        Column("secret_permission_id", "id", "int", required=True),
        Column("secret_id", "secretId", "int", required=True),
        *_HOLDER,
        Column("secret_access_role", "secretAccessRoleName", "text", required=True),
    ),
    references=(Reference("secret_id", "secrets"), *_HOLDER_REFERENCES),
    one_of=("user_id", "group_id"),
)

# Dependency order: an entity comes after the ones it is fanned out over or refers to.
ENTITIES: dict[str, Entity] = {
    e.name: e
    for e in (USERS, GROUPS, GROUP_MEMBERS, FOLDERS, FOLDER_PERMISSIONS, SECRETS, SECRET_PERMISSIONS)
}
ENTITY_NAMES: tuple[str, ...] = tuple(ENTITIES)


def _declared(name: str) -> Entity:
    return ENTITIES[name]


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
        """The counts by name, then the extras (as the run record holds them)."""
        counts = {f.name: getattr(self, f.name) for f in fields(self) if f.name != "extras"}
        return {**counts, **self.extras}
