"""The data dictionary's example queries (pipelines/dictionary.py), timed on the database a reconciliation
loaded, with values taken from its data: a user who holds a secret permission, that secret, a top-level folder,
and the first run's finish as the past time."""

from __future__ import annotations

import time
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from pipelines.dictionary import EXAMPLES, statements


def example_values(engine: Engine) -> dict[str, Any]:
    """Values for the examples' placeholders, from the loaded data."""
    with engine.connect() as conn:
        user_id, user_name, secret_id = conn.execute(sa.text("""
            SELECT p.user_id, u.user_name, p.secret_id
            FROM ss_staging.secret_permissions AS p JOIN ss_staging.users AS u USING (instance, user_id)
            WHERE p.instance = 'default' AND p.deleted_at IS NULL AND u.deleted_at IS NULL
            ORDER BY p.secret_permission_id LIMIT 1""")).one()
        folder_path = conn.execute(sa.text("""
            SELECT folder_path FROM ss_staging.folders
            WHERE instance = 'default' AND parent_folder_id IS NULL AND deleted_at IS NULL
            ORDER BY folder_id LIMIT 1""")).scalar_one()
        first_run = conn.execute(sa.text(
            "SELECT min(finished_at) FROM ss_staging.reconciliation_runs WHERE status = 'succeeded'")).scalar_one()
        now = conn.execute(sa.text("SELECT now()")).scalar_one()
    return {"instance": "default", "user_id": user_id, "user_name": user_name, "secret_id": secret_id,
            "folder_path": folder_path, "at": first_run.isoformat(), "until": now.isoformat()}


def time_examples(engine: Engine) -> dict[str, Any]:
    """Each example's wall time (all its statements, rows fetched) and row count, in the dictionary's order."""
    values = example_values(engine)
    with engine.connect() as conn:
        change_times = conn.execute(sa.text("SELECT count(DISTINCT changed_at) FROM ss_staging.change_log")).scalar()
        change_rows = conn.execute(sa.text("SELECT count(*) FROM ss_staging.change_log")).scalar()
    results = []
    raw = engine.raw_connection()
    try:
        for example in EXAMPLES:
            started = time.perf_counter()
            rows = 0
            for statement in statements(example.render(**values)):
                with raw.cursor() as cur:
                    cur.execute(statement)  # the values are literals in the text
                    rows += len(cur.fetchall())
            results.append({"question": example.question, "wall_s": round(time.perf_counter() - started, 3),
                            "rows": rows})
        raw.rollback()
    finally:
        raw.close()
    return {"values": values, "change_log_rows": change_rows, "change_log_times": change_times,
            "queries": results}
