"""ss_staging.effective_access reads the folders' permission sources from a materialized view that follows every
change to ss_staging.folders; after any such change it agrees row for row with the set-based rules
(ss_staging.effective_access_at(NULL)), and a filter on one secret or one user gives that part of it."""

from __future__ import annotations

import sqlalchemy as sa

from simulator.generator import generate
from tests.analyst.queries import differences_from_the_rules
from tests.analyst.staging import load_snapshot, snapshot_from_organization


def test_the_view_follows_inheritance_changes_removals_and_moves_of_folders(igi_engine):
    load_snapshot(igi_engine, snapshot_from_organization(generate("s", 42)))
    with igi_engine.begin() as conn:
        assert differences_from_the_rules(conn) == 0
        top = conn.execute(sa.text(
            "SELECT folder_id FROM ss_staging.folders WHERE parent_folder_id IS NULL ORDER BY 1")).scalars().all()
        inheriting = conn.execute(sa.text("""
            SELECT folder_id FROM ss_staging.folders WHERE inherit_permissions AND parent_folder_id IS NOT NULL
            ORDER BY folder_id LIMIT 3""")).scalars().all()
        assert len(top) >= 2 and len(inheriting) == 3
    changes = [
        ("UPDATE ss_staging.folders SET inherit_permissions = false WHERE folder_id = :a", {"a": inheriting[0]}),
        ("UPDATE ss_staging.folders SET deleted_at = now() WHERE folder_id = :a", {"a": top[0]}),
        ("UPDATE ss_staging.folders SET parent_folder_id = :p WHERE folder_id = :a", {"a": inheriting[1], "p": top[1]}),
        ("DELETE FROM ss_staging.folders WHERE folder_id = :a", {"a": inheriting[2]}),
    ]
    for statement, values in changes:
        with igi_engine.begin() as conn:
            before = conn.execute(sa.text("SELECT count(*) FROM ss_staging.effective_access")).scalar_one()
            conn.execute(sa.text(statement), values)
            assert differences_from_the_rules(conn) == 0, statement
            assert conn.execute(sa.text("SELECT count(*) FROM ss_staging.effective_access")).scalar_one() != before \
                or statement.startswith("UPDATE ss_staging.folders SET parent_folder_id"), statement


def test_a_filter_on_one_secret_or_one_user_gives_that_part_of_the_view(igi_engine):
    load_snapshot(igi_engine, snapshot_from_organization(generate("s", 42)))
    with igi_engine.connect() as conn:
        secret_id, user_id, user_name = conn.execute(sa.text("""
            SELECT secret_id, user_id, user_name FROM ss_staging.effective_access
            ORDER BY secret_id, user_id LIMIT 1 OFFSET 40""")).one()
        assert differences_from_the_rules(conn, f"secret_id = {int(secret_id)}") == 0
        assert differences_from_the_rules(conn, f"user_id = {int(user_id)}") == 0
        name = user_name.replace("'", "''")
        assert differences_from_the_rules(conn, f"lower(user_name) = lower('{name}')") == 0
        rows = conn.execute(sa.text("SELECT count(*) FROM ss_staging.effective_access WHERE secret_id = :s"),
                            {"s": secret_id}).scalar_one()
        assert rows > 0
