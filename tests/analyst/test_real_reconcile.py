"""The analyst layer on staging and change log written by the real reconciliation (run_reconcile against the
simulator over HTTP), not by the tests' stand-in: the view, the past, and what the last run added."""

from __future__ import annotations

import sqlalchemy as sa

from pipelines.reconcile import run_reconcile
from tests.analyst import queries
from tests.analyst.reference import RANK, effective_paths, strongest_roles
from tests.analyst.staging import snapshot_from_organization
from tests.analyst.test_as_of import change_secret_server
from tests.reconcile.helpers import make_client


def test_real_runs_give_the_view_the_past_and_the_gains(igi_engine, simulator):
    org = simulator.org
    client = make_client(simulator)
    try:
        first_run = run_reconcile(igi_engine, client)
        first = snapshot_from_organization(org)
        assert queries.paths(igi_engine) == effective_paths(first)

        change_secret_server(org)
        second_run = run_reconcile(igi_engine, client, max_removals=None, max_removal_percent=None)
        second = snapshot_from_organization(org)
    finally:
        client.close()
    assert first_run.status == second_run.status == "succeeded"

    assert queries.paths(igi_engine) == effective_paths(second)
    assert queries.paths(igi_engine, second_run.finished_at) == effective_paths(second)
    assert queries.paths(igi_engine, first_run.finished_at) == effective_paths(first)

    old, new = strongest_roles(first), strongest_roles(second)
    expected = {(u, s, role, old.get((u, s))) for (u, s), role in new.items()
                if (u, s) not in old or RANK[role.lower()] > RANK[old[(u, s)].lower()]}
    with igi_engine.connect() as conn:
        gained = set(conn.execute(sa.text(
            "SELECT user_id, secret_id, role, previous_role FROM ss_staging.access_gained_last_run")).all())
    assert gained == expected and expected
