"""The fan-outs are extracted side by side with the lists: each as soon as its own parent list is in, while the
lists that follow (one after another) are paged; a failure that ends the run stops what has not started and leaves
nothing running."""

from __future__ import annotations

import itertools
import threading
import time

import sqlalchemy as sa

from connectors.secret_server import AuthenticationError
from pipelines.reconcile import extract_entity, run_reconcile
from simulator.faults import Faults
from tests.reconcile.helpers import ENTITY_NAMES, staging, truth


def _recording(spans: dict[str, tuple[float, float, str]], fail: str | None = None):
    def extract(client, entity_name, parent_ids=None):
        started = time.monotonic()
        if entity_name == fail:
            raise AuthenticationError("Secret Server refused the login for user 'x': HTTP 400 invalid_grant")
        try:
            return extract_entity(client, entity_name, parent_ids)
        finally:
            spans[entity_name] = (started, time.monotonic(), threading.current_thread().name)
    return extract


def test_a_fan_out_starts_as_soon_as_its_parent_list_is_in_while_the_next_lists_are_paged(
        igi_engine, make_simulator, client_for, sim_org):
    server = make_simulator(sim_org, faults=Faults(latency_ms=5))
    client = client_for(server, page_size=10)  # many pages per list, so the lists overlap in time
    spans: dict[str, tuple[float, float, str]] = {}

    summary = run_reconcile(igi_engine, client, extract=_recording(spans))

    assert summary.status == "succeeded", summary.reason()
    assert set(spans) == set(ENTITY_NAMES)
    assert all(thread != threading.main_thread().name for _, _, thread in spans.values())
    # a fan-out waits for its own parent only
    for child, parent in (("group_members", "groups"), ("folder_permissions", "folders"),
                          ("secret_permissions", "secrets")):
        assert spans[child][0] >= spans[parent][1], child
    # the lists one after another; group members read while the folders and secrets are paged
    lists = ["users", "groups", "folders", "secrets"]
    for earlier, later in itertools.pairwise(lists):
        assert spans[later][0] >= spans[earlier][1], later
    assert spans["group_members"][0] < spans["secrets"][1]
    assert staging(igi_engine) == truth(sim_org)  # the same snapshot as one entity after another


def test_a_refused_login_fails_the_run_skips_the_fan_outs_not_started_and_leaves_no_extraction_running(
        igi_engine, ss_client):
    spans: dict[str, tuple[float, float, str]] = {}

    summary = run_reconcile(igi_engine, ss_client, extract=_recording(spans, fail="groups"))

    assert summary.status == "failed" and "refused the login" in (summary.error or "")
    assert "group_members" not in spans  # its parent failed: never started
    assert not [t for t in threading.enumerate() if t.name.startswith("ss-extract")]
    with igi_engine.connect() as conn:
        assert conn.execute(sa.text("SELECT count(*) FROM ss_staging.users")).scalar() == 0  # staging unchanged
