"""Staging write-back for provisioning: after a request succeeds, the staging rows it affects are made true,
with the same bookkeeping as reconciliation (first_seen_at, last_changed_at, deleted_at) and a change-log row
tied to the request (``event_id``, ``run_id`` NULL), so the next reconcile finds nothing to change.

Every read and write names the Secret Server instance the request ran on (``instance``: the staging rows of
that instance only, keyed by (instance, id), change-log rows with that instance, target events with that
instance's IGI target): a user 7 of another instance is another user.

Row at a time on purpose: a request touches one object (or one folder's or secret's permission list). Each
function runs on the caller's connection, inside the transaction that also makes the request final, after
`hold_staging` has taken the instance's staging lock shared (a reconcile merge of that instance takes it
exclusively, so the two never interleave; other instances' merges do not wait). Times are the time of the change
(``clock_timestamp()``), not of the transaction's start: a reconcile that started before a write-back leaves the
rows it wrote alone (connectors/igi/staging.py).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from connectors.igi.convert import convert_value
from connectors.igi.entities import (
    ENTITIES,
    FOLDER_PERMISSIONS,
    FOLDERS,
    GROUP_MEMBERS,
    GROUPS,
    SECRET_PERMISSIONS,
    USERS,
    Entity,
    ReadPer,
)
from connectors.igi.events import PERMISSIONS_SQL
from connectors.igi.staging import STAGING_LOCK_KEY

BOOKKEEPING = ("first_seen_run_id", "first_seen_at", "last_changed_run_id", "last_changed_at", "deleted_at")
# The change log's before and after hold the entity's columns, as reconciliation's do: the instance is a column
# of the change log itself.
_MINUS = "ARRAY[" + ", ".join(f"'{c}'" for c in ("instance", *BOOKKEEPING)) + "]::text[]"

__all__ = ["FOLDER_PERMISSIONS", "GROUP_MEMBERS", "SECRET_PERMISSIONS", "USERS"]


def row_from_record(entity: Entity, record: Mapping[str, Any]) -> dict[str, Any]:
    """Staging columns from one API record, typed by the entity's declaration with reconciliation's rules
    (connectors/igi/convert.py; a value of the wrong type raises `InvalidValue`); columns whose API field the
    record lacks are left out, so they keep their staged value. (Per record in plain Python: the pandas
    normalizer costs ~10 ms a call, too much for one object per request.)"""
    row: dict[str, Any] = {}
    for column in entity.columns:
        if column.name not in entity.key and column.source not in record:
            continue
        value = convert_value(column, record.get(column.source))
        if value is None and (column.required or column.name in entity.key):
            raise ValueError(f"{entity.name} record without {column.source}")
        row[column.name] = value
    return row


def _where(entity: Entity, alias: str = "t") -> str:
    return " AND ".join(f"{alias}.{k} = :{k}" for k in entity.staging_key)


def _snapshot(conn: Connection, entity: Entity, keys: Mapping[str, Any], *, lock: bool = False) -> Any:
    """(contract columns as jsonb text, deleted?) of one staging row (``keys``: the instance and the entity's
    key), or None; the same JSON as reconcile's."""
    return conn.execute(
        sa.text(f"SELECT (to_jsonb(t) - {_MINUS})::text AS state, t.deleted_at IS NOT NULL AS deleted "
                f"FROM ss_staging.{entity.name} t WHERE {_where(entity)}" + (" FOR UPDATE" if lock else "")),
        dict(keys),
    ).first()


def _log(conn: Connection, entity: Entity, keys: Mapping[str, Any], change: str, before: str | None,
         after: str | None, event_id: int) -> None:
    conn.execute(
        sa.text(
            "INSERT INTO ss_staging.change_log (instance, run_id, event_id, entity, object_key, change_type, "
            "before, after, changed_at) VALUES (:instance, NULL, :event_id, :entity, :key, :change, "
            "CAST(:before AS jsonb), CAST(:after AS jsonb), clock_timestamp())"
        ),
        {"instance": keys["instance"], "event_id": event_id, "entity": entity.name,
         "key": ":".join(str(keys[k]) for k in entity.key), "change": change, "before": before, "after": after},
    )


