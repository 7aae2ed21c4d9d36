"""Staging rows for the analyst tests: from the simulator's organization, or written by hand, loaded with
COPY; and a minimal stand-in for reconciliation runs that writes staging and the change log the way the
contract describes (one change_log row per added/changed/removed object, "after" = contract columns).

A snapshot is ``{table: [row dict, ...]}`` holding the present rows of the seven staging tables of one Secret
Server instance, with the columns below; a row may carry ``deleted_at`` (removed) when written by hand. The instance
is not a column of the snapshot (as in the reconciliation, it is a constant per run): it is given when the
snapshot is written, and defaults to the instance of a single-instance setup.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from simulator.state import Organization

DEFAULT_INSTANCE = "default"

Row = dict[str, Any]
Snapshot = dict[str, list[Row]]

# table -> (primary key columns, contract columns loaded by these tests)
TABLES: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    "users": (("user_id",), ("user_id", "user_name", "domain_name", "enabled")),
    "groups": (("group_id",), ("group_id", "group_name", "domain_id", "enabled")),
    "group_members": (("group_id", "user_id"), ("group_id", "user_id")),
    "folders": (("folder_id",), ("folder_id", "folder_name", "folder_path", "parent_folder_id",
                                 "inherit_permissions")),
    "folder_permissions": (("folder_permission_id",), ("folder_permission_id", "folder_id", "user_id", "group_id",
                                                       "folder_access_role", "secret_access_role")),
    "secrets": (("secret_id",), ("secret_id", "secret_name", "folder_id", "active", "inherits_permissions")),
    "secret_permissions": (("secret_permission_id",), ("secret_permission_id", "secret_id", "user_id", "group_id",
                                                       "secret_access_role")),
}


def _none_if_root(value: int | None) -> int | None:
    return None if value is None or value == -1 else value


def snapshot_from_organization(org: Organization) -> Snapshot:
    """The organization's truth, mapped to staging rows as the reconciliation contract describes them."""
    return {
        "users": [{"user_id": u["id"], "user_name": u["userName"], "domain_name": u["domainName"],
                   "enabled": u["enabled"]} for u in org.users()],
        "groups": [{"group_id": g["id"], "group_name": g["name"], "domain_id": _none_if_root(g["domainId"]),
                    "enabled": g["enabled"]} for g in org.groups()],
        "group_members": [{"group_id": g, "user_id": u} for g, u in org.group_members()],
        "folders": [{"folder_id": f["id"], "folder_name": f["folderName"], "folder_path": f["folderPath"],
                     "parent_folder_id": _none_if_root(f["parentFolderId"]),
                     "inherit_permissions": f["inheritPermissions"]} for f in org.folders()],
        "folder_permissions": [{"folder_permission_id": p["id"], "folder_id": p["folderId"], "user_id": p["userId"],
                                "group_id": p["groupId"], "folder_access_role": p["folderAccessRoleName"],
                                "secret_access_role": p["secretAccessRoleName"]} for p in org.folder_permissions()],
        "secrets": [{"secret_id": s["id"], "secret_name": s["name"], "folder_id": _none_if_root(s["folderId"]),
                     "active": s["active"], "inherits_permissions": s["inheritsPermissions"]}
                    for s in org.secrets()],
        "secret_permissions": [{"secret_permission_id": p["id"], "secret_id": p["secretId"], "user_id": p["userId"],
                                "group_id": p["groupId"], "secret_access_role": p["secretAccessRoleName"]}
                               for p in org.secret_permissions()],
    }


def copy_rows(engine: Engine, table: str, columns: tuple[str, ...], rows: list[tuple[Any, ...]]) -> None:
    raw = engine.raw_connection()
    try:
        cur = raw.cursor()
        with cur, cur.copy(f"COPY {table} ({', '.join(columns)}) FROM STDIN") as copy:  # type: ignore[attr-defined]
            for row in rows:
                copy.write_row(row)
        raw.commit()
    finally:
        raw.close()


