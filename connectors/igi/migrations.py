"""Plain-SQL migrations: numbered files in ``sql/``, applied in order, each in its own transaction.

Hand-written rather than a library: yoyo-migrations runs plain SQL but records only each migration's id, so
it cannot notice an applied file that was edited later; Alembic wants Python revision files; dbmate and
Flyway are not Python. The whole runner is this module: a checksum per file, an advisory lock so that two
processes upgrading at once apply each file once, and a refusal when history and files disagree.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from pathlib import Path

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

SQL_DIR = Path(__file__).resolve().parents[2] / "sql"
_FILE_NAME = re.compile(r"^(\d{3})_[a-z0-9_]+\.sql$")
_LOCK_KEY = 0x55_16_1A_00  # arbitrary, constant: the advisory lock every ss-igi upgrade takes

_BOOKKEEPING = """
CREATE SCHEMA IF NOT EXISTS ss_staging;
CREATE TABLE IF NOT EXISTS ss_staging.schema_migrations (
    version     integer PRIMARY KEY,
    file_name   text NOT NULL,
    checksum    text NOT NULL,
    applied_at  timestamptz NOT NULL DEFAULT now()
);
COMMENT ON TABLE ss_staging.schema_migrations IS 'SQL migrations applied to this database (ss-igi db upgrade).';
COMMENT ON COLUMN ss_staging.schema_migrations.version IS 'Migration number, the file name''s prefix.';
COMMENT ON COLUMN ss_staging.schema_migrations.file_name IS 'Migration file in sql/.';
COMMENT ON COLUMN ss_staging.schema_migrations.checksum IS 'SHA-256 of the file as applied; an edited file is refused.';
COMMENT ON COLUMN ss_staging.schema_migrations.applied_at IS 'When the migration was applied.';
"""


class MigrationError(RuntimeError):
    """The database's migration history and the files in sql/ disagree."""


@dataclass(frozen=True)
class Migration:
    """One numbered file of ``sql/``: its number, its name and its text."""

    version: int
    file_name: str
    sql: str

    @property
    def checksum(self) -> str:
        """SHA-256 of the file's text, recorded when it is applied so that a later edit is noticed."""
        return hashlib.sha256(self.sql.encode()).hexdigest()


@dataclass(frozen=True)
class MigrationStatus:
    """Where a database stands: the numbers already applied, and the migrations still to apply, in order."""

    applied: list[int]
    pending: list[Migration]


def discover(sql_dir: Path = SQL_DIR) -> list[Migration]:
    """The migrations in ``sql_dir``, by number; MigrationError for a misnamed file or a number used twice."""
    found: dict[int, Migration] = {}
    for path in sorted(sql_dir.glob("*.sql")):
        match = _FILE_NAME.match(path.name)
        if not match:
            raise MigrationError(f"{path.name}: migration files are named NNN_lower_snake.sql")
        version = int(match.group(1))
        if version in found:
            raise MigrationError(f"{path.name} and {found[version].file_name} share number {version:03d}")
        # Line endings normalized so that a checkout with CRLF has the same checksum.
        sql = path.read_text(encoding="utf-8").replace("\r\n", "\n")
        found[version] = Migration(version, path.name, sql)
    return [found[v] for v in sorted(found)]


def _verify_history(conn: Connection, migrations: list[Migration]) -> MigrationStatus:
    by_version = {m.version: m for m in migrations}
    applied = conn.execute(
        sa.text("SELECT version, file_name, checksum FROM ss_staging.schema_migrations ORDER BY version")
    ).all()
    for version, file_name, checksum in applied:
        migration = by_version.get(version)
        if migration is None:
            raise MigrationError(
                f"migration {file_name} is applied to this database but missing from sql/; "
                "this database was upgraded by a newer ss-igi"
            )
        if migration.checksum != checksum:
            raise MigrationError(
                f"migration {file_name} was changed after it was applied "
                f"(checksum {migration.checksum[:12]} now, {checksum[:12]} when applied); "
                "restore the file and put the change in a new migration"
            )
    done = {row[0] for row in applied}
    return MigrationStatus(sorted(done), [m for m in migrations if m.version not in done])


def status(engine: Engine, sql_dir: Path = SQL_DIR) -> MigrationStatus:
    """Applied and pending migrations, raising MigrationError if an applied file changed."""
    migrations = discover(sql_dir)
    with engine.connect() as conn:
        present = conn.execute(sa.text("SELECT to_regclass('ss_staging.schema_migrations')")).scalar()
        if present is None:
            return MigrationStatus([], migrations)
        return _verify_history(conn, migrations)


def upgrade(engine: Engine, sql_dir: Path = SQL_DIR, *, through: int | None = None) -> list[Migration]:
    """Apply pending migrations in order (only those numbered up to ``through``, when given: a database as an
    older release left it, e.g. for an upgrade test); return those applied (empty when up to date)."""
    migrations = discover(sql_dir)
    applied: list[Migration] = []
    with engine.connect() as conn:
        # A session lock held across the per-file transactions: concurrent upgraders wait, then see no work.
        conn.execute(sa.text("SELECT pg_advisory_lock(:k)"), {"k": _LOCK_KEY})
        conn.commit()
        try:
            with conn.begin():
                _run_script(conn, _BOOKKEEPING)
                pending = [m for m in _verify_history(conn, migrations).pending
                           if through is None or m.version <= through]
            for migration in pending:
                with conn.begin():
                    try:
                        _run_script(conn, migration.sql)
                    except Exception as exc:
                        raise MigrationError(f"migration {migration.file_name} failed: {exc}") from exc
                    conn.execute(
                        sa.text(
                            "INSERT INTO ss_staging.schema_migrations (version, file_name, checksum) "
                            "VALUES (:v, :f, :c)"
                        ),
                        {"v": migration.version, "f": migration.file_name, "c": migration.checksum},
                    )
                applied.append(migration)
        finally:
            conn.execute(sa.text("SELECT pg_advisory_unlock(:k)"), {"k": _LOCK_KEY})
            conn.commit()
    return applied


def _run_script(conn: Connection, sql: str) -> None:
    # psycopg runs a multi-statement script when given no parameters; going through the DBAPI cursor keeps
    # SQLAlchemy from treating ':' or '%' in the SQL as placeholders.
    cursor = conn.connection.driver_connection.cursor()  # type: ignore[union-attr]
    try:
        cursor.execute(sql)
    finally:
        cursor.close()
