"""Many workers at once: every request executed exactly once, requests of one account in order."""

from __future__ import annotations

import re
import threading
from collections import Counter, defaultdict

from connectors.igi.queue import Operation as Op
from pipelines.provision import ProvisionOptions, ProvisionSummary, run_provisioning
from simulator.state import Organization
from tests.provision.conftest import make_client, rows

EXISTING, NEW = 80, 20


def _org() -> tuple[Organization, dict[str, int], dict[int, int], int, int]:
    org = Organization()
    org.add_everyone_group()
    users, own_group = {}, {}
    for i in range(EXISTING):
        uid = org.add_user(f"user{i:03d}", f"User {i}", password="Initial-1")
        users[f"user{i:03d}"] = uid
        own_group[uid] = org.add_group(f"G{i:03d}")
    folder = org.add_folder("Shared", inherit_permissions=False)
    secret = org.add_secret("shared-secret", folder, inherits_permissions=False)
    return org, users, own_group, folder, secret


def test_four_workers_execute_500_mixed_requests_exactly_once_in_per_account_order(
        igi_engine, make_simulator, passwords, enqueue):
    org, users, own_group, folder, secret = _org()
    server = make_simulator(org)
    plan: list[tuple[int, str, dict]] = []
    for i in range(EXISTING):  # five requests per existing account; each needs exactly one write, in order
        code = f"user{i:03d}"
        plan += [(Op.ACCOUNT_DISABLE, code, {}), (Op.ACCOUNT_ENABLE, code, {}),
                 (Op.PERMISSION_ADD, code, {"permission_type": "group", "permission_name": f"G{i:03d}"}),
                 (Op.PERMISSION_REMOVE, code, {"permission_type": "group", "permission_id": own_group[users[code]]}),
                 (Op.ACCOUNT_MODIFY, code, {"attributes": {"displayName": f"User {i} v2"}})]
    for i in range(NEW):  # five per new account: create first, the rest depends on it
        code = f"new{i:03d}"
        plan += [(Op.ACCOUNT_CREATE, code, {"password": f"First-Pass-{i}", "attributes": {"displayName": code}}),
                 (Op.PERMISSION_ADD, code, {"permission_type": "folder", "permission_id": folder,
                                            "folder_access_role": "View", "secret_access_role": "List"}),
                 (Op.PERMISSION_ADD, code, {"permission_type": "secret", "permission_id": secret,
                                            "secret_access_role": "View"}),
                 (Op.ACCOUNT_PWDCHANGE, code, {"password": f"Second-Pass-{i}"}),
                 (Op.ACCOUNT_DISABLE, code, {})]
    # Enqueue round-robin across accounts, so every batch mixes accounts and the workers contend.
    by_account: dict[str, list] = defaultdict(list)
    for op, code, fields in plan:
        by_account[code].append((op, fields))
    ids: dict[int, tuple[int, str]] = {}
    for step in range(5):
        for code, steps in by_account.items():
            op, fields = steps[step]
            ids[enqueue(op, code, **fields)] = (op, code)
    assert len(ids) == 500
    server.clear_log()

    summaries: list[ProvisionSummary] = []
    lock = threading.Lock()
    options = ProvisionOptions(batch_size=10, lease_seconds=60, max_attempts=3, backoff_seconds=0)

    def worker(n: int) -> None:
        with make_client(server) as client:
            result = run_provisioning(igi_engine, client, passwords, options, worker_id=f"w{n}")
        with lock:
            summaries.append(result)

    threads = [threading.Thread(target=worker, args=(n,)) for n in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=300)

    # Every request final and successful, claimed once, by one of the four workers.
    final = rows(igi_engine, "SELECT event_id, state, attempts, worker_history, trace, password FROM igi.event_out")
    assert Counter(r["state"] for r in final) == {2: 500}, [r for r in final if r["state"] != 2][:5]
    assert all(r["attempts"] == 1 and len(r["worker_history"]) == 1 and r["password"] is None for r in final)
    assert sum(s.succeeded for s in summaries) == 500 and sum(s.lost for s in summaries) == 0
    assert len({r["worker_history"][0] for r in final}) > 1  # the work really was shared

    # Exactly one write per request, by the simulator's request log.
    writes = [(r.method, r.path.removeprefix("/SecretServer/api/v1")) for r in server.request_log
              if r.method in ("POST", "PUT", "PATCH", "DELETE") and "/api/v1/" in r.path]
    assert len(writes) == 500
    kinds = Counter(re.sub(r"\d+", "N", f"{m} {p}") for m, p in writes)
    assert kinds == {"PATCH /users/N": 2 * EXISTING + EXISTING + NEW, "POST /groups/N/users": EXISTING,
                     "DELETE /groups/N/users/N": EXISTING, "POST /users": NEW, "POST /folder-permissions": NEW,
                     "POST /secret-permissions": NEW, "POST /users/N/password-reset": NEW}

    # Per-account order: for each existing account, its writes in the log follow its request order.
    group_owner = {g: u for u, g in own_group.items()}
    seen: dict[int, list[str]] = defaultdict(list)
    for method, path in writes:
        if m := re.fullmatch(r"/users/(\d+)", path):
            seen[int(m.group(1))].append("PATCH")
        elif m := re.fullmatch(r"/groups/(\d+)/users(?:/\d+)?", path):
            seen[group_owner[int(m.group(1))]].append(method)
    for uid in users.values():
        assert seen[uid] == ["PATCH", "PATCH", "POST", "DELETE", "PATCH"], uid
    for code, uid in users.items():
        user = org.user_map[uid]
        assert user.enabled and user.display_name.endswith(" v2") and not org.is_member(own_group[uid], uid), code
    for i in range(NEW):
        created = org.find_user(f"new{i:03d}")
        assert created is not None and not created.enabled and org.check_password(created.id, f"Second-Pass-{i}")

    # Staging agrees with Secret Server for what provisioning touched.
    staged = {r["user_id"]: r for r in rows(igi_engine, "SELECT * FROM ss_staging.users")}
    for user in org.users():
        assert staged[user["id"]]["enabled"] == user["enabled"]
        assert staged[user["id"]]["display_name"] == user["displayName"]
    truth = {p["id"] for p in org.folder_permissions()}
    assert {r["folder_permission_id"] for r in rows(
        igi_engine, "SELECT folder_permission_id FROM ss_staging.folder_permissions WHERE deleted_at IS NULL")} == truth
    truth = {p["id"] for p in org.secret_permissions()}
    assert {r["secret_permission_id"] for r in rows(
        igi_engine, "SELECT secret_permission_id FROM ss_staging.secret_permissions WHERE deleted_at IS NULL")} == truth