def load_snapshot(engine: Engine, snapshot: Snapshot, instance: str = DEFAULT_INSTANCE) -> None:
    """Write the rows as the instance's, straight into staging tables holding none of that instance's rows
    (``deleted_at`` kept when a row carries it)."""
    for table, rows in snapshot.items():
        columns = TABLES[table][1] + ("deleted_at",)
        copy_rows(engine, f"ss_staging.{table}", (*columns, "instance"),
                  [(*tuple(row.get(c) for c in columns), instance) for row in rows])


def _key(table: str, row: Row) -> str:
    return ":".join(str(row[c]) for c in TABLES[table][0])


class History:
    """Successive snapshots of one instance written as reconciliation runs: staging rows merged (removals get
    deleted_at), one change_log row per difference, stamped with the run's time and the instance."""

    def __init__(self, engine: Engine, instance: str = DEFAULT_INSTANCE) -> None:
        self.engine = engine
        self.instance = instance
        self.current: dict[str, dict[str, Row]] = {table: {} for table in TABLES}
        self.seen: dict[str, set[str]] = {table: set() for table in TABLES}

    def run(self, snapshot: Snapshot, at: datetime) -> int:
        with self.engine.begin() as conn:
            run_id = conn.execute(sa.text(
                "INSERT INTO ss_staging.reconciliation_runs (started_at, finished_at, status, instance) "
                "VALUES (:at, :at, 'succeeded', :instance) RETURNING run_id"),
                {"at": at, "instance": self.instance}).scalar_one()
        changes: list[tuple[Any, ...]] = []
        for table, (_, columns) in TABLES.items():
            before = self.current[table]
            after = {_key(table, row): {c: row.get(c) for c in columns} for row in snapshot.get(table, [])}
            added = [k for k in after if k not in before]
            changed = [k for k in after if k in before and after[k] != before[k]]
            removed = [k for k in before if k not in after]
            copy_rows(self.engine, f"ss_staging.{table}",
                      (*columns, "first_seen_run_id", "last_changed_run_id", "instance"),
                      [(*tuple(after[k][c] for c in columns), run_id, run_id, self.instance) for k in added
                       if k not in self.seen[table]])
            with self.engine.begin() as conn:
                for k in added:
                    if k in self.seen[table]:  # back after a removal: the staging row is revived
                        self._update(conn, table, after[k], run_id)
                for k in changed:
                    self._update(conn, table, after[k], run_id)
                for k in removed:
                    conn.execute(sa.text(f"UPDATE ss_staging.{table} SET deleted_at = :at, "
                                         f"last_changed_run_id = :run WHERE {_where(table)}"),
                                 {**before[k], "at": at, "run": run_id, "instance": self.instance})
            for kind, keys in (("added", added), ("changed", changed), ("removed", removed)):
                for k in keys:
                    changes.append((run_id, table, k, kind,
                                    json.dumps(before[k]) if k in before else None,
                                    json.dumps(after[k]) if k in after else None, at, self.instance))
            self.current[table] = after
            self.seen[table].update(after)
        copy_rows(self.engine, "ss_staging.change_log",
                  ("run_id", "entity", "object_key", "change_type", "before", "after", "changed_at", "instance"),
                  changes)
        return int(run_id)

    def _update(self, conn: sa.Connection, table: str, row: Row, run_id: int) -> None:
        keys = TABLES[table][0]
        sets = ", ".join(f"{c} = :{c}" for c in TABLES[table][1] if c not in keys)
        conn.execute(sa.text(f"UPDATE ss_staging.{table} SET {sets + ', ' if sets else ''}deleted_at = NULL, "
                             f"last_changed_run_id = :run WHERE {_where(table)}"),
                     {**row, "run": run_id, "instance": self.instance})


def _where(table: str) -> str:
    """The staging key of a row of ``table``: the instance and the Secret Server ids, as bind parameters."""
    return " AND ".join(f"{c} = :{c}" for c in ("instance", *TABLES[table][0]))