def upsert(conn: Connection, entity: Entity, row: Mapping[str, Any], *, instance: str,
           event_id: int) -> str | None:
    """Make the instance's staging row hold ``row`` and be current. Returns the change written (added, changed)
    or None when staging already agreed. Bookkeeping and change-log rows follow reconciliation's rules: a
    revival is 'added' with the removed row as ``before``."""
    row = {"instance": instance, **row}
    keys = {k: row[k] for k in entity.staging_key}
    before = _snapshot(conn, entity, keys, lock=True)
    columns = list(row)
    values = [c for c in columns if c not in keys]
    updates = ", ".join([*(f"{c} = EXCLUDED.{c}" for c in values), "deleted_at = NULL",
                         "last_changed_at = clock_timestamp()", "last_changed_run_id = NULL"])
    mine, theirs = ", ".join("t." + c for c in values), ", ".join("EXCLUDED." + c for c in values)
    differs = f"ROW({mine}) IS DISTINCT FROM ROW({theirs})" if values else "false"
    result = conn.execute(
        sa.text(
            f"INSERT INTO ss_staging.{entity.name} AS t ({', '.join(columns)}, first_seen_at, last_changed_at) "
            f"VALUES ({', '.join(':' + c for c in columns)}, clock_timestamp(), clock_timestamp()) "
            f"ON CONFLICT ({', '.join(keys)}) DO UPDATE SET {updates} "
            f"WHERE {differs} OR t.deleted_at IS NOT NULL"
        ),
        dict(row),
    )
    if result.rowcount == 0:
        return None
    after = _snapshot(conn, entity, keys)
    if before is None or before.deleted:
        _log(conn, entity, keys, "added", None if before is None else before.state, after.state, event_id)
        return "added"
    _log(conn, entity, keys, "changed", before.state, after.state, event_id)
    return "changed"


def mark_removed(conn: Connection, entity: Entity, key_values: Mapping[str, Any], *, instance: str,
                 event_id: int) -> bool:
    """Set deleted_at on a current staging row of the instance; False when it was already gone (or never there)."""
    key_values = {"instance": instance, **key_values}
    before = _snapshot(conn, entity, key_values, lock=True)
    if before is None or before.deleted:
        return False
    conn.execute(
        sa.text(f"UPDATE ss_staging.{entity.name} t SET deleted_at = clock_timestamp(), "
                f"last_changed_at = clock_timestamp(), "
                f"last_changed_run_id = NULL WHERE {_where(entity)}"),
        dict(key_values),
    )
    _log(conn, entity, key_values, "removed", before.state, None, event_id)
    return True


def hold_staging(conn: Connection, instance: str) -> None:
    """Take the instance's staging lock shared until the transaction ends: no reconcile merge of that instance
    runs meanwhile."""
    conn.execute(sa.text("SELECT pg_advisory_xact_lock_shared(:k, hashtext(:instance))"),
                 {"k": STAGING_LOCK_KEY, "instance": instance})


# ---------------------------------------------------------------------------------------------- per object
def record_user(conn: Connection, user: Mapping[str, Any], *, instance: str, event_id: int) -> str | None:
    """Make staging hold the user record ``user`` (as the API returns it); the change written, or None."""
    return upsert(conn, USERS, row_from_record(USERS, user), instance=instance, event_id=event_id)


def record_membership(conn: Connection, group_id: int, user_id: int, *, present: bool, instance: str,
                      event_id: int) -> None:
    """Make staging hold the membership (``present``) or mark it removed."""
    row = {"group_id": int(group_id), "user_id": int(user_id)}
    if present:
        upsert(conn, GROUP_MEMBERS, row, instance=instance, event_id=event_id)
    else:
        mark_removed(conn, GROUP_MEMBERS, row, instance=instance, event_id=event_id)


