"""Paging and filters behave as documented: envelope, paging. prefix, case-insensitive names, a cap."""

from __future__ import annotations

from typing import Any

from simulator.server import SimulatorServer
from simulator.state import Organization
from tests.simulator.helpers import get, session, walk

ENVELOPE = ["batchCount", "currentPage", "hasNext", "hasPrev", "nextSkip", "pageCount", "prevSkip", "records",
            "severity", "skip", "sortBy", "success", "take", "total"]


def test_the_envelope_describes_the_page(simulator: SimulatorServer, sim_org: Organization) -> None:
    body = get(simulator, session(simulator), "users", skip=20, take=10, **{"filter.includeInactive": "true"}).json()
    assert sorted(body) == ENVELOPE
    assert (body["skip"], body["take"], body["total"]) == (20, 10, len(sim_org.user_map))
    assert (body["hasNext"], body["hasPrev"], body["nextSkip"], body["prevSkip"]) == (True, True, 30, 10)
    assert (body["currentPage"], body["pageCount"], body["batchCount"]) == (3, 10, 10)
    assert [r["id"] for r in body["records"]] == sorted(sim_org.user_map)[20:30]
    assert body["success"] is True and body["severity"] == "None"


def test_walking_pages_returns_every_record_once(simulator: SimulatorServer, sim_org: Organization) -> None:
    records = walk(simulator, session(simulator), "secrets", take=7, **{"filter.includeInactive": "true"})
    assert [r["id"] for r in records] == sorted(sim_org.secret_map)


def test_take_is_capped_by_the_server(make_simulator: Any) -> None:
    server = make_simulator(page_cap=25)
    client = session(server)
    body = get(server, client, "users", take=1000).json()
    assert body["take"] == 25 and len(body["records"]) == 25 and body["nextSkip"] == 25
    enabled = sorted(u.id for u in server.org.user_map.values() if u.enabled)
    assert [r["id"] for r in walk(server, client, "users", take=2147483647)] == enabled
    assert len(server.calls("GET", "/api/v1/users")) == 1 + -(-len(enabled) // 25)


def test_without_take_a_page_has_ten_records(simulator: SimulatorServer) -> None:
    body = get(simulator, session(simulator), "secrets").json()
    assert body["take"] == 10 and len(body["records"]) == 10


def test_names_bind_case_insensitively_with_or_without_the_paging_prefix(simulator: SimulatorServer,
                                                                           sim_org: Organization) -> None:
    client = session(simulator)
    plain = get(simulator, client, "users", skip=3, take=4, **{"filter.includeInactive": "true"}).json()
    prefixed = get(simulator, client, "users", **{"Paging.Skip": 3, "PAGING.take": 4,
                                                  "paging.Filter.IncludeInactive": "True"}).json()
    assert plain == prefixed
    assert prefixed["total"] == len(sim_org.user_map)


def test_sorting_follows_sortby(simulator: SimulatorServer, sim_org: Organization) -> None:
    body = get(simulator, session(simulator), "groups", take=100,
               **{"sortBy[0].name": "name", "sortBy[0].direction": "Desc"}).json()
    names = [r["name"] for r in body["records"]]
    assert names == sorted(names, key=str.lower, reverse=True)
    assert body["sortBy"] == [{"name": "name", "direction": "Desc", "priority": 0}]


def test_a_malformed_number_is_a_400(simulator: SimulatorServer) -> None:
    answer = get(simulator, session(simulator), "users", take="lots")
    assert answer.status_code == 400 and answer.json()["modelState"] == {"take": ["The value 'lots' is not a "
                                                                                  "valid integer."]}


def test_users_hide_disabled_ones_unless_asked(simulator: SimulatorServer, sim_org: Organization) -> None:
    client = session(simulator)
    default = walk(simulator, client, "users", take=1000)
    everyone = walk(simulator, client, "users", take=1000, **{"filter.includeInactive": "true"})
    corp = walk(simulator, client, "users", take=1000, **{"filter.includeInactive": "true", "filter.domainId": 1})
    assert all(r["enabled"] for r in default)
    assert len(everyone) == len(sim_org.user_map) > len(default)
    assert corp and {r["domainName"] for r in corp} == {"corp.example.com"}
    assert len(corp) == sum(1 for u in sim_org.user_map.values() if u.domain_id == 1)


def test_secret_filters(simulator: SimulatorServer, sim_org: Organization) -> None:
    client = session(simulator)
    root = next(f for f in sim_org.folder_map.values() if f.parent_id == -1 and sim_org.folder_children[f.id])
    below = set(sim_org.descendant_folder_ids(root.id))
    direct = walk(simulator, client, "secrets", take=1000, **{"filter.folderId": root.id})
    deep = walk(simulator, client, "secrets", take=1000,
                **{"filter.folderId": root.id, "filter.includeSubFolders": "true", "filter.includeInactive": "true"})
    assert all(r["folderId"] == root.id and r["active"] for r in direct)
    assert {r["id"] for r in deep} == {s.id for s in sim_org.secret_map.values() if s.folder_id in below}
    inactive_only = walk(simulator, client, "secrets", take=1000,
                         **{"filter.includeInactive": "true", "filter.includeActive": "false"})
    assert inactive_only and not any(r["active"] for r in inactive_only)


def test_permission_filters(simulator: SimulatorServer, sim_org: Organization) -> None:
    client = session(simulator)
    perm = next(iter(sim_org.folder_perms.values()))
    by_folder = walk(simulator, client, "folder-permissions", take=100, **{"filter.folderId": perm.folder_id})
    by_group = walk(simulator, client, "folder-permissions", take=100, **{"filter.groupId": perm.group_id})
    assert {r["folderId"] for r in by_folder} == {perm.folder_id} and perm.id in {r["id"] for r in by_folder}
    assert {r["groupId"] for r in by_group} == {perm.group_id}
    user_perm = next(p for p in sim_org.secret_perms.values() if p.user_id is not None)
    by_user = walk(simulator, client, "secret-permissions", take=100, **{"filter.userId": user_perm.user_id})
    assert user_perm.id in {r["id"] for r in by_user}
    assert all(r["userId"] == user_perm.user_id and r["groupId"] == sim_org.user_map[user_perm.user_id]
               .personal_group_id for r in by_user)


def test_group_members_leave_out_disabled_users_unless_asked(simulator: SimulatorServer,
                                                             sim_org: Organization) -> None:
    client = session(simulator)
    everyone = sim_org.everyone_group_id
    assert everyone is not None
    default = walk(simulator, client, f"groups/{everyone}/users", take=1000)
    full = walk(simulator, client, f"groups/{everyone}/users", take=1000,
                **{"filter.includeInactiveUsersForGroup": "true"})
    assert len(full) == len(sim_org.user_map) > len(default) and all(r["enabled"] for r in default)
