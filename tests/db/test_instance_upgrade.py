"""An existing single-instance database upgrades in place to several instances (sql/014_instances.sql): a database
as the release before instances left it (migrated through 013) and holding what a reconciliation and a provisioning
request wrote, upgraded to head, has every row in the instance ``default``, the declared keys, and a reconcile of
the default instance afterwards finds nothing to change."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from connectors.igi import create_engine, upgrade
from connectors.igi.entities import ENTITIES
from connectors.igi.migrations import discover, status
from pipelines.reconcile import run_reconcile
from tests.reconcile.helpers import COLUMNS, full_dump, make_client, staging, truth

LAST_SINGLE_INSTANCE_MIGRATION = 13
INSTANCE_TABLES = [*(f"ss_staging.{name}" for name in ENTITIES), "ss_staging.reconciliation_runs",
                   "ss_staging.rejects", "ss_staging.change_log"]


@pytest.fixture
def old_engine(empty_database_url: str) -> Iterator[Engine]:
    engine = create_engine(empty_database_url)
    upgrade(engine, through=LAST_SINGLE_INSTANCE_MIGRATION)
    yield engine
    engine.dispose()


def _populate_as_a_single_instance_release(engine: Engine, org) -> None:
    """What ss-igi before instances wrote: a succeeded run with its staging rows (the simulator's truth), a change
    log row per row, a reject and IGI events; a provisioning request with its staging write-back's change log."""
    rows = truth(org)
    with engine.begin() as conn:
        run_id = conn.execute(sa.text(
            "INSERT INTO ss_staging.reconciliation_runs (started_at, finished_at, status, parameters, stats) "
            "VALUES (now() - interval '1 day', now() - interval '1 day', 'succeeded', '{}', '{}') "
            "RETURNING run_id")).scalar_one()
        for name, columns in COLUMNS.items():
            conn.execute(sa.text(
                f"INSERT INTO ss_staging.{name} ({', '.join(columns)}, first_seen_run_id, first_seen_at, "
                f"last_changed_run_id, last_changed_at) VALUES ({', '.join(':' + c for c in columns)}, :run, "
                f"now() - interval '1 day', :run, now() - interval '1 day')"),
                [{**row, "run": run_id} for row in rows[name].values()])
            key_text = " || ':' || ".join(f"{k}::text" for k in ENTITIES[name].key)
            as_json = ", ".join(f"'{c}', {c}" for c in columns)
            conn.execute(sa.text(
                f"INSERT INTO ss_staging.change_log (run_id, entity, object_key, change_type, after) "
                f"SELECT :run, '{name}', {key_text}, 'added', "
                f"jsonb_build_object({as_json}) FROM ss_staging.{name}"),
                {"run": run_id})
        conn.execute(sa.text(
            "INSERT INTO ss_staging.rejects (run_id, entity, source_id, reason, record) "
            "VALUES (:run, 'users', 'x', 'missing key id', '{\"userName\": \"x\"}')"), {"run": run_id})
        conn.execute(sa.text(
            "INSERT INTO igi.event_target (run_id, code, operation, attributes) VALUES (:run, 'a.user', 10, '{}')"),
            {"run": run_id})
        event_id = conn.execute(sa.text(
            "INSERT INTO igi.event_out (operation, code, state) VALUES (7, 'a.user', 2) RETURNING event_id")
        ).scalar_one()
        conn.execute(sa.text(
            "INSERT INTO ss_staging.change_log (run_id, event_id, entity, object_key, change_type, before, after) "
            "VALUES (NULL, :e, 'users', '1', 'changed', '{}', '{}')"), {"e": event_id})


def test_a_populated_single_instance_database_upgrades_in_place_into_the_default_instance(
        old_engine, simulator, sim_org):
    assert status(old_engine).applied == [m.version for m in discover()
                                          if m.version <= LAST_SINGLE_INSTANCE_MIGRATION]
    _populate_as_a_single_instance_release(old_engine, sim_org)
    with old_engine.connect() as conn:
        counts = {t: conn.execute(sa.text(f"SELECT count(*) FROM {t}")).scalar_one() for t in INSTANCE_TABLES}

    assert [m.version for m in upgrade(old_engine)] == [m.version for m in discover()
                                                        if m.version > LAST_SINGLE_INSTANCE_MIGRATION]

    inspector = sa.inspect(old_engine)
    with old_engine.connect() as conn:
        for table in INSTANCE_TABLES:
            by_instance = dict(conn.execute(sa.text(f"SELECT instance, count(*) FROM {table} GROUP BY 1")).all())
            assert by_instance == {"default": counts[table]}, table
        assert conn.execute(sa.text("SELECT target FROM igi.event_out")).scalar_one() is None
    for name, entity in ENTITIES.items():
        assert inspector.get_pk_constraint(name, schema="ss_staging")["constrained_columns"] == list(
            entity.staging_key), name
    assert staging(old_engine, instance="default") == truth(sim_org)

    before = full_dump(old_engine)
    client = make_client(simulator)
    try:
        summary = run_reconcile(old_engine, client)
    finally:
        client.close()
    assert summary.ok and summary.instance == "default", summary.reason()
    for name, stats in summary.stats.items():
        assert (stats.added, stats.changed, stats.removed, stats.unchanged) == (0, 0, 0, stats.scanned), name
    assert summary.events == {}
    assert full_dump(old_engine) == before  # 0 rows written: nothing but the run record
