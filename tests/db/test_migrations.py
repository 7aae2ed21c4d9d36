"""The migration runner, against a real PostgreSQL: creates everything with comments, is idempotent,
and refuses a history that disagrees with the files."""

from __future__ import annotations

import shutil
import threading
from pathlib import Path

import pytest
import sqlalchemy as sa

from connectors.igi import MigrationError, create_engine, upgrade
from connectors.igi.entities import ENTITIES, INSTANCE_COLUMN, SQL_TYPES
from connectors.igi.migrations import SQL_DIR, discover, status

STAGING_TABLES = {
    "users", "groups", "group_members", "folders", "folder_permissions", "secrets", "secret_permissions",
}
OTHER_STAGING_TABLES = {"reconciliation_runs", "rejects", "change_log", "schema_migrations"}
IGI_TABLES = {"event_target", "event_out"}


def _tables(engine: sa.Engine, schema: str) -> set[str]:
    return set(sa.inspect(engine).get_table_names(schema=schema))


def _catalog_snapshot(engine: sa.Engine) -> list[tuple]:
    with engine.connect() as conn:
        return conn.execute(sa.text("""
            SELECT c.table_schema, c.table_name, c.column_name, c.data_type, c.is_nullable
            FROM information_schema.columns c
            WHERE c.table_schema IN ('ss_staging', 'igi')
            ORDER BY 1, 2, 3""")).all()


def test_upgrade_on_empty_database_creates_both_schemas_and_every_table(empty_database_url):
    engine = create_engine(empty_database_url)
    applied = upgrade(engine)
    assert [m.file_name for m in applied] == [m.file_name for m in discover()]
    assert _tables(engine, "ss_staging") == STAGING_TABLES | OTHER_STAGING_TABLES
    assert _tables(engine, "igi") == IGI_TABLES
    engine.dispose()


def test_every_staging_object_table_has_its_entity_key_and_deleted_at(igi_engine):
    inspector = sa.inspect(igi_engine)
    keys = {
        "users": ["user_id"], "groups": ["group_id"], "group_members": ["group_id", "user_id"],
        "folders": ["folder_id"], "folder_permissions": ["folder_permission_id"], "secrets": ["secret_id"],
        "secret_permissions": ["secret_permission_id"],
    }
    for table, key in keys.items():
        assert inspector.get_pk_constraint(table, schema="ss_staging")["constrained_columns"] == ["instance", *key]
        columns = {c["name"] for c in inspector.get_columns(table, schema="ss_staging")}
        assert {"instance", "deleted_at", "first_seen_at", "last_changed_at"} <= columns, table


BOOKKEEPING = {"first_seen_run_id", "first_seen_at", "last_changed_run_id", "last_changed_at", "deleted_at"}
SQL_TYPE_NAMES = {"integer": "integer", "text": "text", "boolean": "boolean", "timestamptz": "timestamp with time zone"}


def test_every_entity_declaration_matches_its_migrated_table(igi_engine):
    """The migrations are the schema's source of truth: each declaration names exactly its table's data columns
    (besides the instance and the bookkeeping), with their SQL types, and its staging key is the table's primary
    key."""
    inspector = sa.inspect(igi_engine)
    assert set(ENTITIES) == STAGING_TABLES
    for name, entity in ENTITIES.items():
        with igi_engine.connect() as conn:
            types = dict(conn.execute(sa.text("""
                SELECT a.attname, format_type(a.atttypid, a.atttypmod) FROM pg_attribute a
                WHERE a.attrelid = CAST(:t AS regclass) AND a.attnum > 0 AND NOT a.attisdropped"""),
                {"t": f"ss_staging.{name}"}).all())
        declared = {c.name: SQL_TYPE_NAMES[SQL_TYPES[c.kind]] for c in entity.columns}
        assert {c: types.get(c) for c in declared} == declared, name
        assert types[INSTANCE_COLUMN] == "text", name
        assert set(types) - BOOKKEEPING - {INSTANCE_COLUMN} == set(declared), f"{name}: columns the declaration lacks"
        assert inspector.get_pk_constraint(name, schema="ss_staging")["constrained_columns"] == list(entity.staging_key)