def _sync_list(conn: Connection, entity: Entity, parent_id: int, records: Iterable[Mapping[str, Any]],
               instance: str, event_id: int) -> None:
    """Make the current staging rows of one folder's (or secret's) permissions equal ``records``, and mark the
    parent as carrying its own (the flag reconciliation reads such lists by: a grant breaks inheritance)."""
    assert isinstance(entity.source, ReadPer) and entity.source.per_when is not None
    parent_column = entity.parent_column
    seen: set[int] = set()
    key = entity.key[0]
    rows = [row_from_record(entity, record) for record in records]
    # Fixed lock order (by key) so that two requests syncing one folder's list cannot deadlock.
    for row in sorted(rows, key=lambda r: int(r[key])):
        if row.get(parent_column) != parent_id:
            continue
        seen.add(int(row[key]))
        upsert(conn, entity, row, instance=instance, event_id=event_id)
    current = conn.execute(
        sa.text(f"SELECT {key} FROM ss_staging.{entity.name} "
                f"WHERE instance = :instance AND {parent_column} = :p AND deleted_at IS NULL"),
        {"instance": instance, "p": parent_id},
    ).scalars().all()
    for stale in sorted(set(current) - seen):
        mark_removed(conn, entity, {key: stale}, instance=instance, event_id=event_id)
    flag, value = entity.source.per_when
    _set_flag(conn, ENTITIES[entity.source.per], parent_id, flag, value, instance, event_id)


def sync_folder_permissions(conn: Connection, folder_id: int, records: Iterable[Mapping[str, Any]], *,
                            instance: str, event_id: int) -> None:
    """``records``: a fresh ``GET /folder-permissions?filter.folderId=`` answer for this folder."""
    _sync_list(conn, FOLDER_PERMISSIONS, int(folder_id), records, instance, event_id)


def sync_secret_permissions(conn: Connection, secret_id: int, records: Iterable[Mapping[str, Any]], *,
                            instance: str, event_id: int) -> None:
    """``records``: a fresh ``GET /secret-permissions?filter.secretId=`` answer for this secret."""
    _sync_list(conn, SECRET_PERMISSIONS, int(secret_id), records, instance, event_id)


def _set_flag(conn: Connection, entity: Entity, key_value: int, column: str, value: Any, instance: str,
              event_id: int) -> None:
    """Set one column of a current staging row, with bookkeeping and a change-log row when it changes."""
    keys = {"instance": instance, entity.key[0]: key_value}
    before = _snapshot(conn, entity, keys, lock=True)
    if before is None or before.deleted:
        return
    result = conn.execute(
        sa.text(f"UPDATE ss_staging.{entity.name} t SET {column} = :v, last_changed_at = clock_timestamp(), "
                f"last_changed_run_id = NULL WHERE {_where(entity)} AND {column} IS DISTINCT FROM :v"),
        {**keys, "v": value},
    )
    if result.rowcount:
        _log(conn, entity, keys, "changed", before.state, _snapshot(conn, entity, keys).state, event_id)


# ---------------------------------------------------------------------------------------------- events
def _permission_set(conn: Connection, where: str, params: Mapping[str, Any]) -> dict[tuple[int, str, str], Any]:
    rows = conn.execute(
        sa.text(f"SELECT user_id, code, functionality_type, functionality, attributes::text AS attributes "
                f"FROM ({PERMISSIONS_SQL}) p WHERE p.instance = :instance AND {where}"), dict(params)).mappings().all()
    return {(int(r["user_id"]), r["functionality_type"], r["functionality"]): r for r in rows}


@contextmanager
def permission_events(conn: Connection, event_id: int, *, instance: str, target: str, user_id: int | None = None,
                      folder_id: int | None = None, secret_id: int | None = None,
                      requested_for: int | None = None) -> Iterator[None]:
    """Around staging writes: the PERMISSION_REMOVE / PERMISSION_ADD target-queue events (for ``target``, the
    instance's IGI target) a reconcile would emit for the instance's direct permissions that change within the
    block, in one scope (an account, a folder's or a secret's list), so IGI learns of side effects (memberships a
    new account gets, permissions copied when inheritance breaks). Changes of ``requested_for`` in that scope are
    IGI's own request and raise none."""
    if user_id is not None:
        where, params = "p.user_id = :scope", {"scope": int(user_id)}
    elif folder_id is not None:
        where, params = ("p.functionality_type = 'folder' AND (p.attributes->>'folder_id')::int = :scope",
                         {"scope": int(folder_id)})
    elif secret_id is not None:
        where, params = ("p.functionality_type = 'secret' AND (p.attributes->>'secret_id')::int = :scope",
                         {"scope": int(secret_id)})
    else:
        raise ValueError("permission_events needs a scope: user_id, folder_id or secret_id")
    before = _permission_set(conn, where, {**params, "instance": instance})
    yield
    after = _permission_set(conn, where, {**params, "instance": instance})
    events = [(2, before[k]) for k in sorted(before.keys() - after.keys())]
    events += [(1, after[k]) for k in sorted(after.keys() - before.keys())]
    for operation, row in events:
        if requested_for is not None and int(row["user_id"]) == requested_for:
            continue
        attributes = {**json.loads(row["attributes"]), "code": row["code"], "provisioning_event_id": event_id}
        conn.execute(
            sa.text("INSERT INTO igi.event_target (run_id, target, code, operation, state, functionality, "
                    "functionality_type, attributes) "
                    "VALUES (NULL, :target, :code, :op, 1, :f, :ft, CAST(:a AS jsonb))"),
            {"target": target, "code": row["code"], "op": operation, "f": row["functionality"],
             "ft": row["functionality_type"], "a": json.dumps(attributes)},
        )


