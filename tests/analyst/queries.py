"""Reading the analyst SQL objects back in the reference's shapes."""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from tests.analyst.reference import Path

PATH_COLUMNS = "user_id, secret_id, role, path_role, via, via_permission_id, via_group_id, via_folder_id"
ALL_COLUMNS = ("user_id, user_name, domain_name, user_enabled, secret_id, secret_name, secret_active, folder_id, "
               "folder_path, role, path_role, via, via_permission_id, via_group_id, via_group_name, "
               "via_group_enabled, via_folder_id, via_folder_path, instance")


def _source(as_of: datetime | None) -> str:
    return "ss_staging.effective_access" if as_of is None else "ss_staging.effective_access_at(:as_of)"


def paths(engine: Engine, as_of: datetime | None = None) -> set[Path]:
    """Rows of ss_staging.effective_access (or of effective_access_at(as_of)), as reference paths."""
    with engine.connect() as conn:
        rows = conn.execute(sa.text(f"SELECT {PATH_COLUMNS} FROM {_source(as_of)}"), {"as_of": as_of}).all()
    result = {tuple(row) for row in rows}
    assert len(result) == len(rows), "a path appears twice"
    return result


def paths_per_instance(engine: Engine, as_of: datetime | None = None) -> dict[str, set[Path]]:
    """Rows of every instance, as reference paths by instance."""
    with engine.connect() as conn:
        rows = conn.execute(sa.text(f"SELECT instance, {PATH_COLUMNS} FROM {_source(as_of)}"),
                            {"as_of": as_of}).all()
    result: dict[str, set[Path]] = defaultdict(set)
    for instance, *path in rows:
        result[instance].add(tuple(path))  # type: ignore[arg-type]
    assert sum(map(len, result.values())) == len(rows), "a path appears twice"
    return dict(result)


def roles(engine: Engine, as_of: datetime | None = None) -> dict[tuple[int, int], str]:
    return {(u, s): role for u, s, role, *_ in paths(engine, as_of)}


def differences_from_the_rules(conn: sa.Connection, where: str = "true") -> int:
    """Rows, all columns counted, in which ss_staging.effective_access (flat joins over the staging tables)
    and ss_staging.effective_access_at(NULL) (the set-based rules) differ, under the filter ``where``."""
    return int(conn.execute(sa.text(f"""
        SELECT count(*) FROM (
            (SELECT {ALL_COLUMNS} FROM ss_staging.effective_access WHERE {where}
             EXCEPT ALL SELECT {ALL_COLUMNS} FROM ss_staging.effective_access_at(NULL) WHERE {where})
            UNION ALL
            (SELECT {ALL_COLUMNS} FROM ss_staging.effective_access_at(NULL) WHERE {where}
             EXCEPT ALL SELECT {ALL_COLUMNS} FROM ss_staging.effective_access WHERE {where})) AS d""")).scalar_one())
