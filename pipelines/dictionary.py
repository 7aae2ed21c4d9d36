"""The data dictionary, docs/data-dictionary.md, generated from the database's own comments.

Every table, view, column and function of the ``ss_staging`` and ``igi`` schemas carries a COMMENT in the
migrations (sql/); this module reads them back from the catalog of a migrated database and writes them as
Markdown, followed by hand-written example queries for the questions analysts ask most. The comments stay
the single source; a test regenerates the file and fails when the committed copy differs.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from string import Template

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

SCHEMAS = ("ss_staging", "igi")
DEFAULT_PATH = Path(__file__).resolve().parents[1] / "docs" / "data-dictionary.md"
_KINDS = {"r": "table", "p": "table", "v": "view", "m": "materialized view"}

@dataclass(frozen=True)
class Example:
    """An example query for the dictionary: its question and SQL, with ``$name`` placeholders for the values an
    analyst puts in (the dictionary shows `EXAMPLE_VALUES`; tests and bench/ fill in values from their data)."""

    question: str
    sql: str

    def render(self, **values: object) -> str:
        """The SQL with the placeholders filled (``EXAMPLE_VALUES`` for any not given); values are SQL literals."""
        literals = {name: _literal(value) for name, value in {**EXAMPLE_VALUES, **values}.items()}
        return Template(self.sql).substitute(literals)


def _literal(value: object) -> str:
    if isinstance(value, bool) or value is None:
        raise TypeError("example values are numbers or text")
    if isinstance(value, int):
        return str(value)
    return "'" + str(value).replace("'", "''") + "'"


# The values the dictionary shows. ``at`` and ``until`` are timestamps with a time zone.
EXAMPLE_VALUES: dict[str, object] = {
    "instance": "default", "user_name": "jsmith", "user_id": 7, "secret_id": 42, "folder_path": "\\IT",
    "at": "2024-06-01 00:00+00", "until": "2024-07-01 00:00+00",
}

# Kept runnable and right: tests/analyst/test_examples.py runs every one against known data and checks its
# answer; bench/run.py times each at scale m.
EXAMPLES: list[Example] = [
    Example("Which secrets can a user reach, with which role, and why?", """\
SELECT secret_id, secret_name, folder_path, role, path_role, via, via_group_name, via_folder_path
FROM ss_staging.effective_access
WHERE instance = $instance AND lower(user_name) = lower($user_name)
ORDER BY folder_path, secret_name;"""),
    Example("Who can reach a secret, and through what?", """\
SELECT user_name, domain_name, user_enabled, role, via, via_group_name, via_folder_path
FROM ss_staging.effective_access
WHERE instance = $instance AND secret_id = $secret_id
ORDER BY user_name;"""),
    Example("One row per user and secret with the effective role, on every instance (enabled users only):", """\
SELECT DISTINCT instance, user_id, user_name, secret_id, secret_name, role
FROM ss_staging.effective_access
WHERE user_enabled;"""),
    Example("Who owns the secrets of a folder tree?", """\
SELECT DISTINCT user_name, secret_name, folder_path
FROM ss_staging.effective_access
WHERE instance = $instance AND role = 'Owner'
  AND (folder_path = $folder_path OR starts_with(folder_path, $folder_path || '\\'))
ORDER BY folder_path, secret_name;"""),
    Example("Who could reach a secret on a past date (rebuilt from the change log)?", """\
SELECT user_name, role, via, via_group_name
FROM ss_staging.effective_access_at($at)
WHERE instance = $instance AND secret_id = $secret_id;"""),
    Example("Who had direct access to a secret at a time (permission rows, groups not expanded)?", """\
SELECT holder_kind, user_name, group_name, secret_access_role, permission_kind, via_folder_id
FROM ss_staging.direct_access_at($at)
WHERE instance = $instance AND secret_id = $secret_id;"""),
    # effective_access_at rebuilds the whole picture from the change log: evaluate it once per distinct change
    # time (the CTE is materialized), never once per change-log row.
    Example("Since when has a user been able to reach a secret? (start of the current uninterrupted stretch, "
            "at change-log times)", """\
WITH reach AS MATERIALIZED (
    SELECT t.changed_at,
           EXISTS (SELECT 1 FROM ss_staging.effective_access_at(t.changed_at) AS a
                   WHERE a.instance = $instance AND a.user_id = $user_id AND a.secret_id = $secret_id) AS reachable
    FROM (SELECT DISTINCT changed_at FROM ss_staging.change_log WHERE instance = $instance) AS t
)
SELECT min(changed_at) AS reachable_since
FROM reach
WHERE reachable
  AND changed_at > coalesce((SELECT max(changed_at) FROM reach WHERE NOT reachable), '-infinity');"""),
    Example("Who gained access in the last reconciliation run?", """\
SELECT user_name, secret_name, folder_path, role, previous_role
FROM ss_staging.access_gained_last_run
WHERE instance = $instance
ORDER BY user_name;"""),
    Example("Who gained access between two dates?", """\
SELECT * FROM ss_staging.access_gained_between($at, $until) WHERE instance = $instance;"""),
    Example("Secrets nobody can reach, and orphan-like accounts:", """\
SELECT secret_id, secret_name, folder_path, latent_access FROM ss_staging.unreachable_secrets
WHERE instance = $instance;
SELECT user_name, domain_name, last_login FROM ss_staging.orphan_accounts
WHERE instance = $instance ORDER BY last_login NULLS FIRST;"""),
    Example("Owners of each folder, with the people behind owning groups:", """\
