"""Staging write-back for provisioning: after a request succeeds, the staging rows it affects are made true,
with the same bookkeeping as reconciliation (first_seen_at, last_changed_at, deleted_at) and a change-log row
tied to the request (``event_id``, ``run_id`` NULL), so the next reconcile finds nothing to change.

Row at a time on purpose: a request touches one object (or one folder's or secret's permission list). Each
function runs on the caller's connection, inside the transaction that also makes the request final.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

BOOKKEEPING = ("first_seen_run_id", "first_seen_at", "last_changed_run_id", "last_changed_at", "deleted_at")


@dataclass(frozen=True)
class StagingEntity:
    """One staging table: its key and its contract columns (API field -> column)."""

    table: str
    key: tuple[str, ...]
    columns: dict[str, str]  # column -> API field

    @property
    def all_columns(self) -> list[str]:
        return [*self.key, *[c for c in self.columns if c not in self.key]]


USERS = StagingEntity("users", ("user_id",), {
    "user_id": "id", "user_name": "userName", "display_name": "displayName", "email_address": "emailAddress",
    "domain_id": "domainId", "domain_name": "domainName", "enabled": "enabled",
    "is_application_account": "isApplicationAccount", "is_locked_out": "isLockedOut",
    "login_failures": "loginFailures", "last_login": "lastLogin", "created": "created",
})
GROUP_MEMBERS = StagingEntity("group_members", ("group_id", "user_id"), {"group_id": "groupId", "user_id": "userId"})
FOLDER_PERMISSIONS = StagingEntity("folder_permissions", ("folder_permission_id",), {
    "folder_permission_id": "id", "folder_id": "folderId", "user_id": "userId", "group_id": "groupId",
    "folder_access_role": "folderAccessRoleName", "secret_access_role": "secretAccessRoleName",
})
SECRET_PERMISSIONS = StagingEntity("secret_permissions", ("secret_permission_id",), {
    "secret_permission_id": "id", "secret_id": "secretId", "user_id": "userId", "group_id": "groupId",
    "secret_access_role": "secretAccessRoleName",
})

_NULL_IDS = (None, -1, 0)
_ID_COLUMNS = {"domain_id", "user_id", "group_id"}
_TIME_COLUMNS = {"last_login", "created"}
_NOT_NULL_DEFAULTS = {"is_application_account": False, "is_locked_out": False}


def _normalize(column: str, value: Any) -> Any:
    """The API's conventions turned into staging's: -1 ids are NULL, timestamps are timestamps (UTC)."""
    if column in _ID_COLUMNS and column != "user_id" and value in _NULL_IDS:
        return None
    if column == "user_id" and value in (None, -1):
        return None
    if column == "domain_name" and not value:
        return None
    if column in _TIME_COLUMNS and isinstance(value, str):
        text = value.replace("Z", "+00:00")
        parsed = datetime.fromisoformat(text)
        if parsed.tzinfo is None:
            parsed = parsed.replace(tzinfo=UTC)
        return parsed
    return value


def row_from_record(entity: StagingEntity, record: Mapping[str, Any]) -> dict[str, Any]:
    """Staging columns from an API record; fields the record lacks are left out (kept as they are)."""
    row: dict[str, Any] = {}
    for column, field in entity.columns.items():
        if field in record:
            value = _normalize(column, record[field])
            if value is None and column in _NOT_NULL_DEFAULTS:
                value = _NOT_NULL_DEFAULTS[column]
            row[column] = value
    return row


def _jsonable(row: Mapping[str, Any]) -> str:
    return json.dumps({k: (v.isoformat() if isinstance(v, datetime) else v) for k, v in row.items()})


def _contract(row: Mapping[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in row.items() if k not in BOOKKEEPING}


def _object_key(entity: StagingEntity, row: Mapping[str, Any]) -> str:
    return ":".join(str(row[k]) for k in entity.key)


def _log(conn: Connection, entity: StagingEntity, key: str, change: str, before: Any, after: Any,
         event_id: int) -> None:
    conn.execute(
        sa.text(
            "INSERT INTO ss_staging.change_log (run_id, event_id, entity, object_key, change_type, before, after) "
            "VALUES (NULL, :event_id, :entity, :key, :change, CAST(:before AS jsonb), CAST(:after AS jsonb))"
        ),
        {"event_id": event_id, "entity": entity.table, "key": key, "change": change,
         "before": None if before is None else _jsonable(before),
         "after": None if after is None else _jsonable(after)},
    )


def _current(conn: Connection, entity: StagingEntity, key_values: Mapping[str, Any]) -> dict[str, Any] | None:
    where = " AND ".join(f"{k} = :{k}" for k in entity.key)
    row = conn.execute(
        sa.text(f"SELECT * FROM ss_staging.{entity.table} WHERE {where} FOR UPDATE"), dict(key_values)
    ).mappings().first()
    return dict(row) if row is not None else None


def upsert(conn: Connection, entity: StagingEntity, row: Mapping[str, Any], *, event_id: int) -> str | None:
    """Make the staging row hold ``row`` (and be current). Returns the change written: added, changed, or None
    when staging already agreed."""
    keys = {k: row[k] for k in entity.key}
    existing = _current(conn, entity, keys)
    if existing is None:
        columns = list(row)
        inserted = conn.execute(
            sa.text(
                f"INSERT INTO ss_staging.{entity.table} ({', '.join(columns)}, first_seen_at, last_changed_at) "
                f"VALUES ({', '.join(':' + c for c in columns)}, now(), now()) ON CONFLICT DO NOTHING"
            ),
            dict(row),
        )
        if inserted.rowcount == 1:
            _log(conn, entity, _object_key(entity, row), "added", None, _contract(row), event_id)
            return "added"
        # Another transaction inserted it meanwhile (e.g. two grants on one folder): compare with theirs.
        existing = _current(conn, entity, keys)
        assert existing is not None
    differing = {c: v for c, v in row.items() if c not in entity.key and existing.get(c) != v}
    revived = existing["deleted_at"] is not None
    if not differing and not revived:
        return None
    sets = ", ".join([*(f"{c} = :{c}" for c in differing), "deleted_at = NULL",
                      "last_changed_at = now()", "last_changed_run_id = NULL"])
    where = " AND ".join(f"{k} = :{k}" for k in entity.key)
    conn.execute(sa.text(f"UPDATE ss_staging.{entity.table} SET {sets} WHERE {where}"), {**keys, **differing})
    before = _contract(existing)
    after = {**before, **differing}
    if revived:
        _log(conn, entity, _object_key(entity, keys), "added", None, after, event_id)
        return "added"
    _log(conn, entity, _object_key(entity, keys), "changed", before, after, event_id)
    return "changed"


def mark_removed(conn: Connection, entity: StagingEntity, key_values: Mapping[str, Any], *,
                 event_id: int) -> bool:
    """Set deleted_at on a current staging row; False when it was already gone (or never there)."""
    existing = _current(conn, entity, key_values)
    if existing is None or existing["deleted_at"] is not None:
        return False
    where = " AND ".join(f"{k} = :{k}" for k in entity.key)
    conn.execute(
        sa.text(f"UPDATE ss_staging.{entity.table} SET deleted_at = now(), last_changed_at = now(), "
                f"last_changed_run_id = NULL WHERE {where}"),
        dict(key_values),
    )
    _log(conn, entity, _object_key(entity, key_values), "removed", _contract(existing), None, event_id)
    return True


# ---------------------------------------------------------------------------------------------- per object
def record_user(conn: Connection, user: Mapping[str, Any], *, event_id: int) -> str | None:
    return upsert(conn, USERS, row_from_record(USERS, user), event_id=event_id)


def record_membership(conn: Connection, group_id: int, user_id: int, *, present: bool, event_id: int) -> None:
    row = {"group_id": int(group_id), "user_id": int(user_id)}
    if present:
        upsert(conn, GROUP_MEMBERS, row, event_id=event_id)
    else:
        mark_removed(conn, GROUP_MEMBERS, row, event_id=event_id)


def _sync_list(conn: Connection, entity: StagingEntity, parent_column: str, parent_id: int,
               records: Iterable[Mapping[str, Any]], event_id: int) -> None:
    """Make the current staging rows of one folder's (or secret's) permissions equal ``records``."""
    seen: set[int] = set()
    key = entity.key[0]
    rows = [row_from_record(entity, record) for record in records]
    # Fixed lock order (by key) so that two requests syncing one folder's list cannot deadlock.
    for row in sorted(rows, key=lambda r: int(r[key])):
        if row.get(parent_column) != parent_id:
            continue
        seen.add(int(row[key]))
        upsert(conn, entity, row, event_id=event_id)
    current = conn.execute(
        sa.text(f"SELECT {key} FROM ss_staging.{entity.table} WHERE {parent_column} = :p AND deleted_at IS NULL"),
        {"p": parent_id},
    ).scalars().all()
    for stale in sorted(set(current) - seen):
        mark_removed(conn, entity, {key: stale}, event_id=event_id)


def sync_folder_permissions(conn: Connection, folder_id: int, records: Iterable[Mapping[str, Any]], *,
                            event_id: int) -> None:
    """``records``: a fresh ``GET /folder-permissions?filter.folderId=`` answer for this folder."""
    _sync_list(conn, FOLDER_PERMISSIONS, "folder_id", int(folder_id), records, event_id)
    _set_flag(conn, "folders", "folder_id", int(folder_id), "inherit_permissions", False, event_id)


def sync_secret_permissions(conn: Connection, secret_id: int, records: Iterable[Mapping[str, Any]], *,
                            event_id: int) -> None:
    """``records``: a fresh ``GET /secret-permissions?filter.secretId=`` answer for this secret."""
    _sync_list(conn, SECRET_PERMISSIONS, "secret_id", int(secret_id), records, event_id)
    _set_flag(conn, "secrets", "secret_id", int(secret_id), "inherits_permissions", False, event_id)


def _set_flag(conn: Connection, table: str, key: str, key_value: int, column: str, value: bool,
              event_id: int) -> None:
    """A grant breaks inheritance: the folder or secret now carries its own permissions."""
    existing = conn.execute(
        sa.text(f"SELECT * FROM ss_staging.{table} WHERE {key} = :k AND deleted_at IS NULL FOR UPDATE"),
        {"k": key_value},
    ).mappings().first()
    if existing is None or existing[column] == value:
        return
    conn.execute(
        sa.text(f"UPDATE ss_staging.{table} SET {column} = :v, last_changed_at = now(), last_changed_run_id = NULL "
                f"WHERE {key} = :k"),
        {"v": value, "k": key_value},
    )
    before = _contract(dict(existing))
    entity = StagingEntity(table, (key,), {})
    _log(conn, entity, str(key_value), "changed", before, {**before, column: value}, event_id)


# ---------------------------------------------------------------------------------------------- lookups
def staged_application_account(conn: Connection, user_name: str, domain: str | None) -> bool:
    """True when staging knows this account as an application account (so no call is needed to refuse)."""
    return bool(conn.execute(
        sa.text(
            "SELECT bool_or(is_application_account) FROM ss_staging.users WHERE deleted_at IS NULL "
            "AND lower(user_name) = lower(:n) AND coalesce(lower(domain_name), '') = coalesce(lower(:d), '')"
        ),
        {"n": user_name, "d": domain},
    ).scalar())


def staged_folder_id(conn: Connection, folder_path: str) -> int | None:
    path = folder_path if folder_path.startswith("\\") else "\\" + folder_path
    ids = conn.execute(
        sa.text("SELECT folder_id FROM ss_staging.folders WHERE deleted_at IS NULL AND lower(folder_path) = lower(:p)"),
        {"p": path},
    ).scalars().all()
    return int(ids[0]) if len(ids) == 1 else None


def staged_secret_ids(conn: Connection, secret_name: str) -> list[int]:
    return [int(i) for i in conn.execute(
        sa.text("SELECT secret_id FROM ss_staging.secrets WHERE deleted_at IS NULL AND lower(secret_name) = lower(:n) "
                "ORDER BY secret_id"),
        {"n": secret_name},
    ).scalars().all()]


def staged_group_exists(conn: Connection, group_id: int) -> bool:
    """Memberships are kept for listed groups only (not personal groups, which staging does not hold)."""
    return staged_group_name(conn, group_id) is not None


def staged_group_name(conn: Connection, group_id: int) -> str | None:
    name = conn.execute(
        sa.text("SELECT group_name FROM ss_staging.groups WHERE group_id = :g AND deleted_at IS NULL"),
        {"g": int(group_id)},
    ).scalar()
    return None if name is None else str(name)


def staged_folder_path(conn: Connection, folder_id: int) -> str | None:
    path = conn.execute(
        sa.text("SELECT folder_path FROM ss_staging.folders WHERE folder_id = :f AND deleted_at IS NULL"),
        {"f": int(folder_id)},
    ).scalar()
    return None if path is None else str(path)


_LIST_LOCK_CLASS = {"folder": 0x55_16_1A_01, "secret": 0x55_16_1A_02}


def lock_permission_list(conn: Connection, kind: str, object_id: int) -> None:
    """Serialize staging syncs of one folder's (or secret's) permission list until the transaction ends."""
    conn.execute(sa.text("SELECT pg_advisory_xact_lock(:c, :o)"),
                 {"c": _LIST_LOCK_CLASS[kind], "o": int(object_id)})