# ---------------------------------------------------------------------------------------------- lookups
def staged_application_account(conn: Connection, instance: str, user_name: str, domain: str | None) -> bool:
    """True when the instance's staging knows this account as an application account (so no call is needed to
    refuse)."""
    return bool(conn.execute(
        sa.text(
            "SELECT bool_or(is_application_account) FROM ss_staging.users WHERE instance = :instance "
            "AND deleted_at IS NULL AND lower(user_name) = lower(:n) "
            "AND coalesce(lower(domain_name), '') = coalesce(lower(:d), '')"
        ),
        {"instance": instance, "n": user_name, "d": domain},
    ).scalar())


def staged_folder_id(conn: Connection, instance: str, folder_path: str) -> int | None:
    """The instance's current folder at ``folder_path`` (case-insensitive, leading backslash optional), when
    exactly one."""
    path = folder_path if folder_path.startswith("\\") else "\\" + folder_path
    ids = conn.execute(
        sa.text("SELECT folder_id FROM ss_staging.folders WHERE instance = :instance AND deleted_at IS NULL "
                "AND lower(folder_path) = lower(:p)"),
        {"instance": instance, "p": path},
    ).scalars().all()
    return int(ids[0]) if len(ids) == 1 else None


def staged_secret_ids(conn: Connection, instance: str, secret_name: str) -> list[int]:
    """Ids of the instance's current secrets called ``secret_name`` (case-insensitive)."""
    return [int(i) for i in conn.execute(
        sa.text("SELECT secret_id FROM ss_staging.secrets WHERE instance = :instance AND deleted_at IS NULL "
                "AND lower(secret_name) = lower(:n) ORDER BY secret_id"),
        {"instance": instance, "n": secret_name},
    ).scalars().all()]


def staged_group_exists(conn: Connection, instance: str, group_id: int) -> bool:
    """Memberships are kept for listed groups only (not personal groups, which staging does not hold)."""
    return staged_group_name(conn, instance, group_id) is not None


def staged_group_name(conn: Connection, instance: str, group_id: int) -> str | None:
    """The name of the instance's current group, or None."""
    return _current_text(conn, GROUPS, instance, int(group_id), "group_name")


def staged_folder_path(conn: Connection, instance: str, folder_id: int) -> str | None:
    """The path of the instance's current folder, or None."""
    return _current_text(conn, FOLDERS, instance, int(folder_id), "folder_path")


def _current_text(conn: Connection, entity: Entity, instance: str, key_value: int, column: str) -> str | None:
    value = conn.execute(
        sa.text(f"SELECT {column} FROM ss_staging.{entity.name} "
                f"WHERE instance = :instance AND {entity.key[0]} = :k AND deleted_at IS NULL"),
        {"instance": instance, "k": key_value},
    ).scalar()
    return None if value is None else str(value)


_LIST_LOCK_CLASS = {"folder": 0x55_16_1A_01, "secret": 0x55_16_1A_02}


def lock_permission_list(conn: Connection, instance: str, kind: str, object_id: int) -> None:
    """Serialize staging syncs of one folder's (or secret's) permission list on the instance until the
    transaction ends (a hash collision with another object only makes one of them wait)."""
    conn.execute(sa.text("SELECT pg_advisory_xact_lock(:c, hashtext(:instance || ':' || :o))"),
                 {"c": _LIST_LOCK_CLASS[kind], "instance": instance, "o": str(int(object_id))})