def test_every_table_and_column_carries_a_comment(igi_engine):
    with igi_engine.connect() as conn:
        uncommented = conn.execute(sa.text("""
            SELECT n.nspname || '.' || c.relname || coalesce('.' || a.attname, '')
            FROM pg_class c
            JOIN pg_namespace n ON n.oid = c.relnamespace
            LEFT JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped
            WHERE n.nspname IN ('ss_staging', 'igi') AND c.relkind IN ('r', 'v', 'm', 'p')
              AND coalesce(col_description(c.oid, a.attnum), obj_description(c.oid, 'pg_class')) IS NULL
              OR (n.nspname IN ('ss_staging', 'igi') AND c.relkind IN ('r', 'v', 'm', 'p')
                  AND a.attnum IS NOT NULL AND col_description(c.oid, a.attnum) IS NULL)
        """)).scalars().all()
    assert uncommented == []


def test_second_upgrade_changes_nothing(empty_database_url):
    engine = create_engine(empty_database_url)
    upgrade(engine)
    before = _catalog_snapshot(engine)
    with engine.connect() as conn:
        history = conn.execute(sa.text("SELECT * FROM ss_staging.schema_migrations ORDER BY 1")).all()
    assert upgrade(engine) == []
    assert _catalog_snapshot(engine) == before
    with engine.connect() as conn:
        assert conn.execute(sa.text("SELECT * FROM ss_staging.schema_migrations ORDER BY 1")).all() == history
    assert status(engine).pending == []
    engine.dispose()


@pytest.fixture
def sql_copy(tmp_path) -> Path:
    target = tmp_path / "sql"
    shutil.copytree(SQL_DIR, target)
    return target


def test_a_migration_changed_after_it_was_applied_is_refused(empty_database_url, sql_copy):
    engine = create_engine(empty_database_url)
    upgrade(engine, sql_copy)
    tampered = sql_copy / "002_runs_rejects_changes.sql"
    tampered.write_text(tampered.read_text() + "\nALTER TABLE ss_staging.rejects ADD COLUMN oops int;\n")
    (sql_copy / "099_later.sql").write_text("CREATE TABLE ss_staging.later (x int);")

    changed = r"002_runs_rejects_changes\.sql was changed after it was applied"
    with pytest.raises(MigrationError, match=changed):
        upgrade(engine, sql_copy)
    with pytest.raises(MigrationError):
        status(engine, sql_copy)
    assert "later" not in _tables(engine, "ss_staging"), "nothing may be applied past a tampered history"
    engine.dispose()


def test_an_applied_migration_missing_from_disk_is_refused(empty_database_url, sql_copy):
    engine = create_engine(empty_database_url)
    upgrade(engine, sql_copy)
    (sql_copy / "003_igi_events.sql").unlink()
    with pytest.raises(MigrationError, match=r"003_igi_events\.sql is applied to this database but missing"):
        upgrade(engine, sql_copy)
    engine.dispose()


def test_a_failing_migration_is_rolled_back_and_not_recorded(empty_database_url, sql_copy):
    engine = create_engine(empty_database_url)
    upgrade(engine, sql_copy)
    (sql_copy / "999_broken.sql").write_text(
        "CREATE TABLE ss_staging.half_done (x int);\nSELECT * FROM no_such_table;\n"
    )
    with pytest.raises(MigrationError, match=r"999_broken\.sql failed: .*no_such_table"):
        upgrade(engine, sql_copy)
    assert "half_done" not in _tables(engine, "ss_staging")
    assert [m.file_name for m in status(engine, sql_copy).pending] == ["999_broken.sql"]
    engine.dispose()


def test_concurrent_upgrades_apply_each_file_once(empty_database_url):
    engines = [create_engine(empty_database_url) for _ in range(3)]
    results: list[list[str]] = []
    errors: list[BaseException] = []

    def run(engine: sa.Engine) -> None:
        try:
            results.append([m.file_name for m in upgrade(engine)])
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(e,)) for e in engines]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    applied = sorted(name for names in results for name in names)
    assert applied == sorted(m.file_name for m in discover())
    for engine in engines:
        engine.dispose()


def test_badly_named_migration_files_are_refused(sql_copy):
    (sql_copy / "5_Bad-Name.sql").write_text("SELECT 1;")
    with pytest.raises(MigrationError, match="NNN_lower_snake"):
        discover(sql_copy)
