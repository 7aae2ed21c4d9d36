"""Reading the analyst SQL objects back in the reference's shapes."""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from tests.analyst.reference import Path

PATH_COLUMNS = "user_id, secret_id, role, path_role, via, via_permission_id, via_group_id, via_folder_id"


def paths(engine: Engine, as_of: datetime | None = None) -> set[Path]:
    """Rows of ss_staging.effective_access (or of effective_access_at(as_of)), as reference paths."""
    source = "ss_staging.effective_access" if as_of is None else "ss_staging.effective_access_at(:as_of)"
    with engine.connect() as conn:
        rows = conn.execute(sa.text(f"SELECT {PATH_COLUMNS} FROM {source}"), {"as_of": as_of}).all()
    result = {tuple(row) for row in rows}
    assert len(result) == len(rows), "a path appears twice"
    return result


def roles(engine: Engine, as_of: datetime | None = None) -> dict[tuple[int, int], str]:
    return {(u, s): role for u, s, role, *_ in paths(engine, as_of)}
