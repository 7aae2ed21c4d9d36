"""Stored records of the simulated Secret Server, and the constants they refer to.

Records are compact slotted dataclasses (the `l` scale holds 200,000 secrets); `render.py` turns
them into the API's camelCase shapes. Dates are kept as the strings the API returns: ISO 8601
without a time zone, as Secret Server sends them; "never" is .NET's `0001-01-01T00:00:00` where
the API uses a non-nullable date and `None` (JSON null) where it is nullable (`lastLogin`).
"""

from __future__ import annotations

from dataclasses import dataclass, field

NEVER = "0001-01-01T00:00:00"
LOCAL_DOMAIN_ID = -1  # local (non-AD) users and groups carry domainId -1 and domainName null
ROOT_FOLDER_ID = -1  # parentFolderId of a root folder; folderId of a secret outside any folder
VERSION = "10.9.000033"
PREFIX = "/SecretServer"  # every path the server answers starts with this

# Role names as documented; ids are the simulator's own (the API accepts and returns names).
SECRET_ROLES: dict[str, int] = {"List": 1, "View": 2, "Edit": 3, "Owner": 4}
FOLDER_ROLES: dict[str, int] = {"View": 1, "Edit": 2, "Add Secret": 3, "Owner": 4}
# A folder permission's secret role may also be "None" (no access to the folder's secrets).
FOLDER_SECRET_ROLES: dict[str, int] = {"None": 0, **SECRET_ROLES}


def canonical_role(name: str, roles: dict[str, int]) -> str | None:
    """The documented spelling of a role name (case-insensitive), or None if unknown."""
    lowered = name.strip().lower() if isinstance(name, str) else ""
    for known in roles:
        if known.lower() == lowered:
            return known
    return None


@dataclass(frozen=True, slots=True)
class TemplateField:
    """One field of a secret template."""

    field_id: int
    name: str
    slug: str
    is_password: bool = False
    is_notes: bool = False


@dataclass(frozen=True, slots=True)
class Template:
    """A secret template: id, name and fields."""

    id: int
    name: str
    fields: tuple[TemplateField, ...]


def _fields(*specs: tuple[int, str, str]) -> tuple[TemplateField, ...]:
    return tuple(
        TemplateField(fid, name, slug, is_password=slug == "password", is_notes=slug == "notes")
        for fid, name, slug in specs
    )


TEMPLATES: dict[int, Template] = {
    t.id: t
    for t in (
        Template(2, "Password", _fields((100, "Resource", "resource"), (101, "Username", "username"),
                                        (102, "Password", "password"), (103, "Notes", "notes"))),
        Template(6001, "Active Directory Account",
                 _fields((110, "Domain", "domain"), (111, "Username", "username"),
                         (112, "Password", "password"), (113, "Notes", "notes"))),
        Template(6003, "Windows Account",
                 _fields((120, "Machine", "machine"), (121, "Username", "username"),
                         (122, "Password", "password"), (123, "Notes", "notes"))),
        Template(6007, "Unix Account (SSH)",
                 _fields((130, "Machine", "machine"), (131, "Username", "username"),
                         (132, "Password", "password"), (133, "Notes", "notes"))),
        Template(6010, "SQL Server Account",
                 _fields((140, "Server", "server"), (141, "Username", "username"),
                         (142, "Password", "password"), (143, "Database", "database"))),
        Template(9, "Web Password",
                 _fields((150, "URL", "url"), (151, "Username", "username"),
                         (152, "Password", "password"), (153, "Notes", "notes"))),
    )
}
DEFAULT_TEMPLATE_ID = 2


@dataclass(slots=True)
class Domain:
    """An Active Directory domain."""

    id: int
    name: str  # DNS name, e.g. corp.example.com
    friendly_name: str  # NetBIOS-style, e.g. CORP
    distinguished_name: str
    active: bool = True


@dataclass(slots=True)
class User:
    """A user, as stored (the password never rendered)."""

    id: int
    user_name: str
    display_name: str
    email_address: str | None
    enabled: bool
    is_application_account: bool
    is_locked_out: bool
    last_login: str | None
    login_failures: int
    created: str
    domain_id: int
    personal_group_id: int
    ad_guid: str | None = None
    password_last_changed: str = NEVER
    two_factor: bool = False
    password: str | None = field(default=None, repr=False)  # never rendered


@dataclass(slots=True)
class Group:
    """A group; a user's personal group is one too."""

    id: int
    name: str
    enabled: bool
    created: str
    domain_id: int
    ad_guid: str | None = None
    synchronized: bool = False
    personal_user_id: int | None = None  # set for a user's personal group (not listed by /groups)
    system_group: bool = False


@dataclass(slots=True)
class Folder:
    """A folder, with its full path."""

    id: int
    name: str
    parent_id: int  # ROOT_FOLDER_ID for a root
    inherit_permissions: bool
    path: str
    folder_type_id: int = 1
    inherit_secret_policy: bool = True
    secret_policy_id: int = -1
    personal_user_id: int | None = None


@dataclass(slots=True)
class FolderPermission:
    """A folder permission record: a principal's folder role and role on the folder's secrets."""

    id: int
    folder_id: int
    group_id: int  # a user's permission carries the id of that user's personal group
    user_id: int | None
    folder_role: str
    secret_role: str


@dataclass(slots=True)
class Secret:
    """A secret's metadata, and the field values given at creation if any."""

    id: int
    name: str
    folder_id: int
    template_id: int
    active: bool
    inherits_permissions: bool
    create_date: str
    last_accessed: str | None
    last_password_change_attempt: str = NEVER
    last_heartbeat_check: str = NEVER
    last_heartbeat_status: str = "Pending"
    auto_change_enabled: bool = False
    check_out_enabled: bool = False
    checked_out: bool = False
    requires_approval: bool = False
    requires_comment: bool = False
    is_restricted: bool = False
    site_id: int = 1
    items: dict[str, str] | None = None  # field values set through POST /secrets (else generated)


@dataclass(slots=True)
class SecretPermission:
    """A secret permission record: a principal's role on one secret."""

    id: int
    secret_id: int
    group_id: int
    user_id: int | None
    role: str
