"""Safety: dry runs, removal thresholds, failures during the load, incomplete extraction, scoped runs, re-emit."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

import connectors.igi.events
from connectors.secret_server import SecretServerClient, TransientError
from pipelines.reconcile import run_reconcile
from tests.reconcile.helpers import (
    changes_of,
    events_of,
    expected_permissions,
    full_dump,
    run_row,
    staging,
    truth,
)


class Tampered:
    """A Secret Server client with some methods replaced (everything else goes to the real client)."""

    def __init__(self, client: SecretServerClient, **methods: Any) -> None:
        self._client = client
        self._methods = methods

    def __getattr__(self, name: str) -> Any:
        if name in self._methods:
            return self._methods[name]
        return getattr(self._client, name)


def _remove_users(org, count: int) -> None:
    for user in [u for u in org.users() if not u["isApplicationAccount"]][:count]:
        org.remove_user(user["id"])


def test_a_dry_run_computes_the_full_diff_and_writes_only_its_run_record(igi_engine, ss_client, sim_org):
    run_reconcile(igi_engine, ss_client)
    _remove_users(sim_org, 2)
    sim_org.add_user("dry.new")
    before = full_dump(igi_engine)

    dry = run_reconcile(igi_engine, ss_client, dry_run=True)

    assert dry.ok and dry.dry_run
    assert full_dump(igi_engine) == before
    row = run_row(igi_engine, dry.run_id)
    assert row["dry_run"] and row["status"] == "succeeded"
    assert {"entity": "users", "object_key": str(sim_org.users()[-1]["id"]), "change_type": "added"} in dry.preview
    real = run_reconcile(igi_engine, ss_client)
    assert {k: v.as_dict() for k, v in dry.stats.items()} == {k: v.as_dict() for k, v in real.stats.items()}
    assert dry.events == real.events and dry.events["ACCOUNT_REMOVE"] == 2
    assert row["stats"] == {k: v.as_dict() for k, v in real.stats.items()}


def test_a_run_over_the_removal_threshold_aborts_naming_the_counts_and_changes_nothing(
        igi_engine, ss_client, sim_org):
    run_reconcile(igi_engine, ss_client)
    _remove_users(sim_org, 15)
    before = full_dump(igi_engine)

    aborted = run_reconcile(igi_engine, ss_client)

    assert aborted.status == "aborted" and not aborted.ok
    assert "users: 15 of 100 (15.0%) above max_removal_percent=10" in aborted.error
    assert full_dump(igi_engine) == before
    row = run_row(igi_engine, aborted.run_id)
    assert row["status"] == "aborted" and row["error"] == aborted.error and row["stats"]["users"]["removed"] == 15

    by_count = run_reconcile(igi_engine, ss_client, max_removals=5, max_removal_percent=None)
    assert by_count.status == "aborted" and "max_removals=5" in by_count.error
    assert full_dump(igi_engine) == before

    allowed = run_reconcile(igi_engine, ss_client, max_removal_percent=20)
    assert allowed.ok and allowed.stats["users"].removed == 15
    assert staging(igi_engine) == truth(sim_org)


def test_a_failure_during_the_load_rolls_back_and_records_the_failed_run(
        igi_engine, ss_client, sim_org, monkeypatch):
    run_reconcile(igi_engine, ss_client)
    _remove_users(sim_org, 1)
    sim_org.add_user("late.arrival")
    before = full_dump(igi_engine)

    def explode(*args: Any, **kwargs: Any) -> dict[str, int]:
        raise RuntimeError("injected failure after the staging writes")

    monkeypatch.setattr(connectors.igi.events, "write_events", explode)
    failed = run_reconcile(igi_engine, ss_client)

    assert failed.status == "failed" and "injected failure" in failed.error
    assert full_dump(igi_engine) == before
    row = run_row(igi_engine, failed.run_id)
    assert row["status"] == "failed" and "injected failure" in row["error"] and row["finished_at"]

    monkeypatch.undo()
    assert run_reconcile(igi_engine, ss_client).ok
    assert staging(igi_engine) == truth(sim_org)


def test_an_entity_whose_extraction_failed_is_loaded_but_never_diffed_for_removals(
        igi_engine, ss_client, sim_org):
    run_reconcile(igi_engine, ss_client)
    everyone = sim_org.groups()[0]["id"]
    left_group, left_user = next((g, u) for g, u in sim_org.group_members() if g != everyone)
    sim_org.remove_member(left_group, left_user)
    new_user = sim_org.add_user("during.outage")
    failing_group = next(g["id"] for g in sim_org.groups() if g["id"] not in (everyone, left_group))

    def members(group_id: int) -> Iterator[dict[str, Any]]:
        if group_id == failing_group:
            raise TransientError("HTTP 503 after 6 attempts")
        return ss_client.iter_group_members(group_id)

    summary = run_reconcile(igi_engine, Tampered(ss_client, iter_group_members=members))

    assert summary.status == "partial" and not summary.ok
    assert list(summary.incomplete) == ["group_members"] and "503" in summary.incomplete["group_members"]
    assert summary.stats["group_members"].removed == 0 and not summary.stats["group_members"].complete
    assert summary.stats["group_members"].added == 1  # the new user's "Everyone" membership
    loaded = staging(igi_engine)
    assert (left_group, left_user) in loaded["group_members"]  # not removed: the extraction was incomplete
    assert (new_user,) in loaded["users"]
    assert run_row(igi_engine, summary.run_id)["incomplete"] == summary.incomplete


def test_an_unreachable_secret_server_fails_the_run_and_changes_nothing(igi_engine, ss_client, sim_org):
    run_reconcile(igi_engine, ss_client)
    before = full_dump(igi_engine)
    dead = SecretServerClient("http://127.0.0.1:9/SecretServer", "admin", "admin", max_attempts=1,
                              max_retry_seconds=1, connect_timeout=0.5)
    try:
        failed = run_reconcile(igi_engine, dead)
    finally:
        dead.close()
    assert failed.status == "failed" and "no entity could be extracted" in failed.error
    assert full_dump(igi_engine) == before


def test_a_scoped_run_touches_only_the_entities_it_names(igi_engine, ss_client, sim_org):
    run_reconcile(igi_engine, ss_client)
    before = staging(igi_engine, current=False)
    user = next(u for u in sim_org.users() if u["enabled"])
    sim_org.set_user_enabled(user["id"], False)
    everyone = sim_org.groups()[0]["id"]
    sim_org.remove_member(*next((g, u) for g, u in sim_org.group_members() if g != everyone))
    sim_org.rename_secret(sim_org.secrets()[0]["id"], "renamed secret")

    summary = run_reconcile(igi_engine, ss_client, entities=["users"])

    assert list(summary.stats) == ["users"] and summary.stats["users"].changed == 1
    after = staging(igi_engine, current=False)
    assert {n for n in after if after[n] != before[n]} == {"users"}
    assert {(c["entity"], c["change_type"]) for c in changes_of(igi_engine, summary.run_id)} == {("users", "changed")}
    assert [e["operation"] for e in events_of(igi_engine, summary.run_id)] == [6]

    relations = run_reconcile(igi_engine, ss_client, entities=["group_members", "secrets"])
    assert relations.ok and relations.stats["group_members"].removed == 1 and relations.stats["secrets"].changed == 1
    assert staging(igi_engine) == truth(sim_org)


def test_unknown_entity_names_are_refused(igi_engine, ss_client):
    with pytest.raises(ValueError, match="unknown entity accounts"):
        run_reconcile(igi_engine, ss_client, entities=["users", "accounts"])


def test_reemit_writes_every_account_and_permission_for_a_fresh_igi_without_touching_staging(
        igi_engine, ss_client, sim_org):
    run_reconcile(igi_engine, ss_client)
    before = staging(igi_engine, current=False)

    summary = run_reconcile(igi_engine, ss_client, reemit_events=True)

    assert summary.ok and staging(igi_engine, current=False) == before
    assert changes_of(igi_engine, summary.run_id) == []
    events = events_of(igi_engine, summary.run_id)
    users = sim_org.users()
    assert sum(e["operation"] == 10 for e in events) == len(users)
    assert sum(e["operation"] == 6 for e in events) == sum(not u["enabled"] for u in users)
    assert {(e["code"], e["functionality_type"], e["functionality"]) for e in events
            if e["operation"] == 1} == expected_permissions(sim_org)
    assert {e["operation"] for e in events} == {10, 6, 1}
