"""The analyst layer on staging and change log written by the real reconciliation (run_reconcile against the
simulator over HTTP), not by the tests' stand-in: the view, the past, and what the last run added; with one
instance and with two."""

from __future__ import annotations

import sqlalchemy as sa

from pipelines.reconcile import run_reconcile
from simulator.generator import generate
from tests.analyst import queries
from tests.analyst.reference import RANK, effective_paths, effective_paths_per_instance, strongest_roles
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


def test_two_instances_with_colliding_ids_reconciled_for_real(igi_engine, make_simulator):
    """Two simulators (ids 1.. in both) reconciled into one database as instances default and dr, then dr
    changes: the view, the past and the gains of each instance are its own simulator's."""
    orgs = {"default": generate("s", 42), "dr": generate("s", 7)}
    clients = {name: make_client(make_simulator(org)) for name, org in orgs.items()}
    try:
        first = {name: run_reconcile(igi_engine, client, instance=name) for name, client in clients.items()}
        pictures = {name: snapshot_from_organization(org) for name, org in orgs.items()}
        assert queries.paths_per_instance(igi_engine) == effective_paths_per_instance(pictures)

        change_secret_server(orgs["dr"])
        second = run_reconcile(igi_engine, clients["dr"], instance="dr", max_removals=None,
                               max_removal_percent=None)
    finally:
        for client in clients.values():
            client.close()
    assert {s.status for s in (*first.values(), second)} == {"succeeded"}
    changed = snapshot_from_organization(orgs["dr"])

    assert queries.paths_per_instance(igi_engine) == effective_paths_per_instance(
        {"default": pictures["default"], "dr": changed})
    assert queries.paths_per_instance(igi_engine, first["dr"].finished_at) == effective_paths_per_instance(pictures)

    old, new = strongest_roles(pictures["dr"]), strongest_roles(changed)
    dr_gains = {(second.run_id, "dr", u, s, role, old.get((u, s))) for (u, s), role in new.items()
                if (u, s) not in old or RANK[role.lower()] > RANK[old[(u, s)].lower()]}
    default_gains = {(first["default"].run_id, "default", u, s, role, None)
                     for (u, s), role in strongest_roles(pictures["default"]).items()}  # its first run added all
    with igi_engine.connect() as conn:
        gained = set(conn.execute(sa.text("SELECT run_id, instance, user_id, secret_id, role, previous_role "
                                          "FROM ss_staging.access_gained_last_run")).all())
    assert dr_gains and gained == dr_gains | default_gains