SELECT o.folder_path, o.owner_kind, coalesce(o.user_name, u.user_name) AS person, o.group_name
FROM ss_staging.folder_owners AS o
LEFT JOIN ss_staging.group_members AS m
       ON m.instance = o.instance AND m.group_id = o.group_id AND m.deleted_at IS NULL
LEFT JOIN ss_staging.users AS u
       ON u.instance = m.instance AND u.user_id = m.user_id AND u.deleted_at IS NULL
WHERE o.instance = $instance
ORDER BY o.folder_path;"""),
    Example("What did the last run change, object by object?", """\
SELECT entity, object_key, change_type, before, after
FROM ss_staging.change_log
WHERE run_id = (SELECT max(run_id) FROM ss_staging.reconciliation_runs
                WHERE instance = $instance AND status IN ('succeeded', 'partial') AND NOT dry_run)
ORDER BY change_id;"""),
]


def statements(sql: str) -> list[str]:
    """The statements of an example's SQL (the orphan question has two), without their semicolons."""
    return [part.strip() for part in sql.split(";") if part.strip()]


def _cell(text: str | None) -> str:
    return " ".join((text or "").split()).replace("|", "\\|")


def _relations(conn: Connection) -> list[sa.Row]:
    return list(conn.execute(sa.text("""
        SELECT n.nspname AS schema, c.relname AS name, c.relkind AS kind, c.oid,
               obj_description(c.oid, 'pg_class') AS comment
        FROM pg_class AS c JOIN pg_namespace AS n ON n.oid = c.relnamespace
        WHERE n.nspname = ANY(:schemas) AND c.relkind IN ('r', 'p', 'v', 'm')
        ORDER BY array_position(:schemas, n.nspname::text), c.relkind IN ('v', 'm'), c.relname"""),
        {"schemas": list(SCHEMAS)}))


def _columns(conn: Connection, oid: int) -> list[sa.Row]:
    return list(conn.execute(sa.text("""
        SELECT a.attname AS name, format_type(a.atttypid, a.atttypmod) AS type, a.attnotnull AS not_null,
               col_description(a.attrelid, a.attnum) AS comment
        FROM pg_attribute AS a
        WHERE a.attrelid = :oid AND a.attnum > 0 AND NOT a.attisdropped
        ORDER BY a.attnum"""), {"oid": oid}))


def _functions(conn: Connection) -> list[sa.Row]:
    return list(conn.execute(sa.text("""
        SELECT n.nspname AS schema, p.proname AS name, pg_get_function_identity_arguments(p.oid) AS args,
               pg_get_function_result(p.oid) AS result, obj_description(p.oid, 'pg_proc') AS comment
        FROM pg_proc AS p JOIN pg_namespace AS n ON n.oid = p.pronamespace
        WHERE n.nspname = ANY(:schemas) AND p.prokind = 'f'
        ORDER BY array_position(:schemas, n.nspname::text), p.proname, 3"""), {"schemas": list(SCHEMAS)}))


def generate_dictionary(engine: Engine) -> str:
    """The dictionary as Markdown, from the comments of the (migrated) database behind ``engine``."""
    out = [
        "# Data dictionary",
        "",
        "<!-- Generated by `ss-igi dictionary` from the COMMENTs in sql/; do not edit by hand. -->",
        "",
        "Every table, view and column of the `ss_staging` and `igi` schemas, from the comments the migrations "
        "put on them, then the functions, then example queries for the common questions. The effective-access "
        "rules are in README.md, \"Effective access\".",
        "",
    ]
    with engine.connect() as conn:
        schema_comments: dict[str, str | None] = dict(conn.execute(sa.text(
            "SELECT nspname, obj_description(oid, 'pg_namespace') FROM pg_namespace WHERE nspname = ANY(:s)"),
            {"s": list(SCHEMAS)}).all())
        relations = _relations(conn)
        functions = _functions(conn)
        for schema in SCHEMAS:
            out += [f"## Schema `{schema}`", "", _cell(schema_comments.get(schema)), ""]
            for rel in (r for r in relations if r.schema == schema):
                out += [f"### `{schema}.{rel.name}` ({_KINDS[rel.kind]})", "", _cell(rel.comment), "",
                        "| Column | Type | Description |", "| --- | --- | --- |"]
                for col in _columns(conn, rel.oid):
                    type_ = col.type + (" not null" if col.not_null and rel.kind in ("r", "p") else "")
                    out.append(f"| `{col.name}` | {type_} | {_cell(col.comment)} |")
                out.append("")
        out += ["## Functions", "", "| Function | Returns | Description |", "| --- | --- | --- |"]
        for fn in functions:
            out.append(f"| `{fn.schema}.{fn.name}({fn.args})` | {_cell(fn.result)} | {_cell(fn.comment)} |")
        out.append("")
    out += ["## Example queries", ""]
    for example in EXAMPLES:
        out += [f"**{example.question}**", "", "```sql", example.render(), "```", ""]
    return "\n".join(out).rstrip("\n") + "\n"


def write_dictionary(engine: Engine, path: Path = DEFAULT_PATH) -> bool:
    """Write the dictionary to ``path``; True when the file changed."""
    text = generate_dictionary(engine)
    if path.exists() and path.read_text(encoding="utf-8") == text:
        return False
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return True
