"""After provisioning, staging is what the next reconcile would load: a dry-run reconcile finds nothing."""

from __future__ import annotations

from connectors.igi.queue import Operation as Op
from pipelines.reconcile import run_reconcile
from tests.provision.conftest import rows


def test_reconcile_after_provisioning_finds_nothing_to_change(sim, world, igi_engine, client, enqueue, provision):
    assert run_reconcile(igi_engine, client).ok
    enqueue(Op.ACCOUNT_CREATE, "carol", password="Carol-Pass-1", attributes={"displayName": "Carol C"})
    enqueue(Op.PERMISSION_ADD, "carol", permission_type="group", permission_name="DBAs")
    enqueue(Op.PERMISSION_ADD, "carol", permission_type="folder", permission_name="\\Team\\Unix",
            folder_access_role="Edit", secret_access_role="View", attributes={"breakInheritance": "true"})
    enqueue(Op.PERMISSION_ADD, "alice", permission_type="secret", permission_id=world.secret,
            secret_access_role="Owner")
    enqueue(Op.PERMISSION_ADD, "alice", permission_type="folder", permission_id=world.team,
            folder_access_role="Owner", secret_access_role="Owner")
    enqueue(Op.PERMISSION_REMOVE, "alice", permission_type="folder", permission_id=world.team)
    enqueue(Op.ACCOUNT_MODIFY, "alice", attributes={"displayName": "Alice Changed"})
    enqueue(Op.ACCOUNT_DISABLE, "alice")
    summary = provision()
    assert summary.succeeded == 8, [r.trace for r in summary.results]

    again = run_reconcile(igi_engine, client, dry_run=True)
    assert again.ok
    changes = {name: (s.added, s.changed, s.removed) for name, s in again.stats.items()
               if (s.added, s.changed, s.removed) != (0, 0, 0)}
    assert changes == {}, again.preview[:10]
    # And the provisioning changes are in the change log, tied to their requests.
    logged = rows(igi_engine, "SELECT DISTINCT entity FROM ss_staging.change_log WHERE event_id IS NOT NULL")
    assert {r["entity"] for r in logged} >= {"users", "group_members", "folder_permissions", "folders",
                                              "secret_permissions"}
