"""The data dictionary: generated from the database's comments, committed in sync, and every analyst object
documented (test_examples.py checks its example queries' answers)."""

from __future__ import annotations

import sqlalchemy as sa

from pipelines.cli import main
from pipelines.dictionary import DEFAULT_PATH, generate_dictionary


def test_the_committed_dictionary_matches_the_database_comments(igi_engine):
    assert DEFAULT_PATH.read_text(encoding="utf-8") == generate_dictionary(igi_engine), (
        "docs/data-dictionary.md is out of date: run `ss-igi dictionary` and commit it"
    )


def test_every_function_of_the_schemas_is_commented(igi_engine):
    with igi_engine.connect() as conn:
        bare = conn.execute(sa.text("""
            SELECT p.oid::regprocedure::text FROM pg_proc AS p JOIN pg_namespace AS n ON n.oid = p.pronamespace
            WHERE n.nspname IN ('ss_staging', 'igi') AND obj_description(p.oid, 'pg_proc') IS NULL""")).scalars().all()
    assert bare == []


def test_the_dictionary_lists_every_analyst_view_column(igi_engine):
    text = generate_dictionary(igi_engine)
    for view in ("effective_access", "folder_owners", "orphan_accounts", "unreachable_secrets",
                 "access_gained_last_run"):
        assert f"### `ss_staging.{view}` (view)" in text
    assert "| `via_folder_id` | integer | Folder whose permission rows grant this path" in text


def test_cli_writes_the_file_and_check_tells_when_it_is_stale(igi_database_url, monkeypatch, tmp_path, capsys):
    monkeypatch.setenv("IGI_DATABASE_URL", igi_database_url)
    target = tmp_path / "dictionary.md"
    assert main(["dictionary", "--output", str(target)]) == 0
    assert target.read_text(encoding="utf-8") == DEFAULT_PATH.read_text(encoding="utf-8")
    assert main(["dictionary", "--check", "--output", str(target)]) == 0
    target.write_text("stale\n", encoding="utf-8")
    assert main(["dictionary", "--check", "--output", str(target)]) == 1
    assert "out of date" in capsys.readouterr().err

